"""One call's task: its events in order, the flow's commands carried out.

Each call has one task (`run`) that takes the events of its queue in order,
asks the flow what to do (`handle`) and does it: channel commands go to
Asterisk, records to the `Recorder` (written in batches off the call path),
queue moves to the desk, what the call leaves for later to `Casework`. The
desk's own events (an operator's leg) are handled here too, in the call's
task, so they never race the caller's hang-up.

A command Asterisk refuses because the channel is gone means the caller hung
up; one it cannot answer (the connection dropped) waits for the recovery
after the reconnect. Anything else it refuses, or a bug, hangs the call up
rather than leave the caller in silence in Stasis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from ivr.audio.catalog import Catalog
from ivr.call import flow
from ivr.call.guide import Guide
from ivr.desk.desk import DESK_EVENTS, Desk
from ivr.errors import AriError, AriUnavailable
from ivr.stasis.calls import STOP_ATTEMPTS, Call, PlaybackCheck
from ivr.stasis.casework import Casework
from ivr.stasis.parts import Collaborators, InForce

log = logging.getLogger(__name__)

# A Play of this prefix plays a stored recording (a caller's message) back.
RECORDING_MEDIA = "recording:"


class CallRunner:
    def __init__(
        self,
        parts: Collaborators,
        in_force: InForce,
        guide: Guide,
        desk: Desk,
        casework: Casework,
    ) -> None:
        self._parts = parts
        self._settings = parts.settings
        self._ari = parts.ari
        self._recorder = parts.recorder
        self._now = parts.clock
        self._in_force = in_force
        self._guide = guide
        self._desk = desk
        self._casework = casework

    async def run(self, call: Call) -> None:
        """The call's task, until its flow has ended."""
        try:
            while call.flow.state is not flow.State.ENDED:
                event = await call.queue.get()
                if isinstance(event, PlaybackCheck):
                    await self._check_playback(call, event)
                    continue
                if isinstance(event, DESK_EVENTS):
                    await self._desk.on_event(call, event)
                    continue
                if isinstance(event, flow.PlaybackEnded):
                    self._disarm(call, event.playback_id)
                await self.handle(call, event)
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
                await self._desk.leave(call, "internal_error")

    async def handle(self, call: Call, event: flow.Event) -> None:
        """Hand a flow event to the call and carry out its commands (in its task)."""
        try:
            commands = call.flow.handle(event)
        except flow.FlowError as exc:
            log.error("call %s: %s", call.call_id, exc)
            commands = [flow.Hangup(), flow.Ended("internal_error")]
            call.flow.state = flow.State.ENDED
        for command in commands:
            await self._execute(call, command)
        self._save_state(call)

    def _save_state(self, call: Call) -> None:
        """Hand the flow's state to the recorder, if it changed since last saved."""
        snapshot = call.flow.snapshot()
        if snapshot != call.saved_state:
            call.saved_state = snapshot
            self._recorder.flow_state(call.call_id, snapshot)

    async def _abandon(self, call: Call, reason: str) -> None:
        self._parts.end_call(call.tag, reason, call.flow.department)
        await self._ari.hangup_quietly(call.call_id)

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
            await self.handle(call, flow.PlaybackEnded(playback_id, "done"))

    # -- the flow's commands -------------------------------------------------------------

    async def _execute(self, call: Call, command: flow.Command) -> None:
        """The commands on the caller's channel (and its timers); the rest is `_keep`."""
        channel = call.call_id
        ari = self._ari
        match command:
            case flow.Answer():
                await self._answer(call)
            case flow.Play(playback_id, prompts, seconds):
                await self._play(call, playback_id, prompts, seconds)
            case flow.StopPlayback(playback_id):
                await self._ari_call(call, ari.stop_playback(playback_id), gone_ok=True)
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
                await self._ari_call(call, ari.hangup(channel), gone_ok=True)
            case flow.StartMoh():
                await self._ari_call(call, ari.start_moh(channel, self._settings.moh_class))
            case flow.StopMoh():
                await self._ari_call(call, ari.stop_moh(channel), gone_ok=True)
            case flow.RecordMessage(name):
                await self._casework.execute(call, command)  # on record before the beep
                settings = self._settings
                recording = ari.record(
                    channel,
                    name,
                    max_seconds=settings.message_max_seconds,
                    max_silence=settings.message_silence_seconds,
                )
                await self._ari_call(call, recording)
            case _:
                await self._keep(call, command)

    async def _keep(self, call: Call, command: flow.Command) -> None:
        """The commands off the channel: records, the queue, casework."""
        channel = call.call_id
        match command:
            case flow.Step(kind, value, detail):
                self._recorder.step(channel, self._now(), kind, value, detail)
                if kind == "department":
                    self._recorder.department_reached(channel, value, self._guide.name(value))
                    call.path.append((value, detail or ""))
                    call.tag.department = value  # its log lines say where it is now
                    log.info("department %s (%s)", value, detail or "")
            case flow.Ended(reason):
                self._parts.end_call(call.tag, reason, call.flow.department)
                if call.joined:
                    await self._desk.leave(call, reason)
            case flow.JoinQueue(department):
                call.joined = True
                # The saved state says "in line" before the line does: a
                # controller killed in between leaves a call that is taken
                # back in line (and takes its place then), never one taken
                # back at the menu before with its place already held.
                self._save_state(call)
                await self._recorder.flush()
                position = await self._desk.join(channel, department, call.caller)
                self._recorder.step(channel, self._now(), "note", "queued", str(position))
                log.info("queued in %s's line at place %d", department, position)
                call.queue.put_nowait(flow.Queued(position))
            case flow.LeaveQueue(outcome):
                await self._desk.leave(call, outcome)
            case flow.RequestCallback():
                await self._desk.request_callback(call)
                await self._tell(call, self._casework.execute(call, command))
            case flow.RegisterCallback() | flow.LookupCase() | flow.MarkUrgent() | flow.Survey():
                await self._tell(call, self._casework.execute(call, command))

    @staticmethod
    async def _tell(call: Call, work: Awaitable[flow.Event | None]) -> None:
        """What casework answers (a case's number, a lookup) reaches the flow
        as its next event, in order with the caller's own."""
        answer = await work
        if answer is not None:
            call.queue.put_nowait(answer)

    async def _answer(self, call: Call) -> None:
        if not call.up:  # a channel the dialplan did not answer
            await self._ari_call(call, self._ari.answer(call.call_id))
            call.up = True
        self._recorder.call_answered(call.call_id, self._now())
        log.info("answered")

    async def _play(
        self, call: Call, playback_id: str, prompts: tuple[str, ...], seconds: float
    ) -> None:
        catalog, base_url = self._in_force.catalog, self._settings.prompt_base_url
        media, said_s = playlist(catalog, base_url, prompts)
        await self._ari_call(call, self._ari.play(call.call_id, playback_id, media))
        self._recorder.prompts_played(call.call_id, self._now(), prompts)
        check = PlaybackCheck(playback_id, stopped=False)
        self._arm(call, check, seconds + said_s + self._settings.playback_grace)

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


def playlist(catalog: Catalog, base_url: str, prompts: tuple[str, ...]) -> tuple[list[str], float]:
    """What ARI plays for `prompts`, and how long the catalog's prompts among
    them last (s). Runs of the catalog's prompts are joined into pages."""
    media: list[str] = []
    said_ms = 0
    run: list[str] = []
    for prompt in prompts:
        if prompt.startswith(RECORDING_MEDIA):
            media += catalog.page_uris(run, base_url)
            run = []
            media.append(prompt)  # the caller's own message, played back from Asterisk
        else:
            run.append(prompt)
            said_ms += catalog.duration_ms(prompt)
    media += catalog.page_uris(run, base_url)
    return media, said_ms / 1000
