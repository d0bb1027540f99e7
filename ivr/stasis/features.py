"""Feature codes from an operator's phone: the phone's channel, driven.

A phone dials a feature code (`*21` sign in, ... see `ivr/desk/phones.py`);
the dialplan sends the call into Stasis with `feature,<code>`. The desk moves
the operator (`move_by_code`, the same `act` as the admin API); here the
channel is answered, told what happened, and hung up, and the queue looks
again at once if the operator moved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.ari.client import AriClient
from ivr.ari.models import Channel
from ivr.desk.phones import move_by_code
from ivr.errors import AriError
from ivr.stasis.parts import InForce

# `Stasis(app, feature, <code>)`: a channel from an operator's phone.
FEATURE_ARG = "feature"
# Waited after the prompt's length before hanging up, so its end is not cut off.
HANGUP_AFTER_S = 0.5


def endpoint_of(channel: Channel) -> str:
    """`PJSIP/op1001-0000002a` -> `op1001`."""
    name = channel.name.split("/", 1)[-1]
    return name.rsplit("-", 1)[0]


class FeatureCodes:
    def __init__(
        self,
        *,
        ari: AriClient,
        in_force: InForce,
        prompt_base_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        poke: Callable[[], None],
    ) -> None:
        """`poke` wakes the desk's dispatcher."""
        self._ari = ari
        self._in_force = in_force
        self._base_url = prompt_base_url
        self._sessionmaker = sessionmaker
        self._now = clock
        self._poke = poke

    async def run(self, channel: Channel, code: str) -> None:
        """Carry out a feature code dialled from an operator's phone, and say so."""
        prompt = await self.apply(endpoint_of(channel), code)
        try:
            await self._ari.answer(channel.id)
            media = [self._in_force.catalog.media_uri(prompt, self._base_url)]
            await self._ari.play(channel.id, f"{channel.id}-f", media)
            seconds = self._in_force.catalog.duration_ms(prompt) / 1000
            await asyncio.sleep(seconds + HANGUP_AFTER_S)
            await self._ari.hangup(channel.id)
        except AriError:
            pass  # the operator hung up first: the move stands

    async def apply(self, endpoint: str, code: str) -> str:
        """Move the operator of the phone `endpoint`; the prompt that says what happened."""
        move = await move_by_code(self._sessionmaker, endpoint, code, self._now())
        if move.moved:
            self._poke()
        return move.said
