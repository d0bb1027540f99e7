"""After every (re)connect: take back, or end politely, every channel of ours.

Theory of operation. Every channel the controller takes is marked with
`IVR_CALL`, and each call's flow is saved whenever it changes. When the
connection to Asterisk comes back (or a controller starts), `recover`:

- ends the calls whose channel went while nobody listened (`channel_gone`);
- resynchronises live calls: answered if the answer never ran, told their
  prompt is over if it ended unheard;
- takes back each call with an open record where the caller was (a queued
  caller keeps their place in line), starts a channel nobody ever answered
  as a new call, and ends any other channel of ours politely;
- gives operators' legs back to their calls, or hangs them up;
- frees the places and operators of calls that are gone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ivr.ari.models import Channel
from ivr.call import flow
from ivr.db.queries import get_call, open_calls
from ivr.desk.desk import LEG_ARG, Leg
from ivr.desk.phones import FEATURE_ARG
from ivr.errors import AriError
from ivr.stasis.calls import EVENTS_USED, MARK_VARIABLE, Call, call_args, stasis_args

if TYPE_CHECKING:
    from ivr.stasis.controller import Controller

log = logging.getLogger(__name__)

# A callback's record says `dialed: callback`, and reads the entry it serves.
CALLBACK_DIALED = "callback"


async def recover(controller: Controller) -> None:
    ari = controller._ari
    try:
        await ari.filter_events(EVENTS_USED)
    except AriError as exc:
        # Only costs bandwidth: the controller ignores other events.
        log.warning("Asterisk did not take the event filter: %s", exc)
    controller.desk.forget_phones()
    await controller.desk.refresh()
    channels = await ari.channels()
    live = {channel.id for channel in channels}
    for call_id, call in list(controller.calls.items()):
        if call_id not in live and call.task is not None:
            # Its channel went while nobody listened (Asterisk restarted,
            # or the caller left): no event will ever end this call.
            call.task.cancel()
            controller._recorder.call_ended(call_id, controller._now(), "channel_gone")
    by_id = {channel.id: channel for channel in channels}
    for call in list(controller.calls.values()):
        if call.call_id in by_id:
            await _resync(controller, call, by_id[call.call_id])
    legs: list[Channel] = []
    for channel in channels:
        if channel.id in controller.calls or not _is_ours(controller, channel):
            continue
        if stasis_args(channel)[1:2] in ([LEG_ARG], [FEATURE_ARG]):
            legs.append(channel)  # once their callers are back
            continue
        await _take_back(controller, channel)
    for channel in legs:
        await _take_back_leg(controller, channel)
    await _settle_messages(controller)
    # By queue entry: a callback's channel serves the entry of the call that asked.
    await controller.desk.sweep({call.entry_id for call in controller.calls.values()})
    # Calls this node recorded as open whose channel is gone (Asterisk
    # restarted, or the caller left while nobody listened).
    async with controller._sessionmaker() as session:
        stale = await open_calls(session, node=controller._settings.node_name)
    for view in stale:
        if view.id not in live and view.id not in controller.calls:
            controller._recorder.call_ended(view.id, controller._now(), "channel_gone")


async def _resync(controller: Controller, call: Call, channel: Channel) -> None:
    """Settle a live call with what happened while nobody listened.

    A prompt that ended then sent its event to no one, and a command sent as
    the connection dropped may never have run: the call would wait for good."""
    if call.task is None or call.task.done():
        return
    if channel.state != "Up" and call.flow.state is not flow.State.NEW:
        await controller._ari.answer(call.call_id)
    playback_id = call.flow.playback_id
    if playback_id is not None and not await controller._ari.playback_exists(playback_id):
        call.queue.put_nowait(flow.PlaybackEnded(playback_id, "done"))


def _is_ours(controller: Controller, channel: Channel) -> bool:
    plan = channel.dialplan
    if plan.app_name is None or plan.app_name.lower() != "stasis":
        return False
    return stasis_args(channel)[0] == controller._settings.ari_app


async def _take_back(controller: Controller, channel: Channel) -> None:
    async with controller._sessionmaker() as session:
        view = await get_call(session, channel.id)
    marked = await controller._ari.get_variable(channel.id, MARK_VARIABLE)
    if view is None and marked is None:
        # No controller ever took it: a call that entered Stasis while we
        # connected (its StasisStart waits behind this recovery), or one the
        # previous controller died before answering. A new call.
        log.info("starting call %s found in Stasis", channel.id)
        controller._start_call(channel, *call_args(stasis_args(channel)[1:], channel))
        return
    if view is not None and view.ended_at is None and view.flow_state:
        restored = flow.CallFlow.restore(
            channel.id,
            view.flow_state,
            controller._guide,
            controller._config,
            controller.desk.service,
            controller.service_menus(),
        )
        log.info("taking back call %s (%s)", channel.id, restored.state.value)
        call = Call(channel.id, restored, view.caller)
        if view.dialed == CALLBACK_DIALED:
            call.entry_id = view.route_read  # the call that asked for it
        restored.callback_ok = controller._can_call_back(call.caller)
        call.joined = restored.queued or restored.state is flow.State.CONNECTED
        if restored.queued:
            await controller.desk.rejoin(channel.id, call.entry_id)
        controller._launch(call, flow.Resumed())
        return
    log.info("ending orphaned channel %s politely", channel.id)
    default = controller._directory.default
    if view is None:
        dialed, _ = call_args(stasis_args(channel)[1:], channel)
        controller._record_start(channel, dialed, default, "default", "")
    call = controller._new_call(channel.id, default, channel.caller.number, choose_region=False)
    controller._launch(call, flow.Orphaned())


async def _take_back_leg(controller: Controller, channel: Channel) -> None:
    """An operator's leg left by a controller that died: back to its call, or hung up."""
    args = stasis_args(channel)
    call = controller.calls.get(args[2] if len(args) > 2 else "")
    if channel.id in controller.desk.legs:
        return
    if (
        call is not None
        and args[1] == LEG_ARG
        and call.flow.state is flow.State.CONNECTED
        and call.leg is None
    ):
        operator = controller.desk.operator(call.flow.operator or "")
        if operator is not None:
            log.info("taking back operator leg %s of call %s", channel.id, call.call_id)
            call.leg = Leg(channel.id, operator, answered=True, bridge_id=f"{call.call_id}-b")
            controller.desk.legs[channel.id] = call.call_id
            return
    log.info("hanging up operator channel %s: its call is gone", channel.id)
    await controller._drop(channel.id)


async def _settle_messages(controller: Controller) -> None:
    """Messages whose recording ended while nobody listened, and those left in
    the native fallback, become cases now."""
    try:
        settled = await controller.messages.settle()
        await controller.messages.import_fallback()
    except AriError as exc:
        log.warning("messages not settled now (Asterisk: %s); next reconnect", exc)
        return
    for call in controller.calls.values():
        name = call.flow.recording
        if name in settled and call.flow.state is flow.State.RECORDING:
            call.queue.put_nowait(flow.RecordingEnded(name, settled[name]))
