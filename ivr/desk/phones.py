"""Operators' phones: feature codes, and the endpoints Asterisk knows them by.

Theory of operation. An operator's phone is a PJSIP endpoint named after
the operator's `endpoint`; the controller pushes it to Asterisk through ARI
(`push_endpoints`) after every connect, from the operators table, so an
operator added with `ivr operators add` can sign in a second later without
touching Asterisk's files. A phone dials a feature code (`*21` sign in,
`*22` pause, `*22N` pause for reason N, `*23` resume, `*24` sign out); the
dialplan passes it to the controller, which finds the operator by the
calling endpoint, moves them through the same `act` as the admin API, and
says what happened.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from ivr.ari.models import Channel
from ivr.db.models import OperatorRow
from ivr.desk.interfaces import PhonePush
from ivr.desk.operator_store import act
from ivr.desk.operators import Action
from ivr.errors import AriError, IvrError
from ivr.settings import Settings

if TYPE_CHECKING:
    from ivr.stasis.controller import Controller

log = logging.getLogger(__name__)

FEATURE_ARG = "feature"
FEATURES: dict[str, tuple[Action, str]] = {
    "21": ("sign_in", "operator.signed_in"),
    "22": ("pause", "operator.paused"),
    "23": ("resume", "operator.resumed"),
    "24": ("sign_out", "operator.signed_out"),
}
# *22N: why the operator pauses, said with one key.
PAUSE_REASONS = {"": "paused from phone", "1": "break", "2": "meeting", "3": "training"}
HANGUP_AFTER_S = 0.5
REFUSED, UNKNOWN = "operator.refused", "operator.unknown"
PROMPTS_USED = (*(said for _, said in FEATURES.values()), REFUSED, UNKNOWN)


def endpoint_of(channel: Channel) -> str:
    """`PJSIP/op1001-0000002a` -> `op1001`."""
    name = channel.name.split("/", 1)[-1]
    return name.rsplit("-", 1)[0]


async def feature_code(controller: Controller, channel: Channel, code: str) -> None:
    """Carry out a feature code dialled from an operator's phone, and say so."""
    ari = controller._ari
    prompt = await _apply(controller, endpoint_of(channel), code)
    try:
        await ari.answer(channel.id)
        playback = f"{channel.id}-f"
        media = [controller._catalog.media_uri(prompt, controller._settings.prompt_base_url)]
        await ari.play(channel.id, playback, media)
        await asyncio.sleep(controller._catalog.duration_ms(prompt) / 1000 + HANGUP_AFTER_S)
        await ari.hangup(channel.id)
    except AriError:
        pass  # the operator hung up first: the move stands


async def _apply(controller: Controller, endpoint: str, code: str) -> str:
    feature = FEATURES.get(code[:2])
    reason = PAUSE_REASONS.get(code[2:])
    if feature is None or (code[2:] and (code[:2] != "22" or reason is None)):
        return REFUSED
    action, said = feature
    async with controller._sessionmaker() as session, session.begin():
        operator_id = await session.scalar(
            select(OperatorRow.id).where(OperatorRow.endpoint == endpoint)
        )
        if operator_id is None:
            log.warning("feature code *%s from %s: not an operator's phone", code, endpoint)
            return UNKNOWN
        try:
            await act(
                session,
                operator_id,
                action,
                controller._now(),
                reason=reason if action == "pause" else None,
            )
        except IvrError as exc:
            log.info("feature code *%s from %s refused: %s", code, endpoint, exc)
            return REFUSED
    controller.desk.poke()
    return said


PhoneKey = tuple[str, str | None, str | None]


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
