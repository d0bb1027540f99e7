"""Carries calls: ARI events in, flow commands out.

One reader (the ARI client's event loop) hands each event to the call that
owns its channel or playback through that call's queue; each call has one
task that takes its events in order, asks the flow what to do and does it.
A slow call never delays another, and one call's handlers never run out of
order. Records go to the `Recorder`, which writes them in batches off the
call path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr import flow
from ivr.ari.client import AriClient
from ivr.ari.models import (
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    Event,
    PlaybackFinished,
    RecordingFailed,
    RecordingFinished,
    StasisEnd,
    StasisStart,
)
from ivr.catalog import Catalog
from ivr.db.queries import get_call, open_calls
from ivr.db.recorder import Recorder
from ivr.desk import (
    CALLBACK_ARG,
    DESK_EVENTS,
    LEG_ARG,
    Desk,
    DeskEvent,
    Leg,
    LegAnswered,
    LegGone,
    WhisperDone,
)
from ivr.directory import Department, Directory
from ivr.errors import AriError, AriUnavailable
from ivr.flow import CallFlow
from ivr.flow import Event as FlowEvent
from ivr.guide import Guide
from ivr.hours import Hours
from ivr.numbers import read_caller
from ivr.operators_phone import FEATURE_ARG, feature_code
from ivr.queues import Queues
from ivr.settings import Settings

log = logging.getLogger(__name__)

# Set on every channel we take, so a controller that starts later can tell
# our channels from anyone else's.
MARK_VARIABLE = "IVR_CALL"
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
    saved_state: dict[str, Any] | None = None
    joined: bool = False  # has a place in a queue (an entry in the database)
    # The queue entry's id: the call's own, or for a callback the call that asked.
    entry_id: str = ""
    leg: Leg | None = None  # the operator being rung or talked to
    offers: int = 0  # operators rung so far

    def __post_init__(self) -> None:
        self.entry_id = self.entry_id or self.call_id


class Controller:
    def __init__(
        self,
        settings: Settings,
        ari: AriClient,
        recorder: Recorder,
        directory: Directory,
        catalog: Catalog,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        hours: Hours,
        queues: Queues,
    ) -> None:
        self._settings = settings
        self._ari = ari
        self._recorder = recorder
        self._directory = directory
        self._catalog = catalog
        self._sessionmaker = sessionmaker
        self._now = clock
        self._config = flow.FlowConfig(
            digit_timeout=settings.digit_timeout,
            max_silences=settings.max_silences,
            max_invalid=settings.max_invalid,
        )
        self._guide = Guide(directory)
        self.calls: dict[str, Call] = {}
        self._background: set[asyncio.Task[object]] = set()
        self.desk: Desk = Desk(
            settings=settings,
            ari=ari,
            sessionmaker=sessionmaker,
            directory=directory,
            catalog=catalog,
            hours=hours,
            queues=queues,
            recorder=recorder,
            now=clock,
            post=self._post,
            handle=self._handle,
        )

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        """Run `work` beside the calls, keeping it referenced until it is done."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _post(self, call_id: str, event: object) -> bool:
        call = self.calls.get(call_id)
        if call is None:
            return False
        call.queue.put_nowait(event)  # type: ignore[arg-type]  # the desk's events
        return True

    # -- events in ----------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Hand an event to its call. Runs on the reader: never blocks."""
        if isinstance(event, StasisStart):
            self._start(event)
            return
        if isinstance(event, RecordingFinished | RecordingFailed):
            self._recording_ended(event)
            return
        if self._leg_event(event):
            return
        translated = self._translate(event)
        if translated is None:
            return
        channel_id, flow_event = translated
        call = self.calls.get(channel_id)
        if call is not None:
            call.queue.put_nowait(flow_event)

    @staticmethod
    def _translate(event: Event) -> tuple[str, flow.Event] | None:
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

    def _leg_event(self, event: Event) -> bool:
        """Route an event of an operator's leg to the call it belongs to."""
        if isinstance(event, PlaybackFinished):
            leg_id = event.playback.target_uri.removeprefix("channel:")
            desk_event: DeskEvent = WhisperDone(event.playback.id)
        elif isinstance(event, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
            if event.channel is None:
                return False
            leg_id = event.channel.id
            if leg_id in self.desk.callbacks:
                # Our callback rang out unanswered (an answer would have
                # made it a call of its own).
                if isinstance(event, ChannelDestroyed):
                    self._spawn(self.desk.callback_unanswered(leg_id))
                return True
            desk_event = LegGone(leg_id)
        else:
            return False
        call_id = self.desk.legs.get(leg_id)
        if call_id is None:
            return False
        self._post(call_id, desk_event)
        return True

    def _recording_ended(self, event: RecordingFinished | RecordingFailed) -> None:
        recording = event.recording
        failed = isinstance(event, RecordingFailed)
        seconds = float(recording.duration or 0)
        status = "failed" if failed else "saved"
        self._spawn(self.desk.message_finished(recording.name, seconds, status))
        channel_id = recording.target_uri.removeprefix("channel:")
        self._post(channel_id, flow.RecordingEnded(recording.name, seconds))

    def _start(self, event: StasisStart) -> None:
        channel = event.channel
        if channel.id in self.calls:
            return
        args = event.args
        if args and args[0] == LEG_ARG:
            # An operator answered: the leg belongs to the call in the second argument.
            call_id = args[1] if len(args) > 1 else ""
            if not self._post(call_id, LegAnswered(channel.id)):
                self._spawn(self._drop(channel.id))
            return
        if args and args[0] == CALLBACK_ARG:
            self._start_callback(channel)
            return
        if args and args[0] == FEATURE_ARG:
            code = args[1] if len(args) > 1 else ""
            self._spawn(feature_code(self, channel, code))
            return
        self._start_call(channel, *_call_args(args, channel))

    def _start_callback(self, channel: Channel) -> None:
        """The caller answered our callback: a call of its own, already in line."""
        placed = self.desk.callback_answered(channel.id)
        if placed is None:
            self._spawn(self._drop(channel.id))
            return
        department = self._directory.by_code(placed.department)
        # The record's caller is who we called, not the 12371 we called from.
        self._record_start(
            channel, "callback", department, "callback", placed.entry_id, caller=placed.caller
        )
        call = self._new_call(channel.id, department, placed.caller, choose_region=False)
        call.entry_id, call.joined = placed.entry_id, True
        self._launch(call, flow.CalledBack())
        self._spawn(self.desk.callback_back_in_line(placed.entry_id))

    async def _drop(self, channel_id: str) -> None:
        try:
            await self._ari.hangup(channel_id)
        except AriError:
            pass

    def _start_call(self, channel: Channel, dialed: str, origin: str) -> None:
        route = self._directory.resolve(channel.caller.number, dialed, origin)
        now = self._record_start(channel, dialed, route.department, route.rule, route.read)
        for line in route.steps:
            self._recorder.step(channel.id, now, "route", line)
        unplaced = route.rule == "default"
        call = self._new_call(
            channel.id, route.department, channel.caller.number, choose_region=unplaced
        )
        self._launch(call, flow.Started())

    def _new_call(
        self, call_id: str, department: Department, caller: str, *, choose_region: bool
    ) -> Call:
        call_flow = flow.CallFlow(
            call_id,
            self._guide,
            department.code,
            self._config,
            choose_region=choose_region,
            desk=self.desk.service,
            callback_ok=self._can_call_back(caller),
        )
        return Call(call_id, call_flow, caller)

    def _can_call_back(self, caller: str) -> bool:
        """A callback needs a way out and a number that can be dialled."""
        return bool(self._settings.callback_dial) and read_caller(caller).kind != "none"

    def _record_start(
        self,
        channel: Channel,
        dialed: str,
        department: Department,
        rule: str,
        read: str,
        caller: str | None = None,
    ) -> datetime:
        now = self._now()
        self._recorder.call_started(
            channel.id,
            sip_call_id=channel.protocol_id or None,
            node=self._settings.node_name,
            caller=channel.caller.number if caller is None else caller,
            dialed=dialed,
            department_code=department.code,
            department_name=department.name,
            route_rule=rule,
            route_read=read,
            started_at=now,
        )
        return now

    def _launch(self, call: Call, first: flow.Event) -> None:
        self.calls[call.call_id] = call
        call.queue.put_nowait(first)
        call.task = asyncio.get_running_loop().create_task(
            self._run(call), name=f"call-{call.call_id}"
        )

    # -- one call ---------------------------------------------------------------------

    async def _run(self, call: Call) -> None:
        try:
            while call.flow.state is not flow.State.ENDED:
                event = await call.queue.get()
                if isinstance(event, PlaybackCheck):
                    await self._check_playback(call, event)
                    continue
                if isinstance(event, DESK_EVENTS):
                    await self.desk.on_event(call, event)
                    continue
                if isinstance(event, flow.PlaybackEnded):
                    self._disarm(call, event.playback_id)
                await self._handle(call, event)
        except AriError as exc:
            # Asterisk refused a command the call needs: hang up rather than
            # leave the caller in silence in Stasis.
            log.error("call %s: %s; hanging up", call.call_id, exc)
            await self._abandon(call, "ari_error")
        except Exception:
            # A bug must not leave the caller hanging in Stasis either.
            log.exception("call %s failed; hanging up", call.call_id)
            await self._abandon(call, "internal_error")
        finally:
            for handle in call.timers.values():
                handle.cancel()
            if call.leg is not None:
                # Ended by an error or a cancel: the operator must not stay busy.
                await self.desk.leave(call, "internal_error")
            self.calls.pop(call.call_id, None)

    async def _handle(self, call: Call, event: FlowEvent) -> None:
        try:
            commands = call.flow.handle(event)
        except flow.FlowError as exc:
            log.error("call %s: %s", call.call_id, exc)
            commands = [flow.Hangup(), flow.Ended("internal_error")]
            call.flow.state = flow.State.ENDED
        for command in commands:
            await self._execute(call, command)
        snapshot = call.flow.snapshot()
        if snapshot != call.saved_state:
            call.saved_state = snapshot
            self._recorder.flow_state(call.call_id, snapshot)

    # -- playbacks Asterisk lost track of -----------------------------------------------

    def _arm(self, call: Call, check: PlaybackCheck, seconds: float) -> None:
        self._disarm(call, check.playback_id)
        loop = asyncio.get_running_loop()
        handle = loop.call_later(seconds, call.queue.put_nowait, check)
        call.timers[f"check:{check.playback_id}"] = handle

    def _disarm(self, call: Call, playback_id: str) -> None:
        handle = call.timers.pop(f"check:{playback_id}", None)
        if handle is not None:
            handle.cancel()

    async def _check_playback(self, call: Call, check: PlaybackCheck) -> None:
        playback_id = check.playback_id
        call.timers.pop(f"check:{playback_id}", None)
        try:
            running = await self._ari.playback_exists(playback_id)
        except AriUnavailable:
            return  # the recovery after the reconnect settles the call
        now = self._now()
        if check.stopped:
            if running and check.attempt < STOP_ATTEMPTS:
                log.warning("call %s: playback %s ignored a stop", call.call_id, playback_id)
                self._recorder.step(call.call_id, now, "error", "stop_ignored", playback_id)
                await self._ari_call(call, self._ari.stop_playback(playback_id), gone_ok=True)
                retry = PlaybackCheck(playback_id, stopped=True, attempt=check.attempt + 1)
                self._arm(call, retry, self._settings.stop_check)
            return
        if running:  # still playing, or queued behind another: look again later
            self._arm(call, check, self._settings.playback_grace)
        elif call.flow.playback_id == playback_id:
            log.warning("call %s: playback %s ended unreported", call.call_id, playback_id)
            self._recorder.step(call.call_id, now, "error", "playback_end_lost", playback_id)
            await self._handle(call, flow.PlaybackEnded(playback_id, "done"))

    async def _abandon(self, call: Call, reason: str) -> None:
        self._recorder.call_ended(call.call_id, self._now(), reason)
        try:
            await self._ari.hangup(call.call_id)
        except AriError:
            pass  # already gone, or Asterisk is: either way nothing is left

    async def _execute(self, call: Call, command: flow.Command) -> None:
        channel = call.call_id
        match command:
            case flow.Answer():
                # The mark lets a controller that starts later find this call.
                # Sent with the answer, before the first prompt: Asterisk runs
                # a channel's commands in order, so a mark sent during a
                # playback would wait for the prompt to end.
                await asyncio.gather(
                    self._ari_call(call, self._ari.answer(channel)),
                    self._ari_call(call, self._ari.set_variable(channel, MARK_VARIABLE, channel)),
                )
                self._recorder.call_answered(channel, self._now())
            case flow.Play(playback_id, prompts):
                base = self._settings.prompt_base_url
                media = [self._catalog.media_uri(prompt, base) for prompt in prompts]
                await self._ari_call(call, self._ari.play(channel, playback_id, media))
                length = sum(self._catalog.duration_ms(prompt) for prompt in prompts) / 1000
                check = PlaybackCheck(playback_id, stopped=False)
                self._arm(call, check, length + self._settings.playback_grace)
            case flow.StopPlayback(playback_id):
                await self._ari_call(call, self._ari.stop_playback(playback_id), gone_ok=True)
                self._arm(call, PlaybackCheck(playback_id, stopped=True), self._settings.stop_check)
            case flow.StartTimer(timer_id, seconds):
                loop = asyncio.get_running_loop()
                fired = flow.TimerFired(timer_id)
                call.timers[timer_id] = loop.call_later(seconds, call.queue.put_nowait, fired)
            case flow.CancelTimer(timer_id):
                handle = call.timers.pop(timer_id, None)
                if handle is not None:
                    handle.cancel()
            case flow.Hangup():
                await self._ari_call(call, self._ari.hangup(channel), gone_ok=True)
            case flow.Step(kind, value, detail):
                self._recorder.step(channel, self._now(), kind, value, detail)
                if kind == "department":
                    self._recorder.department_reached(channel, value, self._guide.name(value))
            case flow.Ended(reason):
                self._recorder.call_ended(channel, self._now(), reason)
                if call.joined:
                    await self.desk.leave(call, reason)
            case flow.JoinQueue(department):
                call.joined = True
                position = await self.desk.join(channel, department, call.caller)
                self._recorder.step(channel, self._now(), "note", "queued", str(position))
                call.queue.put_nowait(flow.Queued(position))
            case flow.LeaveQueue(outcome):
                await self.desk.leave(call, outcome)
            case flow.RequestCallback():
                await self.desk.request_callback(call)
            case flow.StartMoh():
                await self._ari_call(call, self._ari.start_moh(channel, self._settings.moh_class))
            case flow.StopMoh():
                await self._ari_call(call, self._ari.stop_moh(channel), gone_ok=True)
            case flow.RecordMessage(name):
                department = call.flow.department
                await self.desk.message_started(name, channel, department, call.caller)
                settings = self._settings
                await self._ari_call(
                    call,
                    self._ari.record(
                        channel,
                        name,
                        max_seconds=settings.message_max_seconds,
                        max_silence=settings.message_silence_seconds,
                    ),
                )

    async def _ari_call(
        self, call: Call, request: Awaitable[None], *, gone_ok: bool = False
    ) -> None:
        try:
            await request
        except AriUnavailable as exc:
            # The connection to Asterisk is gone; the call may not be. The
            # recovery after the reconnect settles it: a channel that is gone
            # closes the call, a prompt that never started is treated as over.
            log.warning("call %s: %s; waiting for Asterisk", call.call_id, exc)
        except AriError as exc:
            if exc.http_status in (404, 409):
                # The channel or playback is already gone: the caller hung
                # up; the hang-up event follows (or already came).
                if not gone_ok:
                    call.queue.put_nowait(flow.HungUp())
                return
            raise

    # -- after every (re)connect ------------------------------------------------------

    async def recover(self) -> None:
        """Take back, or end politely, every channel of ours left in Stasis."""
        try:
            await self._ari.filter_events(EVENTS_USED)
        except AriError as exc:
            # Only costs bandwidth: the controller ignores other events.
            log.warning("Asterisk did not take the event filter: %s", exc)
        self.desk.forget_phones()
        await self.desk.refresh()
        channels = await self._ari.channels()
        live = {channel.id for channel in channels}
        for call_id, call in list(self.calls.items()):
            if call_id not in live and call.task is not None:
                # Its channel went while nobody listened (Asterisk restarted,
                # or the caller left): no event will ever end this call.
                call.task.cancel()
                self._recorder.call_ended(call_id, self._now(), "channel_gone")
        by_id = {channel.id: channel for channel in channels}
        for call in list(self.calls.values()):
            if call.call_id in by_id:
                await self._resync(call, by_id[call.call_id])
        legs: list[Channel] = []
        for channel in channels:
            if channel.id in self.calls or not self._is_ours(channel):
                continue
            if _stasis_args(channel)[1:2] in ([LEG_ARG], [FEATURE_ARG]):
                legs.append(channel)  # once their callers are back
                continue
            await self._take_back(channel)
        for channel in legs:
            await self._take_back_leg(channel)
        await self.desk.sweep(set(self.calls))
        # Calls this node recorded as open whose channel is gone (Asterisk
        # restarted, or the caller left while nobody listened).
        async with self._sessionmaker() as session:
            stale = await open_calls(session, node=self._settings.node_name)
        for view in stale:
            if view.id not in live and view.id not in self.calls:
                self._recorder.call_ended(view.id, self._now(), "channel_gone")

    async def _resync(self, call: Call, channel: Channel) -> None:
        """Settle a live call with what happened while nobody listened.

        A prompt that ended then sent its event to no one, and a command
        sent as the connection dropped may never have run: the call would
        wait for good."""
        if call.task is None or call.task.done():
            return
        if channel.state != "Up" and call.flow.state is not flow.State.NEW:
            await self._ari.answer(call.call_id)
        playback_id = call.flow.playback_id
        if playback_id is not None and not await self._ari.playback_exists(playback_id):
            call.queue.put_nowait(flow.PlaybackEnded(playback_id, "done"))

    def _is_ours(self, channel: Channel) -> bool:
        plan = channel.dialplan
        if plan.app_name is None or plan.app_name.lower() != "stasis":
            return False
        return _stasis_args(channel)[0] == self._settings.ari_app

    async def _take_back(self, channel: Channel) -> None:
        async with self._sessionmaker() as session:
            view = await get_call(session, channel.id)
        if view is None and await self._ari.get_variable(channel.id, MARK_VARIABLE) is None:
            # No controller ever took it: a call that entered Stasis while we
            # connected (its StasisStart waits behind this recovery), or one
            # the previous controller died before answering. A new call.
            log.info("starting call %s found in Stasis", channel.id)
            self._start_call(channel, *_call_args(_stasis_args(channel)[1:], channel))
            return
        if view is not None and view.ended_at is None and view.flow_state:
            restored = flow.CallFlow.restore(
                channel.id, view.flow_state, self._guide, self._config
            )
            log.info("taking back call %s (%s)", channel.id, restored.state.value)
            call = Call(channel.id, restored, channel.caller.number)
            restored.callback_ok = self._can_call_back(call.caller)
            if restored.queued or restored.state is flow.State.CONNECTED:
                call.joined = True
            if restored.queued:
                await self.desk.rejoin(channel.id)
            self._launch(call, flow.Resumed())
            return
        log.info("ending orphaned channel %s politely", channel.id)
        default = self._directory.default
        if view is None:
            dialed, _ = _call_args(_stasis_args(channel)[1:], channel)
            self._record_start(channel, dialed, default, "default", "")
        call = self._new_call(channel.id, default, channel.caller.number, choose_region=False)
        self._launch(call, flow.Orphaned())

    async def _take_back_leg(self, channel: Channel) -> None:
        """An operator's leg left by a controller that died: back to its call, or hung up."""
        args = _stasis_args(channel)
        call = self.calls.get(args[2] if len(args) > 2 else "")
        if channel.id in self.desk.legs:
            return
        if (
            call is not None
            and args[1] == LEG_ARG
            and call.flow.state is flow.State.CONNECTED
            and call.leg is None
        ):
            operator = self.desk.operator(call.flow.operator or "")
            if operator is not None:
                log.info("taking back operator leg %s of call %s", channel.id, call.call_id)
                call.leg = Leg(channel.id, operator, answered=True, bridge_id=f"{call.call_id}-b")
                self.desk.legs[channel.id] = call.call_id
                return
        log.info("hanging up operator channel %s: its call is gone", channel.id)
        await self._drop(channel.id)

    async def close(self) -> None:
        tasks = [call.task for call in self.calls.values() if call.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _stasis_args(channel: Channel) -> list[str]:
    """`Stasis(app,dialed)`'s arguments, as the channel's dialplan shows them."""
    return (channel.dialplan.app_data or "").split(",")


def _call_args(args: Sequence[str], channel: Channel) -> tuple[str, str]:
    """(dialed, origin) from `Stasis(app,dialed,origin)`'s arguments after the app.

    In Stasis the extension is `s`: without the argument, the channel's own
    extension is the best there is."""
    dialed = args[0] if args else channel.dialplan.exten
    origin = args[1] if len(args) > 1 else ""
    return dialed, origin
