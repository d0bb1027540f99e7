"""What every table shares: the column widths, the constraint names, the
timezone-aware time type, and the declarative `Base`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Column widths. Text from outside (caller id, SIP Call-ID) is cut to these
# before it is written, so an odd caller never makes a write fail.
ID_MAX = 128
SIP_CALL_ID_MAX = 255
NODE_MAX = 64
APP_MAX = 64  # a Stasis application's name (Settings.ari_app)
HOLDER_MAX = 96  # a controller process: node name, pid, random
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
URL_MAX = 1024  # a webhook's address

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
