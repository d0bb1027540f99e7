"""Operators' phones: what a feature code does to its operator, and the
endpoint Asterisk knows the phone by.

Theory of operation. An operator's phone is a PJSIP endpoint named after
the operator's `endpoint`; the desk pushes it to Asterisk (`push_phone`)
after every connect, from the operators table, so an operator added with
`ivr operators add` can sign in a second later without touching Asterisk's
files. A phone dials a feature code (`*21` sign in, `*22` pause, `*22N`
pause for reason N, `*23` resume, `*24` sign out); `move_by_code` finds the
operator by the calling endpoint, moves them through the same `act` as the
admin API, and names the prompt that says what happened. Driving the
phone's channel (answer, say it, hang up) is the controller's
(`ivr/stasis/features.py`).

Asterisk is reached only through `PhonePush`, the one command a push needs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.db.models import OperatorRow
from ivr.desk.interfaces import PhonePush
from ivr.desk.operator_store import act
from ivr.desk.operators import Action
from ivr.errors import IvrError
from ivr.settings import Settings

log = logging.getLogger(__name__)

FEATURES: dict[str, tuple[Action, str]] = {
    "21": ("sign_in", "operator.signed_in"),
    "22": ("pause", "operator.paused"),
    "23": ("resume", "operator.resumed"),
    "24": ("sign_out", "operator.signed_out"),
}
# *22N: why the operator pauses, said with one key.
PAUSE_REASONS = {"": "paused from phone", "1": "break", "2": "meeting", "3": "training"}
REFUSED, UNKNOWN = "operator.refused", "operator.unknown"
PROMPTS_USED = (*(said for _, said in FEATURES.values()), REFUSED, UNKNOWN)


@dataclass(frozen=True)
class PhoneMove:
    """What a feature code did: the prompt that says so, and whether the
    operator moved (then the queue should look again at once)."""

    said: str
    moved: bool


async def move_by_code(
    sessions: async_sessionmaker[AsyncSession], endpoint: str, code: str, at: datetime
) -> PhoneMove:
    """Move the operator whose phone is `endpoint` as feature code `code` says."""
    feature = FEATURES.get(code[:2])
    reason = PAUSE_REASONS.get(code[2:])
    if feature is None or (code[2:] and (code[:2] != "22" or reason is None)):
        return PhoneMove(REFUSED, moved=False)
    action, said = feature
    async with sessions() as session, session.begin():
        operator_id = await session.scalar(
            select(OperatorRow.id).where(OperatorRow.endpoint == endpoint)
        )
        if operator_id is None:
            log.warning("feature code *%s from %s: not an operator's phone", code, endpoint)
            return PhoneMove(UNKNOWN, moved=False)
        try:
            await act(
                session, operator_id, action, at, reason=reason if action == "pause" else None
            )
        except IvrError as exc:
            log.info("feature code *%s from %s refused: %s", code, endpoint, exc)
            return PhoneMove(REFUSED, moved=False)
    return PhoneMove(said, moved=True)


# -- the phone in Asterisk ------------------------------------------------------------

PhoneKey = tuple[str, str | None, str | None]
# Operators' phones are PJSIP endpoints: ARI names them PJSIP/<endpoint>.
PHONE_TECHNOLOGY = "PJSIP"


def phone_key(row: OperatorRow) -> PhoneKey:
    """What Asterisk must know of an operator's phone; a change means a new push."""
    return (row.endpoint, row.sip_contact, row.sip_md5)


async def push_phone(ari: PhonePush, settings: Settings, row: OperatorRow) -> None:
    """Tell Asterisk an operator's phone: endpoint, AOR and authentication.

    Pushed objects live in Asterisk's memory (see dialplan/sorcery.conf): the
    desk pushes every phone again after each connect."""
    name = row.endpoint
    aor = {"max_contacts": "1", "remove_existing": "yes", "qualify_frequency": "0"}
    if row.sip_contact:
        aor["contact"] = row.sip_contact
    await ari.push_config("aor", name, aor)
    endpoint = {
        "transport": "transport-udp",
        "context": "from-operators",
        "disallow": "all",
        "allow": "alaw,ulaw",
        "dtmf_mode": "rfc4733",
        "direct_media": "no",
        "rtp_symmetric": "yes",
        "aors": name,
        "rtp_timeout": str(settings.rtp_timeout),
        "language": "en",
    }
    if row.sip_md5:
        await ari.push_config(
            "auth",
            name,
            {
                "auth_type": "md5",
                "username": name,
                "realm": settings.sip_realm,
                "md5_cred": row.sip_md5,
            },
        )
        endpoint["auth"] = name
    await ari.push_config("endpoint", name, endpoint)
