"""The records store: calls and their steps, written off the call path; and the
department directory the controllers route by.

- `engine`: `make_engine(url)`, `make_sessionmaker(engine)`.
- `migrate`: `await upgrade(url)` brings the schema to the latest revision.
- `recorder`: `Recorder`, the non-blocking, batching writer the call path uses.
- `queries`: reads for the HTTP API and for taking calls back after a crash.
- `directory`: import, load and export the directory (departments, mobile ranges).
"""

from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade
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
    "open_calls",
    "recent_calls",
    "upgrade",
]
