"""After every (re)connect: take back, or end politely, every channel of ours.

Theory of operation. Every call the controller takes has a record, and its
flow is saved there whenever it changes. When the connection to Asterisk
comes back (or a controller starts), `recover`:

- ends the calls whose channel went while nobody listened (`channel_gone`,
  or `node_lost` when Asterisk itself restarted and took them with it);
- resynchronises live calls: answered if the answer never ran, told their
  prompt is over if it ended unheard;
- takes back each call with an open record where the caller was (a queued
  caller keeps their place in line), starts a channel with no record as a
  new call, and ends any other channel of ours politely;
- gives operators' legs back to their calls, or hangs them up;
- frees the places and operators of calls that are gone.

It works through the public faces of the calls (`CallRegistry`), the desk
and the message box, and asks Asterisk itself what is left.
"""

from __future__ import annotations

import logging

from ivr.ari.models import Channel
from ivr.call import flow
from ivr.cases.messages import MessageBox
from ivr.db.queries import SavedCall, open_calls, saved_calls
from ivr.desk.desk import LEG_ARG, Desk, Leg
from ivr.errors import AriError
from ivr.logs import CallTag, about_call
from ivr.stasis.calls import EVENTS_USED, Call, call_args, stasis_args
from ivr.stasis.features import FEATURE_ARG
from ivr.stasis.parts import Collaborators
from ivr.stasis.registry import CallRegistry

log = logging.getLogger(__name__)

# A callback's record says `dialed: callback`, and reads the entry it serves.
CALLBACK_DIALED = "callback"
# How a call ends that no event will ever end: its channel went while nobody
# listened, or its Asterisk died with it.
CHANNEL_GONE = "channel_gone"
NODE_LOST = "node_lost"


