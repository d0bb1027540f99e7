"""A call's state as saved for recovery, and back: the one place its format lives.

The controller saves `snapshot()` whenever it changes (the `flow_state`
column); a controller that takes the call back after the previous one died
rebuilds it with `restore()`. Saved states outlive releases, so the keys and
their meaning never change: a new field gets a default on restore.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ivr.call.guide import Guide
from ivr.call.state import MENU_KINDS, SERVICE_MENUS, CallState, ServiceMenu, State


def snapshot(call: CallState) -> dict[str, Any]:
    return {
        "department": call.department,
        "state": call.state.value,
        "menu": call.menu,
        "region": call.region,
        "page": call.page,
        "trail": list(call.trail),
        "silences": call.silences,
        "invalid": call.invalid,
        "counter": call.counter,
        # Asterisk plays on when the controller dies: whoever takes the
        # call back must stop this first, or its prompt queues behind.
        "playback_id": call.playback_id,
        "end_reason": call.end_reason,
        "service": call.service,
        "callback_ok": call.callback_ok,
        "queued": call.queued,
        "on_hold": call.on_hold,
        "choice_offered": call.choice_offered,
        "operator": call.operator,
        "recording": call.recording,
        "node": call.node,
        "menu_generation": call.menu_generation,
        "node_trail": list(call.node_trail),
        "misses": call.misses,
        "category": call.category,
        "message_source": call.message_source,
        "recorded_seconds": call.recorded_seconds,
        "empty_recordings": call.empty_recordings,
        "case_number": call.case_number,
        "case_said": call.case_said,
        "lookup_digits": call.lookup_digits,
        "lookup_answer": list(call.lookup_answer),
        "lookup_failures": call.lookup_failures,
        "number_due": call.number_due,
    }


def restore(
    call_id: str,
    data: dict[str, Any],
    guide: Guide,
    service_menus: Callable[[str], ServiceMenu] | None,
) -> CallState:
    """The call as `data` saved it, where the directory and the menus published
    since still have it; else from where they begin."""
    call = CallState(
        call_id=call_id,
        department=str(data.get("department", "")),
        state=State(data.get("state", State.PROMPTING.value)),
        region=str(data.get("region", "")),
        page=max(0, int(data.get("page", 0))),
        trail=[str(code) for code in data.get("trail", ()) if guide.knows(str(code))],
        silences=int(data.get("silences", 0)),
        invalid=int(data.get("invalid", 0)),
        # Ids issued before the crash must never be reused.
        counter=int(data.get("counter", 0)) + 100,
        playback_id=data.get("playback_id"),
        end_reason=data.get("end_reason"),
        callback_ok=bool(data.get("callback_ok", False)),
        service=data.get("service", "after_hours"),
        queued=bool(data.get("queued", False)),
        on_hold=bool(data.get("on_hold", False)),
        choice_offered=bool(data.get("choice_offered", False)),
        operator=data.get("operator"),
        recording=data.get("recording"),
        node=str(data.get("node", "")),
        menu_generation=int(data.get("menu_generation", 0)),
        node_trail=[str(n) for n in data.get("node_trail", ())],
        misses=int(data.get("misses", 0)),
        category=str(data.get("category", "")),
        message_source=data.get("message_source"),
        recorded_seconds=float(data.get("recorded_seconds", 0.0)),
        empty_recordings=int(data.get("empty_recordings", 0)),
        case_number=str(data.get("case_number", "")),
        case_said=str(data.get("case_said", "")),
        lookup_digits=str(data.get("lookup_digits", "")),
        lookup_answer=tuple(str(p) for p in data.get("lookup_answer", ())),
        lookup_failures=int(data.get("lookup_failures", 0)),
        number_due=bool(data.get("number_due", False)),
    )
    saved = data.get("menu")
    call.menu = next((kind for kind in MENU_KINDS if kind == saved), "guidance")
    _still_there(call, guide, service_menus)
    return call


def _still_there(
    call: CallState, guide: Guide, service_menus: Callable[[str], ServiceMenu] | None
) -> None:
    """Put a restored call back where it can be, if what it was at changed."""
    if not guide.knows(call.department) or (call.region and not guide.knows(call.region)):
        # The directory changed under the call: start again from the default.
        call.department, call.region, call.menu, call.trail = guide.default, "", "regions", []
    if call.menu in SERVICE_MENUS and service_menus is None:
        call.menu = "guidance"
    elif service_menus is not None and call.menu == "service":
        known = service_menus(call.department)
        if not all(known.has(n) for n in (call.node, *call.node_trail)):
            # The menu was changed and published under the call: its top.
            call.node, call.node_trail = known.root, []
