"""The controller's log lines: text or JSON, each about a call tagged with it.

Theory of operation. Every line about a call carries the call's id (its
channel's, which is Asterisk's UNIQUEID), its SIP Call-ID and the department
it is at, so one `grep` of a Call-ID finds the call's whole story
(docs/operations.md). A call's `CallTag` says those three; the call owns it
and the runner changes its department as the call moves, so every line
tagged with it says where the call is now. The tag reaches the log records
through a context variable:

- a call's own task enters its tag when it starts (`enter_call`): asyncio
  gives every task a copy of the context, so two calls never see each
  other's, and every line the task logs, down to the desk and the cases,
  is the call's;
- code that works for a call outside its task (a message's end reported
  after the caller hung up, recovery, a callback) says so around that work
  (`about_call`);
- `CallFilter`, on the one handler `configure` installs, copies the current
  tag into each record; the formatters write it: a short suffix in text,
  fields in JSON.

Nothing is passed down for it and no logging call changes: lines from
modules that know nothing of calls are tagged all the same.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass
class CallTag:
    """What tells a call's lines apart: its id, its SIP Call-ID, where it is."""

    call_id: str
    sip_call_id: str = ""
    department: str = ""


_current: ContextVar[CallTag | None] = ContextVar("ivr_call", default=None)


def enter_call(tag: CallTag) -> None:
    """In a call's own task: its lines are the call's from here to the task's end."""
    _current.set(tag)


@contextmanager
def about_call(tag: CallTag | None) -> Iterator[None]:
    """Work for a call outside its task: the lines logged inside are the call's."""
    token = _current.set(tag)
    try:
        yield
    finally:
        _current.reset(token)


class CallFilter(logging.Filter):
    """Copies the current call's tag into each record (`call_id`,
    `sip_call_id`, `department`; empty strings outside a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        tag = _current.get()
        record.call_id = tag.call_id if tag else ""
        record.sip_call_id = tag.sip_call_id if tag else ""
        record.department = tag.department if tag else ""
        return True


class TextFormatter(logging.Formatter):
    """The plain format, with `[call=… sip=… dept=…]` after a call's message."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        call_id = getattr(record, "call_id", "")
        if not call_id:
            return line
        sip = getattr(record, "sip_call_id", "") or "-"
        department = getattr(record, "department", "") or "-"
        return f"{line} [call={call_id} sip={sip} dept={department}]"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message,
    the controller's node, the call's fields when about a call, and the
    exception's traceback when there is one."""

    def __init__(self, node: str = "") -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, str] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.node:
            line["node"] = self.node
        for name in ("call_id", "sip_call_id", "department"):
            value = getattr(record, name, "")
            if value:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # json escapes every newline, so a record is one line whatever it
        # holds (a traceback, a caller's odd number); Chinese stays readable.
        return json.dumps(line, ensure_ascii=False)


def handler(
    log_format: LogFormat, node: str = "", stream: TextIO | None = None
) -> logging.Handler:
    """A handler writing `log_format` to `stream` (stderr), each record tagged
    with its call."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter(node) if log_format == "json" else TextFormatter())
    out.addFilter(CallFilter())
    return out


def configure(log_format: LogFormat, level: int, node: str = "") -> None:
    """The process's logging, once at start-up: every logger's lines go
    through one handler on stderr. A root logger that has handlers already
    (a test runner's) is left as it is, as `logging.basicConfig` does."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(handler(log_format, node))
    root.setLevel(level)
