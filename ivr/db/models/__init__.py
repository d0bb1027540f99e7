"""The records store's tables, by area; every name importable from here.

The schema is also written out by hand in `migrations/versions/`; a test
compares the two with alembic's autogenerate, so change both together.
Alembic's env and the migrations import `ivr.db.models`: importing it maps
every table.
"""

from __future__ import annotations

from sqlalchemy import Table

from ivr.db.models.base import (
    ACTOR_MAX,
    ADDRESS_MAX,
    APP_MAX,
    AREA_CODE_MAX,
    AUDIT_ACTION_MAX,
    AUDIT_TARGET_MAX,
    CALLER_MAX,
    CASE_ACTION_MAX,
    CASE_NOTE_MAX,
    CASE_NUMBER_MAX,
    CASE_SOURCE_MAX,
    CATEGORY_MAX,
    CONFIG_KIND_MAX,
    DEPARTMENT_CODE_MAX,
    DEPARTMENT_NAME_MAX,
    DIALED_MAX,
    DIVISION_CODE_LENGTH,
    END_REASON_MAX,
    FILE_NAME_MAX,
    HOLDER_MAX,
    ID_MAX,
    IMPORT_SOURCE_MAX,
    LEVEL_MAX,
    MD5_HEX,
    NAMING_CONVENTION,
    NODE_MAX,
    NOTE_MAX,
    OPERATOR_ID_MAX,
    OPERATOR_NAME_MAX,
    PASSWORD_HASH_MAX,
    PAUSE_REASON_MAX,
    PROMPT_ID_MAX,
    ROLE_MAX,
    ROUTE_READ_MAX,
    ROUTE_RULE_MAX,
    SCOPE_MAX,
    SHA256_HEX,
    SIP_CALL_ID_MAX,
    SIP_URI_MAX,
    STATUS_MAX,
    STEP_KIND_MAX,
    STEP_VALUE_MAX,
    TIMEZONE_MAX,
    URL_MAX,
    USERNAME_MAX,
    Base,
    UtcDateTime,
)
from ivr.db.models.calls import PAGE_STEP, Call, CallStep
from ivr.db.models.cases import (
    CaseEventRow,
    CaseRow,
    EscalationRow,
    MessageRow,
    SurveyRow,
    WebhookDeliveryRow,
)
from ivr.db.models.cluster import LeaseRow
from ivr.db.models.desk import (
    OperatorDepartmentRow,
    OperatorEventRow,
    OperatorPhoneRow,
    OperatorRow,
    QueueEntryRow,
)
from ivr.db.models.directory import DepartmentRow, DirectoryImport, MobileRangeRow
from ivr.db.models.published import (
    AudioRow,
    ConfigDraftRow,
    ConfigVersionRow,
    PromptUploadRow,
)
from ivr.db.models.users import AuditRow, SignInAttemptRow, UserRow, WebSessionRow

calls_table: Table = Base.metadata.tables["calls"]
call_steps_table: Table = Base.metadata.tables["call_steps"]
departments_table: Table = Base.metadata.tables["departments"]
mobile_ranges_table: Table = Base.metadata.tables["mobile_ranges"]
directory_imports_table: Table = Base.metadata.tables["directory_imports"]
operators_table: Table = Base.metadata.tables["operators"]
operator_departments_table: Table = Base.metadata.tables["operator_departments"]
operator_events_table: Table = Base.metadata.tables["operator_events"]
operator_phones_table: Table = Base.metadata.tables["operator_phones"]
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
leases_table: Table = Base.metadata.tables["leases"]
escalations_table: Table = Base.metadata.tables["escalations"]
webhook_deliveries_table: Table = Base.metadata.tables["webhook_deliveries"]
sign_in_attempts_table: Table = Base.metadata.tables["sign_in_attempts"]

__all__ = [
    "ACTOR_MAX",
    "ADDRESS_MAX",
    "APP_MAX",
    "AREA_CODE_MAX",
    "AUDIT_ACTION_MAX",
    "AUDIT_TARGET_MAX",
    "CALLER_MAX",
    "CASE_ACTION_MAX",
    "CASE_NOTE_MAX",
    "CASE_NUMBER_MAX",
    "CASE_SOURCE_MAX",
    "CATEGORY_MAX",
    "CONFIG_KIND_MAX",
    "DEPARTMENT_CODE_MAX",
    "DEPARTMENT_NAME_MAX",
    "DIALED_MAX",
    "DIVISION_CODE_LENGTH",
    "END_REASON_MAX",
    "FILE_NAME_MAX",
    "HOLDER_MAX",
    "ID_MAX",
    "IMPORT_SOURCE_MAX",
    "LEVEL_MAX",
    "MD5_HEX",
    "NAMING_CONVENTION",
    "NODE_MAX",
    "NOTE_MAX",
    "OPERATOR_ID_MAX",
    "OPERATOR_NAME_MAX",
    "PAGE_STEP",
    "PASSWORD_HASH_MAX",
    "PAUSE_REASON_MAX",
    "PROMPT_ID_MAX",
    "ROLE_MAX",
    "ROUTE_READ_MAX",
    "ROUTE_RULE_MAX",
    "SCOPE_MAX",
    "SHA256_HEX",
    "SIP_CALL_ID_MAX",
    "SIP_URI_MAX",
    "STATUS_MAX",
    "STEP_KIND_MAX",
    "STEP_VALUE_MAX",
    "TIMEZONE_MAX",
    "URL_MAX",
    "USERNAME_MAX",
    "AudioRow",
    "AuditRow",
    "Base",
    "Call",
    "CallStep",
    "CaseEventRow",
    "CaseRow",
    "ConfigDraftRow",
    "ConfigVersionRow",
    "DepartmentRow",
    "DirectoryImport",
    "EscalationRow",
    "LeaseRow",
    "MessageRow",
    "MobileRangeRow",
    "OperatorDepartmentRow",
    "OperatorEventRow",
    "OperatorPhoneRow",
    "OperatorRow",
    "PromptUploadRow",
    "QueueEntryRow",
    "SignInAttemptRow",
    "SurveyRow",
    "UserRow",
    "UtcDateTime",
    "WebSessionRow",
    "WebhookDeliveryRow",
    "audio_table",
    "audit_table",
    "call_steps_table",
    "calls_table",
    "case_events_table",
    "cases_table",
    "config_drafts_table",
    "config_versions_table",
    "departments_table",
    "directory_imports_table",
    "escalations_table",
    "leases_table",
    "messages_table",
    "mobile_ranges_table",
    "operator_departments_table",
    "operator_events_table",
    "operator_phones_table",
    "operators_table",
    "prompt_uploads_table",
    "queue_entries_table",
    "sign_in_attempts_table",
    "surveys_table",
    "users_table",
    "web_sessions_table",
    "webhook_deliveries_table",
]