class Recovery:
    def __init__(
        self, parts: Collaborators, calls: CallRegistry, desk: Desk, messages: MessageBox
    ) -> None:
        self._parts = parts
        self._ari = parts.ari
        self._settings = parts.settings
        self._sessionmaker = parts.sessionmaker
        self._recorder = parts.recorder
        self._calls = calls
        self._desk = desk
        self._messages = messages
        # When the Asterisk we last connected to started: another start means
        # it restarted, and every call it had is lost with it.
        self._asterisk_started: str | None = None

    async def lost(self) -> None:
        """Asterisk has not answered for `node_lost_after`: the calls it
        carried are gone with it (a live Asterisk would have let us back)."""
        self._end_calls_gone(set(), NODE_LOST)
        await self._close_records_gone(set(), NODE_LOST)
        await self._desk.sweep(set())
        # Nor can it ring anyone's phone: what we said of them is void.
        self._desk.forget_phones()

    async def recover(self) -> None:
        try:
            await self._ari.filter_events(EVENTS_USED)
        except AriError as exc:
            # Only costs bandwidth: the controller ignores other events.
            log.warning("Asterisk did not take the event filter: %s", exc)
        self._desk.forget_phones()
        await self._desk.refresh()
        gone = await self._gone_reason()
        channels = await self._ari.channels()
        live = {channel.id for channel in channels}
        self._end_calls_gone(live, gone)
        by_id = {channel.id: channel for channel in channels}
        for call in list(self._calls.values()):
            if call.call_id in by_id:
                await self._resync(call, by_id[call.call_id])
        legs: list[Channel] = []
        callers: list[Channel] = []
        for channel in channels:
            if channel.id in self._calls or not self._is_ours(channel):
                continue
            if stasis_args(channel)[1:2] in ([LEG_ARG], [FEATURE_ARG]):
                legs.append(channel)  # once their callers are back
            else:
                callers.append(channel)
        # Their records in one query: a takeover brings dozens of calls back.
        async with self._sessionmaker() as session:
            saved = await saved_calls(session, [channel.id for channel in callers])
        for channel in callers:
            await self._take_back(channel, saved.get(channel.id))
        for channel in legs:
            await self._take_back_leg(channel)
        await self._settle_messages()
        # By queue entry: a callback's channel serves the entry of the call that asked.
        await self._desk.sweep({call.entry_id for call in self._calls.values()})
        await self._close_records_gone(live, gone)

    async def _gone_reason(self) -> str:
        """Why calls whose channel is gone ended: the caller left while
        nobody listened, or Asterisk restarted (its start time changed)."""
        try:
            info = await self._ari.info()
        except AriError as exc:
            log.warning("Asterisk's start time unknown (%s): calls gone count as channel_gone", exc)
            return CHANNEL_GONE
        started = str(info.get("status", {}).get("startup_time", ""))
        restarted = self._asterisk_started not in (None, started)
        self._asterisk_started = started
        return NODE_LOST if restarted else CHANNEL_GONE

    def _end_calls_gone(self, live: set[str], reason: str) -> None:
        for call_id, call in list(self._calls.items()):
            if call_id not in live and call.task is not None:
                # Its channel went while nobody listened (Asterisk restarted,
                # or the caller left): no event will ever end this call.
                call.task.cancel()
                self._parts.end_call(call.tag, reason, call.flow.department)

    async def _close_records_gone(self, live: set[str], reason: str) -> None:
        """Calls this node recorded as open whose channel is gone (Asterisk
        restarted, or the caller left while nobody listened)."""
        async with self._sessionmaker() as session:
            stale = await open_calls(session, node=self._settings.node_name)
        for view in stale:
            if view.id not in live and view.id not in self._calls:
                tag = CallTag(view.id, view.sip_call_id or "", view.department_code)
                self._parts.end_call(
                    tag, reason, view.department_code, how=" (its record was open)"
                )

    async def _resync(self, call: Call, channel: Channel) -> None:
        """Settle a live call with what happened while nobody listened.

        A prompt that ended then sent its event to no one, and a command sent as
        the connection dropped may never have run: the call would wait for good."""
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
        return stasis_args(channel)[0] == self._settings.ari_app

    async def _take_back(self, channel: Channel, view: SavedCall | None) -> None:
        if view is None:
            # No record: a call that entered Stasis while we connected (its
            # StasisStart waits behind this recovery), one the previous
            # controller never took, or one it took in the last moments
            # before its records were written. Served as a new call.
            log.info("starting call %s found in Stasis", channel.id)
            self._calls.start_call(channel, *call_args(stasis_args(channel)[1:], channel))
            return
        if not view.ended and view.flow_state:
            # A callback's record reads the entry of the call that asked for it.
            entry_id = view.route_read if view.dialed == CALLBACK_DIALED else None
            menus = await self._calls.saved_menus(view.flow_state)
            call = self._calls.resume(
                channel.id,
                view.flow_state,
                view.caller,
                entry_id,
                menus,
                sip_call_id=channel.protocol_id or "",
            )
            with about_call(call.tag):
                log.info("taking back call %s (%s)", channel.id, call.flow.state.value)
            placed = not call.flow.queued or await self._desk.rejoin(channel.id, call.entry_id)
            if not placed and call.entry_id == channel.id:
                # Saved as in line by a controller that died before taking
                # the place (`CallRunner`, JoinQueue): it takes one now.
                await self._desk.join(channel.id, call.flow.department, call.caller)
            self._calls.launch(call, flow.Resumed())
            return
        log.info("ending orphaned channel %s politely", channel.id)
        self._calls.end_orphan(channel)

    async def _take_back_leg(self, channel: Channel) -> None:
        """An operator's leg left by a controller that died: back to its call, or hung up."""
        args = stasis_args(channel)
        call = self._calls.get(args[2] if len(args) > 2 else "")
        if channel.id in self._desk.legs:
            return
        if (
            call is not None
            and args[1] == LEG_ARG
            and call.flow.state is flow.State.CONNECTED
            and call.leg is None
        ):
            operator = self._desk.operator(call.flow.operator or "")
            if operator is not None:
                with about_call(call.tag):
                    log.info("taking back operator leg %s of call %s", channel.id, call.call_id)
                call.leg = Leg(channel.id, operator, answered=True, bridge_id=f"{call.call_id}-b")
                self._desk.legs[channel.id] = call.call_id
                return
        log.info("hanging up operator channel %s: its call is gone", channel.id)
        await self._ari.hangup_quietly(channel.id)

    async def _settle_messages(self) -> None:
        """Messages whose recording ended while nobody listened, and those left in
        the native fallback, become cases now."""
        try:
            settled = await self._messages.settle()
            await self._messages.import_fallback()
        except AriError as exc:
            log.warning("messages not settled now (Asterisk: %s); next reconnect", exc)
            return
        for call in self._calls.values():
            name = call.flow.recording
            if name in settled and call.flow.state is flow.State.RECORDING:
                call.queue.put_nowait(flow.RecordingEnded(name, settled[name]))
