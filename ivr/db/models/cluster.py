"""Which controller serves which Stasis application, now (ivr/db/leases.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from ivr.db.models.base import APP_MAX, HOLDER_MAX, NODE_MAX, Base, UtcDateTime


class LeaseRow(Base):
    """A Stasis application's lease: the one controller process that may
    serve its calls until `expires_at`, renewed while it lives."""

    __tablename__ = "leases"

    # The application (one per controller: Asterisk gives a name to one WebSocket).
    app: Mapped[str] = mapped_column(String(APP_MAX), primary_key=True)
    # The node name its own controller records its calls under.
    node: Mapped[str] = mapped_column(String(NODE_MAX))
    # The process serving it now: its own controller, or one that took it
    # over when that died; "" when nobody holds it.
    holder: Mapped[str] = mapped_column(String(HOLDER_MAX))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Its own controller is back and asks for it: whoever holds it hands it back.
    wanted: Mapped[bool] = mapped_column(Boolean())
