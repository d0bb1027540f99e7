"""The calls this controller carries: how each begins, its task, its end.

`CallRegistry` holds the controller's calls by channel id; to everyone else
it is a read-only mapping. Every way a call begins ends in `launch`, which
gives the call its own task (`CallRunner.run`, `ivr/stasis/runner.py`) and
forgets the call when that task ends:

- `start_call`: a caller entered Stasis (or recovery found one nobody ever
  answered); routed by the directory, its record opened;
- `start_callback`: the caller answered our callback, already in line;
- `resume`: a call a dead controller left, its flow restored from the record;
- `end_orphan`: a channel of ours with nothing to resume, ended politely.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from ivr.ari.models import Channel
from ivr.call import flow
from ivr.call.guide import Guide
from ivr.desk.desk import PlacedCallback
from ivr.directory.numbers import read_caller
from ivr.directory.routing import Department
from ivr.logs import about_call, enter_call
from ivr.stasis.calls import Call
from ivr.stasis.parts import Collaborators, InForce

log = logging.getLogger(__name__)


class CallRegistry(Mapping[str, Call]):
    def __init__(
        self,
        parts: Collaborators,
        in_force: InForce,
        guide: Guide,
        service: Callable[[str], flow.Service],
        run: Callable[[Call], Awaitable[None]],
    ) -> None:
        """`service` says who answers a department now (the desk's);
        `run` is a call's task, from its first event to its end."""
        self._settings = parts.settings
        self._recorder = parts.recorder
        self._metrics = parts.metrics
        self._directory = parts.directory
        self._now = parts.clock
        self._in_force = in_force
        self._guide = guide
        self._service = service
        self._run = run
        self._config = flow.FlowConfig(
            digit_timeout=parts.settings.digit_timeout,
            front_timeout=parts.settings.front_timeout,
            max_silences=parts.settings.max_silences,
            max_invalid=parts.settings.max_invalid,
            survey=parts.settings.survey,
        )
        self._calls: dict[str, Call] = {}

    def __getitem__(self, call_id: str) -> Call:
        return self._calls[call_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._calls)

    def __len__(self) -> int:
        return len(self._calls)

    def post(self, call_id: str, event: object) -> bool:
        """Put an event in a call's queue; False if there is no such call."""
        call = self._calls.get(call_id)
        if call is None:
            return False
        call.queue.put_nowait(event)  # type: ignore[arg-type]  # the desk's events
        return True

    # -- how a call begins ----------------------------------------------------------

    def start_call(self, channel: Channel, dialed: str, origin: str) -> None:
        route = self._directory.resolve(channel.caller.number, dialed, origin)
        now = self._record_start(channel, dialed, route.department, route.rule, route.read)
        for line in route.steps:
            self._recorder.step(channel.id, now, "route", line)
        unplaced = route.rule == "default"
        call = self._new_call(
            channel, route.department, channel.caller.number, choose_region=unplaced
        )
        with about_call(call.tag):
            # The controller's half of the pair Asterisk's dialplan logs as
            # the call enters (dialplan/extensions.conf): SIP Call-ID, UNIQUEID.
            log.info(
                "call started on %s: dialed %s, routed to %s by %s",
                channel.name,
                dialed,
                route.department.code,
                route.rule,
            )
        self.launch(call, flow.Started())

    def start_callback(self, channel: Channel, placed: PlacedCallback) -> None:
        """The caller answered our callback: a call of its own, already in line."""
        department = self._directory.by_code(placed.department)
        # The record's caller is who we called, not the 12371 we called from.
        self._record_start(
            channel, "callback", department, "callback", placed.entry_id, caller=placed.caller
        )
        call = self._new_call(channel, department, placed.caller, choose_region=False)
        call.entry_id, call.joined = placed.entry_id, True
        with about_call(call.tag):
            log.info("callback answered on %s for call %s", channel.name, placed.entry_id)
        self.launch(call, flow.CalledBack())

    async def saved_menus(
        self, saved: dict[str, Any]
    ) -> Callable[[str], flow.ServiceMenu] | None:
        """The service menus a saved call started with (its generation), if
        they can still be read; else those in force."""
        return await self._in_force.service_menus_of(int(saved.get("menu_generation") or 0))

    def resume(
        self,
        channel_id: str,
        saved: dict[str, Any],
        caller: str,
        entry_id: str | None,
        menus: Callable[[str], flow.ServiceMenu] | None = None,
        sip_call_id: str = "",
    ) -> Call:
        """A call with its flow as a dead controller saved it, ready to
        `launch`; `entry_id` is the queue entry it serves when not its own;
        `menus` the service menus it started with (`saved_menus`), else those
        in force."""
        restored = flow.CallFlow.restore(
            channel_id,
            saved,
            self._guide,
            self._config,
            self._service,
            menus if menus is not None else self._in_force.service_menus(),
        )
        call = Call(channel_id, restored, caller, sip_call_id=sip_call_id)
        if entry_id is not None:
            call.entry_id = entry_id
        restored.callback_ok = self._can_call_back(call.caller)
        call.joined = restored.queued or restored.state is flow.State.CONNECTED
        return call

    def end_orphan(self, channel: Channel) -> None:
        """A channel of ours whose record has nothing to resume from (ended,
        or no flow state yet): told politely, then hung up."""
        default = self._directory.default
        call = self._new_call(channel, default, channel.caller.number, choose_region=False)
        self.launch(call, flow.Orphaned())

    def launch(self, call: Call, first: flow.Event) -> None:
        self._calls[call.call_id] = call
        call.queue.put_nowait(first)
        call.task = asyncio.get_running_loop().create_task(
            self._carry(call), name=f"call-{call.call_id}"
        )

    async def close(self) -> None:
        """Stop every call's task; their channels stay in Stasis for the next controller."""
        tasks = [call.task for call in self._calls.values() if call.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- inside -----------------------------------------------------------------------

    async def _carry(self, call: Call) -> None:
        enter_call(call.tag)  # this task's copy of the context: its lines are the call's
        try:
            await self._run(call)
        finally:
            self._calls.pop(call.call_id, None)

    def _new_call(
        self, channel: Channel, department: Department, caller: str, *, choose_region: bool
    ) -> Call:
        call_flow = flow.CallFlow(
            channel.id,
            self._guide,
            department.code,
            self._config,
            choose_region=choose_region,
            desk=self._service,
            callback_ok=self._can_call_back(caller),
            menus=self._in_force.service_menus(),
        )
        call_flow.call.menu_generation = self._in_force.generation
        return Call(
            channel.id,
            call_flow,
            caller,
            up=channel.state == "Up",
            sip_call_id=channel.protocol_id or "",
        )

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
        self._metrics.call_started(department.code)
        return now
