"""The call machine's table (ivr/call/table.py), read as data: what every state
takes, that every menu has its row, and that an ended call stays ended."""

from __future__ import annotations

from ivr.call.flow import (
    CallFlow,
    HungUp,
    KeyPressed,
    OperatorConnected,
    OperatorLeft,
    PlaybackEnded,
    Queued,
    QueueUpdate,
    RecordingEnded,
    Resumed,
    Started,
    State,
    TimerFired,
)
from ivr.call.state import MENU_KINDS, CallState, Context
from ivr.call.table import LATE_NEWS, MENU_TABLE, STATE_TABLE, compose
from ivr.call.turns import MenuRow
from tests.test_flow import CONFIG, GUIDE, HEFEI, silence


def table() -> dict[State, dict[type, object]]:
    return {state: dict(row) for state, row in STATE_TABLE.items()}


def test_every_state_has_a_row_and_takes_what_the_queue_and_the_recorder_report() -> None:
    rows = table()
    assert set(rows) == set(State)
    for state, row in rows.items():
        assert set(LATE_NEWS) <= set(row), state


def test_only_a_new_call_starts() -> None:
    rows = table()
    assert [state for state, row in rows.items() if Started in row] == [State.NEW]


def test_every_menu_has_its_row_and_each_path_leads_to_a_part() -> None:
    assert tuple(MENU_TABLE) == MENU_KINDS
    parts = compose(CallState("c1", HEFEI), Context(GUIDE, CONFIG))
    for kind in MENU_KINDS:
        menu = parts.turns.menus[kind]
        assert isinstance(menu, MenuRow)
        assert all(callable(step) for step in vars(menu).values()), kind


def test_an_ended_call_ignores_everything_it_takes() -> None:
    flow = CallFlow("c1", GUIDE, HEFEI, CONFIG, desk=lambda _: "operators")
    flow.handle(Started())
    silence(flow)  # in the queue
    flow.handle(HungUp())
    assert flow.state is State.ENDED
    late = [
        KeyPressed("1"),
        PlaybackEnded(flow.playback_id or "p", "done"),
        TimerFired("t"),
        HungUp(),
        Resumed(),
        Queued(1),
        QueueUpdate(1, over_limit=True),
        OperatorConnected("op1"),  # an operator answering a caller who left
        OperatorLeft(),
        RecordingEnded("m", 3.0),
    ]
    for event in late:
        assert flow.handle(event) == []
    assert flow.state is State.ENDED
