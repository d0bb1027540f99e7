"""The records store: calls and their steps, written off the call path; and
the tables every other part keeps its records in.

- `models`: the tables, a module per area (calls, directory, desk, cases,
  users, published, cluster), every name importable from `ivr.db.models`.
- `engine`: `make_engine(url)`, `make_sessionmaker(engine)`, `count_errors`
  (the database's errors as a metric).
- `migrate`: `await upgrade(url)` brings the schema to the latest revision;
  `migrated_sessions(url)` (and `migrated_session`) migrate, then open sessions.
- `audit`: the audit log, written by the admin web and by publishing.
- `recorder`: `Recorder`, the non-blocking, batching writer the call path uses.
- `queries`: reads for the HTTP API and for taking calls back after a crash.
- `leases`: which controller process serves which Stasis application.

May import: `ivr.errors`, `ivr.settings`, `ivr.metrics`. Nothing above it.
"""

from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import migrated_session, migrated_sessions, upgrade
from ivr.db.queries import (
    CallView,
    StepView,
    find_by_sip_call_id,
    get_call,
    open_calls,
    recent_calls,
)
from ivr.db.recorder import Recorder, RecorderStats

__all__ = [
    "CallView",
    "Recorder",
    "RecorderStats",
    "StepView",
    "find_by_sip_call_id",
    "get_call",
    "make_engine",
    "make_sessionmaker",
    "migrated_session",
    "migrated_sessions",
    "open_calls",
    "recent_calls",
    "upgrade",
]
