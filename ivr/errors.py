"""One hierarchy for every error the platform raises on purpose.

`IvrError` is the root. `ConfigError` and `DataError` are ours to fix;
`RemoteError` and its children are the other side's doing (Asterisk, the
database, a SIP peer) and are usually worth retrying. Each carries a stable
`error_id` so that API answers and logs can be matched without parsing text.
`explain` turns pydantic's validation errors into the sentence a `DataError` says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class IvrError(Exception):
    error_id = "ivr_error"
    status = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_json(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}

    def http_headers(self) -> dict[str, str]:
        """Headers an HTTP answer of this error carries (a 429's Retry-After)."""
        return {}


class ConfigError(IvrError):
    """A setting or a data file is wrong: fail loudly at start-up."""

    error_id = "config_error"


class DataError(IvrError):
    """Input from a person (CLI, API) that cannot be used."""

    error_id = "invalid_input"
    status = 400


class NotFound(IvrError):
    error_id = "not_found"
    status = 404


class Gone(IvrError):
    """It was there and was removed on purpose (a recording past its
    retention): asking again will not bring it back."""

    error_id = "gone"
    status = 410


class Conflict(IvrError):
    """The change collides with the state someone else made first (a taken
    name, a version published meanwhile): look again and retry."""

    error_id = "conflict"
    status = 409


class RemoteError(IvrError):
    """Something outside this process failed: Asterisk, SIPp, a database."""

    error_id = "remote_error"
    status = 502


class AriError(RemoteError):
    """Asterisk's REST interface refused or failed a request."""

    error_id = "ari_error"

    def __init__(self, message: str, *, http_status: int | None = None, **details: Any) -> None:
        super().__init__(message, http_status=http_status, **details)
        self.http_status = http_status


class AriUnavailable(AriError):
    """No connection to Asterisk at all (down, restarting, refusing sessions)."""

    error_id = "ari_unavailable"
    status = 503


class AsteriskError(RemoteError):
    """Starting, stopping or configuring the local Asterisk failed."""

    error_id = "asterisk_error"


def explain(exc: ValidationError) -> str:
    """pydantic's errors as one sentence a person reads (a DataError's message)."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
    )
