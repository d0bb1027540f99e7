"""The records of calls (one row per call, one row per thing that happened in
it) and the department directory the controllers route by.

The schema is also written out by hand in `migrations/versions/`; a test
compares the two with alembic's autogenerate, so change both together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Column widths. Text from outside (caller id, SIP Call-ID) is cut to these
# before it is written, so an odd caller never makes a write fail.
ID_MAX = 128
SIP_CALL_ID_MAX = 255
NODE_MAX = 64
CALLER_MAX = 128
DIALED_MAX = 64
DEPARTMENT_CODE_MAX = 32
DEPARTMENT_NAME_MAX = 128
ROUTE_RULE_MAX = 32
ROUTE_READ_MAX = 64
END_REASON_MAX = 64
STEP_KIND_MAX = 16
OPERATOR_ID_MAX = 64
OPERATOR_NAME_MAX = 64
STATUS_MAX = 16
PAUSE_REASON_MAX = 200
STEP_VALUE_MAX = 255
DIVISION_CODE_LENGTH = 6
LEVEL_MAX = 16
AREA_CODE_MAX = 8
TIMEZONE_MAX = 64
IMPORT_SOURCE_MAX = 1024
SIP_URI_MAX = 255
MD5_HEX = 32
CASE_NUMBER_MAX = 32
CASE_SOURCE_MAX = 160
CATEGORY_MAX = 32
ACTOR_MAX = 64
CASE_ACTION_MAX = 32
CASE_NOTE_MAX = 2000  # checked in code: the column is Text
USERNAME_MAX = 64
ROLE_MAX = 32
PASSWORD_HASH_MAX = 255
SHA256_HEX = 64
AUDIT_ACTION_MAX = 48
AUDIT_TARGET_MAX = 160
ADDRESS_MAX = 64
CONFIG_KIND_MAX = 16
SCOPE_MAX = 16  # "national" or a division code
PROMPT_ID_MAX = 96
FILE_NAME_MAX = 160
NOTE_MAX = 500  # a publication's note; checked in code: the column is Text

# Deterministic constraint names, the same on every database, so the
# hand-written migration can name them and alembic can compare them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL keeps `timestamptz`; SQLite has no timezone support, so values
    are stored there as naive UTC text (which also keeps them sortable) and
    made aware again when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: records are timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Call(Base):
    __tablename__ = "calls"

    # The controller's own id for the call: the Asterisk channel id or a uuid.
    id: Mapped[str] = mapped_column(String(ID_MAX), primary_key=True)
    sip_call_id: Mapped[str | None] = mapped_column(String(SIP_CALL_ID_MAX), index=True)
    node: Mapped[str] = mapped_column(String(NODE_MAX))
    # The caller id exactly as received: may be empty, "anonymous" or letters.
    caller: Mapped[str] = mapped_column(String(CALLER_MAX))
    dialed: Mapped[str] = mapped_column(String(DIALED_MAX))
    department_code: Mapped[str] = mapped_column(String(DEPARTMENT_CODE_MAX))
    department_name: Mapped[str] = mapped_column(String(DEPARTMENT_NAME_MAX))
    route_rule: Mapped[str] = mapped_column(String(ROUTE_RULE_MAX))
    route_read: Mapped[str] = mapped_column(String(ROUTE_READ_MAX))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    end_reason: Mapped[str | None] = mapped_column(String(END_REASON_MAX))
    # Enough of the call flow's state for another controller to take the call
    # back after a crash.
    flow_state: Mapped[dict[str, Any] | None] = mapped_column(JSON())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    steps: Mapped[list[CallStep]] = relationship(
        back_populates="call",
        order_by="CallStep.seq",
        lazy="raise",
        passive_deletes=True,
    )
    # The call's place in an operator queue, if it joined one.
    queue_entry: Mapped[QueueEntryRow | None] = relationship(
        primaryjoin="foreign(QueueEntryRow.call_id) == Call.id",
        viewonly=True,
        uselist=False,
        lazy="raise",
    )


class CallStep(Base):
    __tablename__ = "call_steps"
    __table_args__ = (UniqueConstraint("call_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    # Order within the call, from 1.
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    # "prompt", "key", "route" or "note".
    kind: Mapped[str] = mapped_column(String(STEP_KIND_MAX))
    value: Mapped[str] = mapped_column(String(STEP_VALUE_MAX))
    # A prompt's playback outcome ("done", "failed", "stopped") or free text.
    detail: Mapped[str | None] = mapped_column(Text())

    call: Mapped[Call] = relationship(back_populates="steps", lazy="raise")


class DepartmentRow(Base):
    """One department of the directory: the columns of routing/departments.csv."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(DEPARTMENT_NAME_MAX))
    short_name: Mapped[str] = mapped_column(String(DEPARTMENT_NAME_MAX))
    level: Mapped[str] = mapped_column(String(LEVEL_MAX))
    parent: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), index=True)
    area_code: Mapped[str | None] = mapped_column(String(AREA_CODE_MAX))
    answers: Mapped[bool] = mapped_column(Boolean())
    timezone: Mapped[str] = mapped_column(String(TIMEZONE_MAX))


