"""A call as the controller carries it, and what our channels carry in Asterisk.

`Call` is one call's live state beside its flow: its event queue, timers,
task, its place in a queue and its operator's leg. The `Stasis()` arguments
are how a controller recognises a channel of ours, including one a dead
controller left behind (`ivr/stasis/recovery.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ivr.ari.models import Channel
from ivr.call.flow import CallFlow
from ivr.call.flow import Event as FlowEvent
from ivr.desk.desk import DeskEvent, Leg
from ivr.logs import CallTag

# The events a call needs. Asterisk sends nothing else to the app: every
# other event (variable set, state change, playback started...) would cost
# a WebSocket frame and a parse per call for nothing.
EVENTS_USED = [
    "StasisStart",
    "StasisEnd",
    "ChannelDtmfReceived",
    "ChannelHangupRequest",
    "ChannelDestroyed",
    "PlaybackFinished",
    "RecordingFinished",
    "RecordingFailed",
    # Not a call's: an operator's phone registered or gone (the desk's).
    "EndpointStateChange",
]


# Asking Asterisk to stop a playback again this many times at most.
STOP_ATTEMPTS = 3


@dataclass(frozen=True)
class PlaybackCheck:
    """Time to ask Asterisk whether a playback still runs.

    Asterisk 22 can lose the end of a playback of several media: a stop that
    lands between two pieces can end it with no PlaybackFinished, or leave
    it running with the next prompt queued behind. A prompt whose end never
    comes would leave the caller in silence, so every prompt is checked once
    it should have ended, and every stop once it should have taken effect.
    """

    playback_id: str
    stopped: bool  # we asked Asterisk to stop it
    attempt: int = 1


@dataclass
class Call:
    call_id: str
    flow: CallFlow
    caller: str = ""  # the caller's number as received
    queue: asyncio.Queue[FlowEvent | PlaybackCheck | DeskEvent] = field(
        default_factory=asyncio.Queue
    )
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    # The channel was up when the call began (the dialplan answers callers
    # before Stasis; a callback is up once the caller picks up).
    up: bool = False
    saved_state: dict[str, Any] | None = None
    joined: bool = False  # has a place in a queue (an entry in the database)
    # The queue entry's id: the call's own, or for a callback the call that asked.
    entry_id: str = ""
    leg: Leg | None = None  # the operator being rung or talked to
    offers: int = 0  # operators rung so far
    # The departments the call passed through, (code, how): routed, chosen...
    # (for the operator's screen; not kept across a restart).
    path: list[tuple[str, str]] = field(default_factory=list)
    sip_call_id: str = ""  # the SIP Call-ID of the caller's channel, if SIP
    # What marks this call's log lines (ivr/logs.py): the runner moves its
    # department with the call.
    tag: CallTag = field(init=False)

    def __post_init__(self) -> None:
        self.entry_id = self.entry_id or self.call_id
        self.tag = CallTag(self.call_id, self.sip_call_id, self.flow.department)


def stasis_args(channel: Channel) -> list[str]:
    """`Stasis(app,dialed)`'s arguments, as the channel's dialplan shows them."""
    return (channel.dialplan.app_data or "").split(",")


def call_args(args: Sequence[str], channel: Channel) -> tuple[str, str]:
    """(dialed, origin) from `Stasis(app,dialed,origin)`'s arguments after the app.

    In Stasis the extension is `s`: without the argument, the channel's own
    extension is the best there is."""
    dialed = args[0] if args else channel.dialplan.exten
    origin = args[1] if len(args) > 1 else ""
    return dialed, origin
