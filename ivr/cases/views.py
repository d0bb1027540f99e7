"""What a registered case looks like from outside: the same data for the CLI,
`/api/cases` and the controller (`model_dump(mode="json")` gives ISO
datetimes), and its recording's audio."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from ivr.cases.rules import late_by
from ivr.db.models import CaseEventRow, CaseRow
from ivr.directory.routing import Directory
from ivr.errors import AriError, Gone, NotFound
from ivr.publish.menus import CATEGORIES
from ivr.settings import HOTLINE_TZ


class EventView(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    action: str
    from_status: str | None
    to_status: str
    department: str  # where the case was after it
    from_department: str | None  # where a forwarding took it from
    actor: str
    note: str | None


class CaseView(BaseModel):
    """A case and its history; `model_dump(mode="json")` gives ISO datetimes."""

    model_config = ConfigDict(frozen=True)

    number: str
    source: str
    kind: str
    department: str
    department_name: str
    category: str
    caller: str
    call_id: str | None
    recording: str | None
    recording_seconds: float | None
    # When retention archived or deleted the recording (IVR_RECORDING_RETENTION_DAYS).
    recording_removed_at: datetime | None = None
    urgent: bool
    status: str
    assigned_to: str | None
    created_at: datetime
    received_at: datetime  # by the department it is at now
    due_at: datetime
    updated_at: datetime
    satisfaction: int | None
    events: list[EventView]


class CallerCase(BaseModel):
    """A caller's earlier case, as an operator's screen lists it (no history)."""

    model_config = ConfigDict(frozen=True)

    number: str
    kind: str
    created_at: datetime
    status: str
    category: str
    category_name: str
    department: str
    department_name: str
    due_at: datetime
    urgent: bool


class OverdueView(BaseModel):
    """A late case on a supervising department's list (督办)."""

    model_config = ConfigDict(frozen=True)

    case: CaseView
    late_department: str
    late_department_name: str
    supervisor: str | None  # the late department's parent
    supervisor_name: str
    late_seconds: int
    late_by: str  # "2天3小时"


class RecordingStore(Protocol):
    """Where recordings are kept: Asterisk, through `ivr.ari.client.AriClient`."""

    async def stored_recording_file(self, name: str) -> bytes: ...


async def recording_audio(store: RecordingStore, case: CaseView) -> bytes:
    """The case's recording as Asterisk keeps it (a WAV file), fetched over ARI
    so that Asterisk may run on another host."""
    if case.recording is None:
        raise NotFound(f"case {case.number} has no recording", number=case.number)
    if case.recording_removed_at is not None:
        raise _removed(case, case.recording_removed_at)
    try:
        return await store.stored_recording_file(case.recording)
    except AriError as exc:
        if exc.http_status != 404:
            raise
        raise NotFound(
            f"Asterisk no longer has recording {case.recording} of case {case.number}",
            number=case.number,
            recording=case.recording,
        ) from None


def _removed(case: CaseView, at: datetime) -> Gone:
    archived = any(event.action == "recording_archived" for event in case.events)
    what = "归档并删除" if archived else "删除"
    return Gone(
        f"案件 {case.number} 的录音已按保存期限{what}"
        f"（{at.astimezone(HOTLINE_TZ):%Y-%m-%d %H:%M}）",
        number=case.number,
        recording=case.recording,
        removed_at=at.isoformat(),
        archived=archived,
    )


def department_name(directory: Directory, code: str) -> str:
    """The department's name; "" for a code the directory no longer has."""
    return directory.by_code(code).name if directory.has(code) else ""


def department_zone(directory: Directory, code: str) -> ZoneInfo:
    """The department's own time zone (its deadlines are counted in it); the
    hotline's for a code the directory no longer has."""
    return ZoneInfo(directory.by_code(code).timezone) if directory.has(code) else HOTLINE_TZ


def case_view(directory: Directory, row: CaseRow) -> CaseView:
    """`row` with its events loaded."""
    return CaseView(
        number=row.number,
        source=row.source,
        kind=row.kind,
        department=row.department_code,
        department_name=department_name(directory, row.department_code),
        category=row.category,
        caller=row.caller,
        call_id=row.call_id,
        recording=row.recording,
        recording_seconds=row.recording_seconds,
        recording_removed_at=row.recording_removed_at,
        urgent=row.urgent,
        status=row.status,
        assigned_to=row.assigned_to,
        created_at=row.created_at,
        received_at=row.received_at,
        due_at=row.due_at,
        updated_at=row.updated_at,
        satisfaction=row.satisfaction,
        events=[_event_view(event) for event in row.events],
    )


def caller_case(directory: Directory, row: CaseRow) -> CallerCase:
    """`row` without its events."""
    return CallerCase(
        number=row.number,
        kind=row.kind,
        created_at=row.created_at,
        status=row.status,
        category=row.category,
        category_name=CATEGORIES.get(row.category, ""),
        department=row.department_code,
        department_name=department_name(directory, row.department_code),
        due_at=row.due_at,
        urgent=row.urgent,
    )


def overdue_view(directory: Directory, row: CaseRow, now: datetime) -> OverdueView:
    code = row.department_code
    parent = directory.by_code(code).parent if directory.has(code) else None
    seconds = int((now - row.due_at).total_seconds())
    return OverdueView(
        case=case_view(directory, row),
        late_department=code,
        late_department_name=department_name(directory, code),
        supervisor=parent,
        supervisor_name=department_name(directory, parent) if parent else "",
        late_seconds=seconds,
        late_by=late_by(seconds),
    )


def _event_view(event: CaseEventRow) -> EventView:
    return EventView(
        at=event.at,
        action=event.action,
        from_status=event.from_status,
        to_status=event.to_status,
        department=event.department_code,
        from_department=event.from_department,
        actor=event.actor,
        note=event.note,
    )