class MobileRangeRow(Base):
    """Mobile prefixes `first` to `last` (7 digits, both included) reach a department."""

    __tablename__ = "mobile_ranges"

    first: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)


class DirectoryImport(Base):
    """When a directory was imported, from what, and how much."""

    __tablename__ = "directory_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The file the departments came from.
    source: Mapped[str] = mapped_column(String(IMPORT_SOURCE_MAX))
    # Package -> version the mobile ranges were computed with.
    packages: Mapped[dict[str, str]] = mapped_column(JSON())
    departments: Mapped[int] = mapped_column(Integer)
    area_codes: Mapped[int] = mapped_column(Integer)
    mobile_ranges: Mapped[int] = mapped_column(Integer)


class OperatorRow(Base):
    """An operator and the status they are in now (ivr/desk/operators.py)."""

    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(OPERATOR_ID_MAX), primary_key=True)
    name: Mapped[str] = mapped_column(String(OPERATOR_NAME_MAX))
    endpoint: Mapped[str] = mapped_column(String(OPERATOR_ID_MAX), unique=True)
    status: Mapped[str] = mapped_column(String(STATUS_MAX))
    status_since: Mapped[datetime] = mapped_column(UtcDateTime())
    pause_reason: Mapped[str | None] = mapped_column(String(PAUSE_REASON_MAX))
    # Where the phone is when it does not register (a desk phone at a fixed
    # address); null: where it registered.
    sip_contact: Mapped[str | None] = mapped_column(String(SIP_URI_MAX))
    # md5(endpoint:realm:password) for the phone's SIP digest; never the password.
    sip_md5: Mapped[str | None] = mapped_column(String(MD5_HEX))


class OperatorDepartmentRow(Base):
    """An operator answers for a department. No foreign key to `departments`: an
    import replaces the directory wholesale, and must not need the operators gone."""

    __tablename__ = "operator_departments"

    operator_id: Mapped[str] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True
    )
    department_code: Mapped[str] = mapped_column(
        String(DIVISION_CODE_LENGTH), primary_key=True, index=True
    )


class OperatorEventRow(Base):
    """Every action an operator went through: the day's counts come from here."""

    __tablename__ = "operator_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operator_id: Mapped[str] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    action: Mapped[str] = mapped_column(String(STATUS_MAX))
    status: Mapped[str] = mapped_column(String(STATUS_MAX))  # the status after it
    call_id: Mapped[str | None] = mapped_column(String(ID_MAX))
    detail: Mapped[str | None] = mapped_column(Text())


class QueueEntryRow(Base):
    """A call's place in a department's queue, from joining to its outcome.

    Shared by every controller: the oldest entry of a department is served
    first whichever controller holds it, and a restarted controller finds
    its callers' places here."""

    __tablename__ = "queue_entries"

    call_id: Mapped[str] = mapped_column(String(ID_MAX), primary_key=True)
    department_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH), index=True)
    node: Mapped[str] = mapped_column(String(NODE_MAX))
    caller: Mapped[str] = mapped_column(String(CALLER_MAX))
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    position: Mapped[int] = mapped_column(Integer)  # at entry; 1 is next
    # waiting, ringing, connected, done, abandoned, message, callback, calling_back,
    # callback_failed
    status: Mapped[str] = mapped_column(String(STATUS_MAX), index=True)
    # Each offer: {"operator", "at", "outcome"} (answered, no_answer, caller_left).
    offers: Mapped[list[dict[str, Any]]] = mapped_column(JSON())
    operator_id: Mapped[str | None] = mapped_column(String(OPERATOR_ID_MAX))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer)  # callbacks tried
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MessageRow(Base):
    """A message a caller left: the recording's name in Asterisk, and whose it is."""

    __tablename__ = "messages"

    name: Mapped[str] = mapped_column(String(ID_MAX), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(ID_MAX), index=True)
    department_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH))
    caller: Mapped[str] = mapped_column(String(CALLER_MAX))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # Set when the recording ends; a message whose call dropped mid-way is kept.
    seconds: Mapped[float | None] = mapped_column(Float())
    status: Mapped[str] = mapped_column(String(STATUS_MAX))  # recording, saved, failed
    # The first recording of the caller's message: its case's source. A
    # recording made again replaces the recording of the same case.
    source: Mapped[str] = mapped_column(String(ID_MAX), server_default="")
    category: Mapped[str] = mapped_column(String(CATEGORY_MAX), server_default="")


