"""Events in: each ARI event to the call it belongs to.

One reader (the ARI client's event loop) calls `on_event` for every event;
it never blocks. A channel entering Stasis is told apart by its arguments:
an operator's leg (to the call it serves), our callback answered, a feature
code from an operator's phone, or a caller (a new call). Every other event
goes, translated into a flow event, to the queue of the call that owns its
channel or playback; an event of an operator's leg goes to the call that leg
serves, as a desk event; an operator's phone registering or going is the
desk's news. Work that may wait (a hang-up, a case written) runs
beside the calls, never on the reader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from ivr.ari.client import AriClient
from ivr.ari.models import (
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    EndpointStateChange,
    Event,
    PlaybackFinished,
    RecordingFailed,
    RecordingFinished,
    StasisEnd,
    StasisStart,
)
from ivr.call import flow
from ivr.desk.desk import CALLBACK_ARG, LEG_ARG, Desk, DeskEvent, LegAnswered, LegGone, WhisperDone
from ivr.desk.phones import PHONE_TECHNOLOGY
from ivr.stasis.calls import call_args
from ivr.stasis.casework import Casework
from ivr.stasis.features import FEATURE_ARG, FeatureCodes
from ivr.stasis.registry import CallRegistry


class EventRouter:
    def __init__(
        self,
        ari: AriClient,
        calls: CallRegistry,
        desk: Desk,
        casework: Casework,
        features: FeatureCodes,
    ) -> None:
        self._ari = ari
        self._calls = calls
        self._desk = desk
        self._casework = casework
        self._features = features
        self._background: set[asyncio.Task[object]] = set()

    def on_event(self, event: Event) -> None:
        """Hand an event to its call. Runs on the reader: never blocks."""
        if isinstance(event, StasisStart):
            self._start(event)
            return
        if isinstance(event, RecordingFinished | RecordingFailed):
            self._recording_ended(event)
            return
        if isinstance(event, EndpointStateChange):
            if event.endpoint.technology == PHONE_TECHNOLOGY:
                self._desk.phone_seen(event.endpoint.resource, event.endpoint.state)
            return
        if self._leg_event(event):
            return
        translated = _translate(event)
        if translated is None:
            return
        channel_id, flow_event = translated
        call = self._calls.get(channel_id)
        if call is not None:
            call.queue.put_nowait(flow_event)

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        """Run `work` beside the calls, keeping it referenced until it is done."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _start(self, event: StasisStart) -> None:
        channel = event.channel
        if channel.id in self._calls:
            return
        args = event.args
        if args and args[0] == LEG_ARG:
            # An operator answered: the leg belongs to the call in the second argument.
            call_id = args[1] if len(args) > 1 else ""
            if not self._calls.post(call_id, LegAnswered(channel.id)):
                self._spawn(self._ari.hangup_quietly(channel.id))
            return
        if args and args[0] == CALLBACK_ARG:
            self._start_callback(channel)
            return
        if args and args[0] == FEATURE_ARG:
            code = args[1] if len(args) > 1 else ""
            self._spawn(self._features.run(channel, code))
            return
        self._calls.start_call(channel, *call_args(args, channel))

    def _start_callback(self, channel: Channel) -> None:
        placed = self._desk.callback_answered(channel.id)
        if placed is None:
            self._spawn(self._ari.hangup_quietly(channel.id))
            return
        self._calls.start_callback(channel, placed)
        self._spawn(self._desk.callback_back_in_line(placed.entry_id))

    def _leg_event(self, event: Event) -> bool:
        """Route an event of an operator's leg to the call it belongs to."""
        if isinstance(event, PlaybackFinished):
            leg_id = event.playback.target_uri.removeprefix("channel:")
            desk_event: DeskEvent = WhisperDone(event.playback.id)
        elif isinstance(event, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
            if event.channel is None:
                return False
            leg_id = event.channel.id
            if leg_id in self._desk.callbacks:
                # Our callback rang out unanswered (an answer would have
                # made it a call of its own).
                if isinstance(event, ChannelDestroyed):
                    self._spawn(self._desk.callback_unanswered(leg_id))
                return True
            desk_event = LegGone(leg_id)
        else:
            return False
        call_id = self._desk.legs.get(leg_id)
        if call_id is None:
            return False
        self._calls.post(call_id, desk_event)
        return True

    def _recording_ended(self, event: RecordingFinished | RecordingFailed) -> None:
        recording = event.recording
        status = "failed" if isinstance(event, RecordingFailed) else "saved"
        seconds = float(recording.duration or 0)
        channel_id = recording.target_uri.removeprefix("channel:")
        self._spawn(self._message_ended(channel_id, recording.name, seconds, status))

    async def _message_ended(self, channel_id: str, name: str, seconds: float, status: str) -> None:
        number = await self._casework.message_ended(channel_id, name, seconds, status)
        self._calls.post(channel_id, flow.RecordingEnded(name, seconds, number or ""))


def _translate(event: Event) -> tuple[str, flow.Event] | None:
    """A caller's event as its flow takes it, with the channel it is for."""
    if isinstance(event, ChannelDtmfReceived):
        return event.channel.id, flow.KeyPressed(event.digit)
    if isinstance(event, PlaybackFinished):
        target = event.playback.target_uri
        if not target.startswith("channel:"):
            return None
        outcome: flow.PlaybackOutcome = "failed" if event.playback.state == "failed" else "done"
        return target.removeprefix("channel:"), flow.PlaybackEnded(event.playback.id, outcome)
    if isinstance(event, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
        channel = event.channel
        return (channel.id, flow.HungUp()) if channel is not None else None
    return None
