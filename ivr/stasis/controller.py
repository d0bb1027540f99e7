"""Carries calls: ARI events in, flow commands out.

One reader (the ARI client's event loop) hands each event to the call that
owns its channel or playback through that call's queue; each call has one
task that takes its events in order, asks the flow what to do and does it.
A slow call never delays another, and one call's handlers never run out of
order. Records go to the `Recorder`, which writes them in batches off the
call path.

The operator queue is the `Desk`'s (`ivr/desk/desk.py`): the events of an
operator's leg go to the call it serves and are handled in that call's task.
What happens after every (re)connect is `ivr/stasis/recovery.py`; a call's live
state and what marks a channel as ours are in `ivr/stasis/calls.py`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
from ivr.audio.catalog import Catalog
from ivr.call import flow
from ivr.call.flow import Event as FlowEvent
from ivr.call.guide import Guide
from ivr.cases.messages import MessageBox
from ivr.cases.registry import Cases
from ivr.db.recorder import Recorder
from ivr.desk.desk import (
    CALLBACK_ARG,
    DESK_EVENTS,
    LEG_ARG,
    Desk,
    DeskEvent,
    LegAnswered,
    LegGone,
    WhisperDone,
)
from ivr.desk.phones import FEATURE_ARG, feature_code
from ivr.desk.queues import Queues
from ivr.directory.numbers import read_caller
from ivr.directory.routing import Department, Directory
from ivr.errors import AriError, AriUnavailable
from ivr.publish.hours import Hours
from ivr.publish.in_force import Published
from ivr.publish.menus import MenuBook
from ivr.settings import Settings
from ivr.stasis import recovery
from ivr.stasis.calls import (
    MARK_VARIABLE,
    STOP_ATTEMPTS,
    Call,
    PlaybackCheck,
    call_args,
)
from ivr.stasis.casework import Casework

log = logging.getLogger(__name__)

# A Play of this prefix plays a stored recording (a caller's message) back.
RECORDING_MEDIA = "recording:"


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
        *,
        cases: Cases,
        menus: MenuBook | None = None,
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
            survey=settings.survey,
        )
        self._guide = Guide(directory)
        self._menus = menus
        self.messages = MessageBox(
            ari=ari, sessionmaker=sessionmaker, directory=directory, cases=cases, now=clock
        )
        self.casework = Casework(messages=self.messages, cases=cases, recorder=recorder, now=clock)
        self.calls: dict[str, Call] = {}
        self.recoveries = 0  # ended since start (done or failed): one per (re)connect
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
            cases=cases,
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
        status = "failed" if isinstance(event, RecordingFailed) else "saved"
        seconds = float(recording.duration or 0)
        channel_id = recording.target_uri.removeprefix("channel:")
        self._spawn(self._message_ended(channel_id, recording.name, seconds, status))

    async def _message_ended(self, channel_id: str, name: str, seconds: float, status: str) -> None:
        await self.casework.message_ended(channel_id, name, seconds, status)
        self._post(channel_id, flow.RecordingEnded(name, seconds))

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
        self._start_call(channel, *call_args(args, channel))

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
            menus=self.service_menus(),
        )
        return Call(call_id, call_flow, caller)

    def service_menus(self) -> Callable[[str], flow.ServiceMenu] | None:
        """The service menus in force now. A call keeps what it was given for
        its whole length: a publication while it is in the menu does not
        change what it hears."""
        return self._menus.effective if self._menus is not None else None

    def publish(self, published: Published) -> None:
        """Put what admins published in force for every call that starts from now."""
        self._catalog = published.catalog
        self._menus = published.menus
        self.desk.catalog = published.catalog
        self.desk.hours = published.hours

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
            case flow.Play(playback_id, prompts, seconds):
                media = [self._media(prompt) for prompt in prompts]
                await self._ari_call(call, self._ari.play(channel, playback_id, media))
                said = [p for p in prompts if not p.startswith(RECORDING_MEDIA)]
                length = seconds + sum(self._catalog.duration_ms(p) for p in said) / 1000
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
                await self.casework.execute(call, command)
            case flow.RegisterCallback() | flow.MarkUrgent() | flow.Survey():
                await self.casework.execute(call, command)
            case flow.StartMoh():
                await self._ari_call(call, self._ari.start_moh(channel, self._settings.moh_class))
            case flow.StopMoh():
                await self._ari_call(call, self._ari.stop_moh(channel), gone_ok=True)
            case flow.RecordMessage(name):
                await self.casework.execute(call, command)  # on record before the beep
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

    def _media(self, prompt: str) -> str:
        if prompt.startswith(RECORDING_MEDIA):
            return prompt  # the caller's own message, played back from Asterisk
        return self._catalog.media_uri(prompt, self._settings.prompt_base_url)

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
            await recovery.recover(self)
        finally:
            self.recoveries += 1

    async def close(self) -> None:
        tasks = [call.task for call in self.calls.values() if call.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