class CaseRow(Base):
    """A registered case (登记): a message or a callback request someone must handle."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_department_code_status", "department_code", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # What people quote: the local creation date and the id, 20261124-000123.
    number: Mapped[str] = mapped_column(String(CASE_NUMBER_MAX), unique=True)
    # What created it (a recording's name, `callback:<call id>`): registering
    # the same source twice finds the first case.
    source: Mapped[str] = mapped_column(String(CASE_SOURCE_MAX), unique=True)
    kind: Mapped[str] = mapped_column(String(STATUS_MAX))  # message, callback
    department_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH))
    category: Mapped[str] = mapped_column(String(CATEGORY_MAX))  # "" if none
    caller: Mapped[str] = mapped_column(String(CALLER_MAX))
    call_id: Mapped[str | None] = mapped_column(String(ID_MAX), index=True)
    recording: Mapped[str | None] = mapped_column(String(ID_MAX))
    recording_seconds: Mapped[float | None] = mapped_column(Float())
    urgent: Mapped[bool] = mapped_column(Boolean())
    status: Mapped[str] = mapped_column(String(STATUS_MAX))
    assigned_to: Mapped[str | None] = mapped_column(String(OPERATOR_ID_MAX))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # When the department it is at now got it: creation, or the last forwarding.
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 1, 2, 3 as in surveys

    events: Mapped[list[CaseEventRow]] = relationship(
        back_populates="case", order_by="CaseEventRow.id", lazy="raise", passive_deletes=True
    )


class CaseEventRow(Base):
    """Everything that happened to a case, in order: its history is never rewritten."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    action: Mapped[str] = mapped_column(String(CASE_ACTION_MAX))
    from_status: Mapped[str | None] = mapped_column(String(STATUS_MAX))
    to_status: Mapped[str] = mapped_column(String(STATUS_MAX))
    # The department the case was at after the event; a forwarding keeps the
    # one it left in `from_department`.
    department_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH))
    from_department: Mapped[str | None] = mapped_column(String(DIVISION_CODE_LENGTH))
    actor: Mapped[str] = mapped_column(String(ACTOR_MAX))
    note: Mapped[str | None] = mapped_column(Text())

    case: Mapped[CaseRow] = relationship(back_populates="events", lazy="raise")


