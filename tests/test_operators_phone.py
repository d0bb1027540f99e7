"""Feature codes from an operator's phone, against the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from ivr.ari.models import Channel
from ivr.desk import operator_store as stored
from ivr.stasis.features import FeatureCodes, endpoint_of

from .test_db_operators import T0, Sessions, add


def phone_controller(sessions: Sessions) -> Any:
    """What a feature code needs of the controller: the database, the clock, the desk."""
    pokes: list[None] = []
    desk = SimpleNamespace(poke=lambda: pokes.append(None), pokes=pokes)
    features = FeatureCodes(
        ari=cast(Any, None),  # moving the operator sends nothing to Asterisk
        in_force=cast(Any, None),
        prompt_base_url="",
        sessionmaker=sessions,
        clock=lambda: T0,
        poke=desk.poke,
    )
    return SimpleNamespace(features=features, desk=desk)


async def _apply(controller: Any, endpoint: str, code: str) -> str:
    """A feature code from `endpoint`'s phone, as the controller applies it."""
    heard: str = await controller.features.apply(endpoint, code)
    return heard


async def status_of(sessions: Sessions, operator_id: str = "op1001") -> tuple[str, str | None]:
    async with sessions() as session:
        operator = await stored.get_operator(session, operator_id)
    return operator.status, operator.pause_reason


def test_the_endpoint_is_read_from_the_channel_name() -> None:
    channel = cast(Channel, SimpleNamespace(name="PJSIP/op-1001-0000002a"))
    assert endpoint_of(channel) == "op-1001"


@pytest.mark.parametrize(
    ("codes", "said", "status"),
    [
        (["21"], "operator.signed_in", ("available", None)),
        (["21", "22"], "operator.paused", ("paused", "paused from phone")),
        (["21", "222"], "operator.paused", ("paused", "meeting")),
        (["21", "22", "23"], "operator.resumed", ("available", None)),
        (["21", "24"], "operator.signed_out", ("signed_out", None)),
    ],
)
async def test_feature_codes_move_the_operator_and_say_so(
    db_sessionmaker: Sessions, codes: list[str], said: str, status: tuple[str, str | None]
) -> None:
    await add(db_sessionmaker)
    controller = phone_controller(db_sessionmaker)
    for code in codes:
        heard = await _apply(controller, "op1001", code)
    assert heard == said
    assert await status_of(db_sessionmaker) == status
    assert len(controller.desk.pokes) == len(codes)  # the queue looks again at once


@pytest.mark.parametrize("code", ["23", "29", "225", "2", "21x"])
async def test_a_code_that_cannot_apply_is_refused_and_changes_nothing(
    db_sessionmaker: Sessions, code: str
) -> None:
    await add(db_sessionmaker)
    heard = await _apply(phone_controller(db_sessionmaker), "op1001", code)
    assert heard == "operator.refused"
    assert await status_of(db_sessionmaker) == ("signed_out", None)


async def test_a_phone_that_is_no_operators_is_told_so(db_sessionmaker: Sessions) -> None:
    heard = await _apply(phone_controller(db_sessionmaker), "stranger", "21")
    assert heard == "operator.unknown"