class SurveyRow(Base):
    """A caller's answer to the satisfaction survey: 1 satisfied, 2 fair, 3 dissatisfied."""

    __tablename__ = "surveys"

    call_id: Mapped[str] = mapped_column(String(ID_MAX), primary_key=True)
    department_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH))
    kind: Mapped[str] = mapped_column(String(STATUS_MAX))  # operator, case
    score: Mapped[int] = mapped_column(Integer)
    operator_id: Mapped[str | None] = mapped_column(String(OPERATOR_ID_MAX))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class UserRow(Base):
    """Someone who signs in to the admin web (or a script with an API token)."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(USERNAME_MAX), primary_key=True)
    name: Mapped[str] = mapped_column(String(OPERATOR_NAME_MAX))
    role: Mapped[str] = mapped_column(String(ROLE_MAX))
    # None for a national admin or auditor: the whole country.
    department_code: Mapped[str | None] = mapped_column(String(DIVISION_CODE_LENGTH))
    include_sub: Mapped[bool] = mapped_column(Boolean())
    password_hash: Mapped[str] = mapped_column(String(PASSWORD_HASH_MAX))
    # sha256 of the API token, if the user has one; the token itself is shown once.
    token_hash: Mapped[str | None] = mapped_column(String(SHA256_HEX), unique=True)
    disabled: Mapped[bool] = mapped_column(Boolean())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebSessionRow(Base):
    """A signed-in browser. Only the token's hash is kept: a copy of the table
    signs no one in. Any controller serves any session (the database has them)."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(SHA256_HEX), primary_key=True)
    username: Mapped[str] = mapped_column(
        ForeignKey("users.username", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(SHA256_HEX))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Idle expiry, pushed back by use; never past `ends_at`.
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    address: Mapped[str] = mapped_column(String(ADDRESS_MAX))


class AuditRow(Base):
    """One change made (or refused) through the admin web or API: who, when,
    what before, what after. Rows are only ever added."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(USERNAME_MAX))
    role: Mapped[str] = mapped_column(String(ROLE_MAX))
    action: Mapped[str] = mapped_column(String(AUDIT_ACTION_MAX))
    scope: Mapped[str] = mapped_column(String(SCOPE_MAX), index=True)
    target: Mapped[str] = mapped_column(String(AUDIT_TARGET_MAX))
    outcome: Mapped[str] = mapped_column(String(STATUS_MAX))  # ok, denied
    before: Mapped[Any] = mapped_column(JSON(), nullable=True)
    after: Mapped[Any] = mapped_column(JSON(), nullable=True)
    address: Mapped[str] = mapped_column(String(ADDRESS_MAX))


class ConfigVersionRow(Base):
    """A published version of one scope's menu or working hours. The newest
    of a (kind, scope) is the one in force; restoring adds a copy, so history
    only grows and the highest id tells controllers something changed."""

    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("kind", "scope", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(CONFIG_KIND_MAX))  # menu, hours
    scope: Mapped[str] = mapped_column(String(SCOPE_MAX))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per kind and scope
    body: Mapped[Any] = mapped_column(JSON())
    # A menu version's rendered texts: generated prompt id -> sha256 of its audio.
    prompts: Mapped[Any] = mapped_column(JSON())
    published_by: Mapped[str] = mapped_column(String(USERNAME_MAX))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime())
    note: Mapped[str] = mapped_column(Text())
    restored_from: Mapped[int | None] = mapped_column(Integer)


class ConfigDraftRow(Base):
    """Work in progress on a scope's menu: one draft per scope, shared by its admins."""

    __tablename__ = "config_drafts"

    kind: Mapped[str] = mapped_column(String(CONFIG_KIND_MAX), primary_key=True)
    scope: Mapped[str] = mapped_column(String(SCOPE_MAX), primary_key=True)
    body: Mapped[Any] = mapped_column(JSON())
    base_number: Mapped[int | None] = mapped_column(Integer)  # the version it started from
    updated_by: Mapped[str] = mapped_column(String(USERNAME_MAX))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AudioRow(Base):
    """Prompt audio made outside a build (published texts, uploads), by content,
    so that every controller plays the same bytes."""

    __tablename__ = "audio"

    sha256: Mapped[str] = mapped_column(String(SHA256_HEX), primary_key=True)
    wav: Mapped[bytes] = mapped_column(LargeBinary())
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PromptUploadRow(Base):
    """A recording an admin uploaded or recorded, under the id a node's `prompt` names."""

    __tablename__ = "prompt_uploads"

    prompt_id: Mapped[str] = mapped_column(String(PROMPT_ID_MAX), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("audio.sha256"))
    scope: Mapped[str] = mapped_column(String(SCOPE_MAX), index=True)
    file_name: Mapped[str] = mapped_column(String(FILE_NAME_MAX))
    source_format: Mapped[str] = mapped_column(String(CONFIG_KIND_MAX))
    created_by: Mapped[str] = mapped_column(String(USERNAME_MAX))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


calls_table: Table = Base.metadata.tables["calls"]
call_steps_table: Table = Base.metadata.tables["call_steps"]
departments_table: Table = Base.metadata.tables["departments"]
mobile_ranges_table: Table = Base.metadata.tables["mobile_ranges"]
directory_imports_table: Table = Base.metadata.tables["directory_imports"]
operators_table: Table = Base.metadata.tables["operators"]
operator_departments_table: Table = Base.metadata.tables["operator_departments"]
operator_events_table: Table = Base.metadata.tables["operator_events"]
queue_entries_table: Table = Base.metadata.tables["queue_entries"]
messages_table: Table = Base.metadata.tables["messages"]
cases_table: Table = Base.metadata.tables["cases"]
case_events_table: Table = Base.metadata.tables["case_events"]
surveys_table: Table = Base.metadata.tables["surveys"]
users_table: Table = Base.metadata.tables["users"]
web_sessions_table: Table = Base.metadata.tables["web_sessions"]
audit_table: Table = Base.metadata.tables["audit_log"]
config_versions_table: Table = Base.metadata.tables["config_versions"]
config_drafts_table: Table = Base.metadata.tables["config_drafts"]
audio_table: Table = Base.metadata.tables["audio"]
prompt_uploads_table: Table = Base.metadata.tables["prompt_uploads"]
