"""The ARI layer: the real controller, client, recorder, directory and prompts
against the in-process fake ARI server, over real TCP and an SQLite database.

Every wait is on a condition with a generous timeout; only the slow-call test
compares durations, against a bound far above what the work needs.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ivr import logs
from ivr.ari.client import AriClient
from ivr.audio import build as prompts
from ivr.audio.catalog import Catalog, PromptEntry
from ivr.call import flow
from ivr.call.guide import Guide
from ivr.cases.registry import Cases
from ivr.cli.serve import HOURS_FILE, QUEUES_FILE
from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade
from ivr.db.models import Call, OperatorRow, QueueEntryRow
from ivr.db.queries import CallView, get_call
from ivr.db.recorder import Recorder
from ivr.desk import line_store, operator_store, queues
from ivr.directory.routing import Directory
from ivr.errors import AriError
from ivr.metrics import Metrics
from ivr.publish import hours as working_hours
from ivr.publish import menus as menu
from ivr.publish.in_force import Published, prompt_file
from ivr.publish.menus import NATIONAL, MenuBook
from ivr.settings import REPO_ROOT, Settings
from ivr.stasis.calls import EVENTS_USED
from ivr.stasis.controller import Controller
from ivr.stasis.parts import Collaborators

from .fake_ari import WAIT, FakeAri, RestRequest, running, wait_until
from .test_messages import wav

# A small directory (tests/data), so the prompts build in a moment.
DIRECTORY = Directory.load(Path(__file__).parent / "data" / "departments.csv")
PROMPT_SPEC = REPO_ROOT / "prompts" / "prompts.yaml"
PROMPT_BASE = "http://127.0.0.1:8080"
NODE = "node-a"
HEFEI_CALLER = "055162345678"
SHANGHAI_CALLER = "02154321000"
# One invalid key ends a call here, so `*` (nowhere to go back to yet) ends
# a call in one key, the way a caller would hang up.
END_KEY = "*"
PERSON_KEY = "1"  # in hours, the front page's key for a person
ENDED = "invalid_input"
# Hefei's front page: a message (after hours), its counties, another region.
HEFEI_CHOICES = ("front.message", "front.below", "menu.other_region", "menu.repeat")
HEFEI_COUNTIES = (
    "place.340121", "menu.press", "digit.1",
    "place.340122", "menu.press", "digit.2",
    "menu.back", "menu.repeat",
)


def greeting(code: str) -> tuple[str, ...]:
    # No operators here: every department is answered as after hours.
    return ("greeting.hello", f"dept.{code}", "greeting.hotline", "hours.closed")


HEFEI = (*greeting("340100"), *HEFEI_CHOICES)
SHANGHAI = (*greeting("310000"), "front.message", "menu.other_region", "menu.repeat")
CENTRAL = (*greeting("000000"), *HEFEI_CHOICES)
# Short, so silence tests are quick; nothing else waits on it.
DIGIT_TIMEOUT = 0.2
# How late the fake answers every request about the slow call.
SLOW_DELAY = 1.0


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return prompts.build(PROMPT_SPEC, DIRECTORY, tmp_path_factory.mktemp("prompts"))


class Node:
    """One controller process: its ARI client, its controller, its event reader."""

    def __init__(self, rig: Rig, clock: Callable[[], datetime], **parts: Any) -> None:
        self.rig = rig
        self.clock = clock
        self.parts = parts  # more Collaborators: published menus, say
        self.ari = AriClient(rig.settings, rig.metrics)
        self.controller: Controller | None = None
        self.events: asyncio.Task[None] | None = None

    async def start(self) -> Controller:
        await self.ari.__aenter__()
        rig = self.rig
        self.controller = Controller(
            Collaborators(
                settings=rig.settings,
                ari=self.ari,
                recorder=rig.recorder,
                sessionmaker=rig.sessions,
                clock=self.clock,
                directory=DIRECTORY,
                queues=queues.load(QUEUES_FILE, DIRECTORY),
                cases=Cases(rig.sessions, DIRECTORY, lambda: datetime.now(UTC)),
                catalog=rig.catalog,
                hours=working_hours.load(HOURS_FILE, DIRECTORY),
                metrics=rig.metrics,
                **self.parts,
            )
        )
        self.events = asyncio.create_task(
            self.ari.run_events(self.controller.recover, self.controller.on_event)
        )
        return self.controller

    async def stop(self) -> None:
        """Stop as a killed controller would: calls are left in Stasis, records open."""
        if self.events is not None:
            self.events.cancel()
            await asyncio.gather(self.events, return_exceptions=True)
            self.events = None
        if self.controller is not None:
            await self.controller.close()
        await self.ari.__aexit__(None, None, None)


class Rig:
    def __init__(
        self,
        fake: FakeAri,
        settings: Settings,
        engine: AsyncEngine,
        recorder: Recorder,
        catalog: Catalog,
    ) -> None:
        self.fake = fake
        self.settings = settings
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)
        self.recorder = recorder
        self.catalog = catalog
        self.nodes: list[Node] = []
        self.metrics = Metrics()  # every node's, as in one process

    @property
    def controller(self) -> Controller:
        controller = self.nodes[-1].controller
        assert controller is not None
        return controller

    async def start_node(
        self, clock: Callable[[], datetime] = lambda: datetime.now(UTC), **parts: Any
    ) -> Node:
        node = Node(self, clock, **parts)
        self.nodes.append(node)
        listings = self.listings()
        await node.start()
        await self.fake.wait_connected(self.fake.ws_connects + 1)
        # Recovery lists the channels before any event is read. A channel
        # added once that list was made is new to this connection's recovery.
        await self.wait_listings(len(listings) + 1)
        # And it ends by closing this node's open records whose channel was
        # not listed: a test's records must come after that.
        controller = node.controller
        assert controller is not None
        await wait_until(lambda: controller.recoveries >= 1, what="the first recovery to end")
        return node

    def listings(self) -> list[RestRequest]:
        """Recovery's GET /channels requests so far."""
        return [r for r in self.fake.requests if r.method == "GET" and r.path == "/channels"]

    async def wait_listings(self, count: int) -> None:
        def answered() -> bool:
            listings = self.listings()
            return len(listings) >= count and listings[count - 1].status is not None

        await wait_until(answered, what=f"recovery's channel listing #{count}")

    def media(self, *prompt_ids: str) -> list[str]:
        """What ARI is asked to play for prompts said in turn: one URL, of the
        prompt's file or of the prompt server's page joining them (the URL's
        form is tested in test_prompts.py)."""
        return self.catalog.page_uris(prompt_ids, PROMPT_BASE)

    async def record(self, call_id: str) -> CallView | None:
        await self.recorder.flush()
        async with self.sessions() as session:
            return await get_call(session, call_id)

    async def wait_record(
        self, call_id: str, check: Callable[[CallView], bool], what: str
    ) -> CallView:
        deadline = asyncio.get_running_loop().time() + WAIT
        while True:
            view = await self.record(call_id)
            if view is not None and check(view):
                return view
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}; record: {view}")
            await asyncio.sleep(0.02)

    async def call_done(self, call_id: str) -> CallView:
        """Wait until the call's record is closed and the call left the controller."""
        await self.wait_record(call_id, lambda v: v.ended_at is not None, f"{call_id} to end")
        await wait_until(lambda: call_id not in self.controller.calls, what=f"{call_id} to leave")
        view = await self.record(call_id)
        assert view is not None
        return view

    async def wait_play(self, channel_id: str, count: int = 1) -> list[str]:
        """The media of the `count`-th play on a channel, once it was answered."""

        def played() -> bool:
            plays = [
                r
                for r in self.fake.requests_for(channel_id)
                if r.method == "POST" and "/play/" in r.path
            ]
            return len(plays) >= count and plays[count - 1].status is not None

        await wait_until(played, what=f"play #{count} on {channel_id}")
        return self.fake.plays(channel_id)[count - 1]

    def playback_id(self, channel_id: str, count: int = 1) -> str:
        plays = [
            r.path
            for r in self.fake.requests_for(channel_id)
            if r.method == "POST" and "/play/" in r.path
        ]
        return plays[count - 1].rsplit("/", 1)[1]


@pytest.fixture
async def rig(tmp_path: Path, catalog: Catalog) -> AsyncIterator[Rig]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.sqlite3'}"
    await upgrade(database_url)
    engine = make_engine(database_url)
    async with running() as fake:
        settings = Settings(
            state_dir=tmp_path,
            database_url=database_url,
            prompt_base_url=PROMPT_BASE,
            node_name=NODE,
            digit_timeout=DIGIT_TIMEOUT,
            max_silences=2,
            max_invalid=1,
            ari_reconnect_min=0.05,
            ari_reconnect_max=0.5,
            ari_request_timeout=30.0,
            record_flush_interval=0.01,
            **fake.settings(),
        )
        recorder = Recorder(engine, flush_interval=0.01)
        await recorder.start()
        setup = Rig(fake, settings, engine, recorder, catalog)
        try:
            yield setup
        finally:
            for node in reversed(setup.nodes):
                await node.stop()
            await recorder.stop()
    await engine.dispose()


@pytest.fixture
async def node(rig: Rig) -> Node:
    return await rig.start_node()


def summary(view: CallView) -> list[tuple[str, str, str | None]]:
    """The call's steps without the route lines."""
    return [(s.kind, s.value, s.detail) for s in view.steps if s.kind != "route"]


def commands(fake: FakeAri, channel: str) -> list[str]:
    """What the controller told Asterisk to do with a channel (no questions asked)."""
    return [call for call in fake.calls_of(channel) if not call.startswith("GET ")]


def route_lines(caller: str, dialed: str = "12371") -> list[str]:
    return list(DIRECTORY.resolve(caller, dialed).steps)


# One call, start to end ---------------------------------------------------------------


async def test_a_call_is_answered_greeted_and_ended_by_a_key(rig: Rig, node: Node) -> None:
    fake = rig.fake
    channel = "1763892000.11"
    await fake.stasis_start(channel, HEFEI_CALLER, "12371")

    media = await rig.wait_play(channel)
    assert media == rig.media(*HEFEI)
    # One page: Asterisk opens one file, not one per prompt.
    page = (
        rf"sound:{PROMPT_BASE}/prompts/join/"
        r"greeting\.hello-[0-9a-f]{16}\+dept\.340100-[0-9a-f]{16}\+.+\.wav"
    )
    assert re.fullmatch(page, media[0])
    play = fake.requests_for(channel)[1]
    assert play.params == [("media", ",".join(media))], "media must be ONE comma-separated value"
    assert fake.calls_of(channel) == [
        f"POST /channels/{channel}/answer",
        f"POST /channels/{channel}/play/{channel}-p1",
    ]
    assert fake.channels[channel].state == "Up"

    await fake.dtmf(channel, END_KEY)
    assert await rig.wait_play(channel, 2) == rig.media("goodbye")
    assert fake.calls_of(channel)[2:] == [
        f"DELETE /playbacks/{channel}-p1",
        f"POST /channels/{channel}/play/{channel}-p2",
    ]

    await fake.playback_finished(f"{channel}-p2", channel)
    hangup = await fake.wait_request("DELETE", f"/channels/{re.escape(channel)}")
    assert hangup.params == [("reason", "normal")]
    view = await rig.call_done(channel)

    assert view.department_code == "340100"
    assert view.department_name == "中共合肥市委组织部"
    assert (view.caller, view.dialed, view.node) == (HEFEI_CALLER, "12371", NODE)
    assert view.sip_call_id == f"{channel}@fake-sipp"
    assert view.route_rule == "caller_area_code" and view.route_read == "0551"
    assert view.answered_at is not None and view.ended_at is not None
    assert view.end_reason == ENDED
    assert [s.value for s in view.steps if s.kind == "route"] == route_lines(HEFEI_CALLER)
    assert summary(view) == [
        ("department", "340100", "routed"),
        ("note", "service", "after_hours"),
        *[("prompt", prompt, None) for prompt in HEFEI],
        ("key", END_KEY, None),
        ("note", "closing", ENDED),
        ("prompt", "goodbye", None),
    ]
    assert view.departments == ["340100"]
    assert [s.seq for s in view.steps] == list(range(1, len(view.steps) + 1))
    assert view.flow_state is not None and view.flow_state["state"] == "ended"
    # Nothing more for this channel after the hang-up.
    assert fake.calls_of(channel)[-1] == f"DELETE /channels/{channel}"


async def test_an_area_code_dialed_picks_that_department(rig: Rig, node: Node) -> None:
    channel = "1763892000.12"
    await rig.fake.stasis_start(channel, HEFEI_CALLER, "01012371")
    assert await rig.wait_play(channel) == rig.media(*CENTRAL)
    view = await rig.wait_record(channel, lambda v: v.answered_at is not None, "answered")
    assert (view.department_code, view.dialed) == ("000000", "01012371")


async def test_keys_repeat_move_on_to_a_county_and_back(rig: Rig, node: Node) -> None:
    fake = rig.fake
    channel = "1763892000.13"
    await fake.stasis_start(channel, HEFEI_CALLER)
    assert await rig.wait_play(channel) == rig.media(*HEFEI)
    await fake.dtmf(channel, "#")
    assert await rig.wait_play(channel, 2) == rig.media(*HEFEI)
    await fake.dtmf(channel, "3")
    assert await rig.wait_play(channel, 3) == rig.media(*HEFEI_COUNTIES)
    await fake.dtmf(channel, "1")
    county = (*greeting("340121"), "front.message", "menu.other_region", "menu.back", "menu.repeat")
    assert await rig.wait_play(channel, 4) == rig.media(*county)
    await rig.wait_record(channel, lambda v: v.department_code == "340121", "the county")
    await fake.dtmf(channel, "*")
    assert await rig.wait_play(channel, 5) == rig.media(*HEFEI)
    # Back where the call started, `*` leads nowhere: invalid, and the end here.
    await fake.dtmf(channel, END_KEY)
    assert await rig.wait_play(channel, 6) == rig.media("goodbye")
    await fake.hangup(channel)  # the caller leaves during the goodbye
    view = await rig.call_done(channel)
    assert view.end_reason == ENDED
    assert [value for kind, value, _ in summary(view) if kind == "key"] == ["#", "3", "1", "*", "*"]
    assert view.departments == ["340100", "340121", "340100"]
    assert (view.department_code, view.department_name) == ("340100", "中共合肥市委组织部")


async def test_a_call_the_dialplan_answered_is_greeted_without_asking_to_answer(
    rig: Rig, node: Node
) -> None:
    fake = rig.fake
    channel = "1763892000.12"
    await fake.stasis_start(channel, HEFEI_CALLER, state="Up")

    assert await rig.wait_play(channel) == rig.media(*HEFEI)
    assert fake.calls_of(channel) == [f"POST /channels/{channel}/play/{channel}-p1"]
    view = await run_to_goodbye(rig, channel)
    assert view.answered_at is not None


async def test_two_silences_end_the_call_politely(rig: Rig, node: Node) -> None:
    fake = rig.fake
    channel = "1763892000.14"
    await fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    await fake.playback_finished(f"{channel}-p1", channel)
    # The digit timer fires: the caller is asked again.
    assert await rig.wait_play(channel, 2) == rig.media("menu.no_input", *HEFEI_CHOICES)
    await fake.playback_finished(rig.playback_id(channel, 2), channel)
    assert await rig.wait_play(channel, 3) == rig.media("goodbye")
    await fake.playback_finished(rig.playback_id(channel, 3), channel)
    view = await rig.call_done(channel)
    assert view.end_reason == "silence"
    assert fake.calls_of(channel)[-1] == f"DELETE /channels/{channel}"


async def test_a_failed_prompt_is_recorded_and_the_menu_goes_on(rig: Rig, node: Node) -> None:
    fake = rig.fake
    channel = "1763892000.15"
    await fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    await fake.playback_finished(f"{channel}-p1", channel, state="failed")
    # The digit timer still runs: the caller is asked again.
    assert await rig.wait_play(channel, 2) == rig.media("menu.no_input", *HEFEI_CHOICES)
    view = await run_to_goodbye(rig, channel)
    assert ("error", "playback_failed", f"{channel}-p1") in summary(view)


# Many calls ------------------------------------------------------------------------


async def test_interleaved_events_of_two_calls_are_each_handled_in_order(
    rig: Rig, node: Node
) -> None:
    fake = rig.fake
    a, b = "1763892000.21", "1763892000.22"
    await fake.stasis_start(a, HEFEI_CALLER)
    await fake.stasis_start(b, SHANGHAI_CALLER)
    # Keys pressed at once, before either call's first prompt was even sent:
    # each call must still take its events one after the other.
    await fake.dtmf(a, "#")
    await fake.dtmf(b, END_KEY)
    await fake.dtmf(a, END_KEY)
    await fake.playback_finished(f"{b}-p2", b)
    await fake.playback_finished(f"{a}-p3", a)
    view_a = await rig.call_done(a)
    view_b = await rig.call_done(b)

    assert fake.calls_of(a) == [
        f"POST /channels/{a}/answer",
        f"POST /channels/{a}/play/{a}-p1",
        f"DELETE /playbacks/{a}-p1",
        f"POST /channels/{a}/play/{a}-p2",
        f"DELETE /playbacks/{a}-p2",
        f"POST /channels/{a}/play/{a}-p3",
        f"DELETE /channels/{a}",
    ]
    assert fake.calls_of(b) == [
        f"POST /channels/{b}/answer",
        f"POST /channels/{b}/play/{b}-p1",
        f"DELETE /playbacks/{b}-p1",
        f"POST /channels/{b}/play/{b}-p2",
        f"DELETE /channels/{b}",
    ]
    assert (view_a.department_code, view_a.end_reason) == ("340100", ENDED)
    assert (view_b.department_code, view_b.end_reason) == ("310000", ENDED)
    assert [v for k, v, _ in summary(view_a) if k == "key"] == ["#", END_KEY]
    assert [v for k, v, _ in summary(view_b) if k == "key"] == [END_KEY]


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The controller's log lines as `IVR_LOG_FORMAT=json` writes them."""
    out = io.StringIO()
    installed = logs.handler("json", node=NODE, stream=out)
    ours = logging.getLogger("ivr")
    level = ours.level
    logging.getLogger().addHandler(installed)
    ours.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logging.getLogger().removeHandler(installed)
        ours.setLevel(level)


async def test_each_line_of_two_interleaved_calls_carries_that_calls_ids_and_department(
    rig: Rig, node: Node, json_lines: io.StringIO
) -> None:
    fake = rig.fake
    a, b = "1763892000.23", "1763892000.24"
    await fake.stasis_start(a, HEFEI_CALLER)
    await fake.stasis_start(b, SHANGHAI_CALLER)
    await fake.dtmf(a, "3")  # Hefei's counties
    await fake.dtmf(b, "#")
    await fake.dtmf(a, "1")  # 长丰县
    await rig.wait_record(a, lambda v: v.department_code == "340121", "the county")
    await fake.hangup(b)
    await fake.hangup(a)
    await rig.call_done(a)
    await rig.call_done(b)

    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    of = {call: [line for line in lines if line.get("call_id") == call] for call in (a, b)}
    story = {call: [(line["department"], line["message"]) for line in of[call]] for call in of}
    assert {line["sip_call_id"] for line in of[a]} == {f"{a}@fake-sipp"}
    assert {line["sip_call_id"] for line in of[b]} == {f"{b}@fake-sipp"}
    assert story[a][0][1].endswith("dialed 12371, routed to 340100 by caller_area_code")
    assert story[a][1:] == [
        ("340100", "answered"),
        ("340100", "department 340100 (routed)"),
        ("340121", "department 340121 (chosen)"),
        ("340121", "ended: caller_hangup"),
    ]
    assert story[b][1:] == [
        ("310000", "answered"),
        ("310000", "department 310000 (routed)"),
        ("310000", "ended: caller_hangup"),
    ]


async def test_a_slow_call_does_not_delay_another(rig: Rig, node: Node) -> None:
    fake = rig.fake
    slow, fast = "1763892000.31", "1763892000.32"
    fake.delay(slow, SLOW_DELAY)
    await fake.stasis_start(slow, HEFEI_CALLER)
    await fake.wait_request("POST", f"/channels/{re.escape(slow)}/answer")
    pushed = asyncio.get_running_loop().time()
    await fake.stasis_start(fast, SHANGHAI_CALLER)
    await fake.dtmf(slow, END_KEY)
    await fake.dtmf(fast, END_KEY)
    await fake.playback_finished(f"{fast}-p2", fast)
    hangup = await fake.wait_request("DELETE", f"/channels/{re.escape(fast)}")
    slow_answer = fake.find("POST", f"/channels/{re.escape(slow)}/answer")
    assert slow_answer is not None
    # The whole fast call happened while the slow call's first request was
    # still waiting for Asterisk.
    assert slow_answer.answered is None or hangup.received < slow_answer.answered
    fast_answer = fake.find("POST", f"/channels/{re.escape(fast)}/answer")
    assert fast_answer is not None and fast_answer.received - pushed < SLOW_DELAY

    fake.delay(slow, 0)
    await fake.playback_finished(f"{slow}-p2", slow)
    view = await rig.call_done(slow)
    assert view.end_reason == ENDED
    assert fake.calls_of(slow) == [
        f"POST /channels/{slow}/answer",
        f"POST /channels/{slow}/play/{slow}-p1",
        f"DELETE /playbacks/{slow}-p1",
        f"POST /channels/{slow}/play/{slow}-p2",
        f"DELETE /channels/{slow}",
    ]


# Trouble during a call ---------------------------------------------------------------------


async def test_caller_hanging_up_mid_prompt_ends_the_record_and_the_requests(
    rig: Rig, node: Node
) -> None:
    fake = rig.fake
    channel = "1763892000.41"
    await fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    before = fake.calls_of(channel)
    await fake.hangup(channel)
    view = await rig.call_done(channel)
    assert view.end_reason == "caller_hangup"
    assert view.ended_at is not None
    # A whole later call goes through: anything the first call still had to
    # send would have been sent by then.
    await run_short_call(rig, "1763892000.42")
    assert fake.calls_of(channel) == before


async def run_short_call(rig: Rig, channel: str) -> CallView:
    await rig.fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    await rig.fake.dtmf(channel, END_KEY)
    await rig.wait_play(channel, 2)
    await rig.fake.playback_finished(rig.playback_id(channel, 2), channel)
    view = await rig.call_done(channel)
    assert view.end_reason == ENDED
    return view


async def test_a_503_on_play_ends_the_call_and_the_next_call_works(rig: Rig, node: Node) -> None:
    fake = rig.fake
    channel = "1763892000.51"
    fake.fail(503, method="POST", path="/play/", times=1)
    await fake.stasis_start(channel, HEFEI_CALLER)
    view = await rig.call_done(channel)
    # Asterisk refused the prompt: the record says so (the caller did not
    # hang up), and the caller is not left in silence in Stasis.
    assert view.end_reason == "ari_error"
    assert fake.calls_of(channel) == [
        f"POST /channels/{channel}/answer",
        f"POST /channels/{channel}/play/{channel}-p1",
        f"DELETE /channels/{channel}",
    ]
    assert channel not in fake.channels
    assert node.events is not None and not node.events.done()

    await run_short_call(rig, "1763892000.52")


async def test_asterisk_gone_during_a_call_ends_its_record(rig: Rig, node: Node) -> None:
    fake = rig.fake
    channel = "1763892000.53"
    await fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    await fake.restart()  # its channels are gone
    await fake.wait_connected(2)
    view = await rig.wait_record(channel, lambda v: v.ended_at is not None, "the record closed")
    # Found gone with the Asterisk that restarted, or lost with a request
    # Asterisk never answered (the play's answer can be in flight when the
    # connection is cut).
    assert view.end_reason in ("node_lost", "asterisk_unavailable")
    await wait_until(lambda: channel not in rig.controller.calls, what="the call to leave")
    await run_short_call(rig, "1763892000.54")


async def test_the_calls_of_an_asterisk_that_stays_away_end_as_node_lost(rig: Rig) -> None:
    rig.settings = rig.settings.model_copy(update={"node_lost_after": 0.5})
    node = await rig.start_node()
    watch = asyncio.create_task(rig.controller.watch_asterisk())
    try:
        fake = rig.fake
        channel = "1763892000.55"
        await fake.stasis_start(channel, HEFEI_CALLER)
        await rig.wait_play(channel)
        await fake.go_down()  # and stays down: no event will ever end the call
        view = await rig.wait_record(channel, lambda v: v.ended_at is not None, "node_lost")
        assert view.end_reason == "node_lost"
        await wait_until(lambda: channel not in rig.controller.calls, what="the call to leave")
        # Back, it carries new calls as before.
        await fake.go_up()
        await fake.wait_connected(2)
        await run_short_call(rig, "1763892000.56")
    finally:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
    assert node.events is not None and not node.events.done()


# Playbacks Asterisk loses track of ------------------------------------------------------


async def test_a_prompt_that_ends_unreported_does_not_leave_the_caller_in_silence(
    rig: Rig, node: Node
) -> None:
    fake = rig.fake
    channel = "1763892000.55"
    await fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    await fake.dtmf(channel, END_KEY)
    assert await rig.wait_play(channel, 2) == rig.media("goodbye")
    # The goodbye ends, but Asterisk never says so.
    fake.playbacks.pop(f"{channel}-p2")
    view = await rig.call_done(channel)
    assert view.end_reason == ENDED
    assert ("error", "playback_end_lost", f"{channel}-p2") in summary(view)
    assert f"GET /playbacks/{channel}-p2" in fake.calls_of(channel)
    assert fake.calls_of(channel)[-1] == f"DELETE /channels/{channel}"


async def test_a_stop_asterisk_ignores_is_sent_again(rig: Rig, node: Node) -> None:
    fake = rig.fake
    channel = "1763892000.56"
    await fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    fake.stops_to_ignore = 1
    await fake.dtmf(channel, "#")
    await rig.wait_play(channel, 2)
    stops = f"DELETE /playbacks/{channel}-p1"
    await wait_until(lambda: fake.calls_of(channel).count(stops) == 2, what="the stop again")
    assert f"{channel}-p1" not in fake.playbacks
    view = await rig.wait_record(
        channel, lambda v: any(s.value == "stop_ignored" for s in v.steps), "the error step"
    )
    assert ("error", "stop_ignored", f"{channel}-p1") in summary(view)


# Reconnecting and recovering -----------------------------------------------------------------


async def test_the_event_socket_reconnects_after_a_drop(rig: Rig, node: Node) -> None:
    fake = rig.fake
    assert len(rig.listings()) == 1
    await fake.drop_connection()
    await fake.wait_connected(2, within=5.0)
    await rig.wait_listings(2)
    assert node.ari.connected.is_set()
    # On every connect, before the listing: only the events a call uses.
    setup = [
        f"{r.method} {r.path}"
        for r in fake.requests
        if r.path.startswith("/applications/") or r.path == "/channels"
    ]
    assert setup == [f"PUT /applications/{fake.app}/eventFilter", "GET /channels"] * 2
    assert fake.allowed[fake.app] == {*EVENTS_USED, "RESTResponse"}
    await run_short_call(rig, "1763892000.61")


async def test_a_prompt_that_ended_during_a_disconnect_does_not_strand_the_call(
    rig: Rig, node: Node
) -> None:
    fake = rig.fake
    channel = "1763892000.62"
    await fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    await fake.go_down()
    # The greeting ends while nobody listens: its PlaybackFinished is lost.
    fake.playbacks.pop(f"{channel}-p1")
    await fake.go_up()
    await fake.wait_connected(2, within=5.0)
    # Recovery sees the prompt is gone, so the caller gets the digit timeout
    # and then the "no key received" prompt instead of silence.
    assert await rig.wait_play(channel, 2) == rig.media("menu.no_input", *HEFEI_CHOICES)
    assert f"GET /playbacks/{channel}-p1" in fake.calls_of(channel)


async def test_a_command_cut_by_a_dropped_connection_does_not_end_the_call(
    rig: Rig, node: Node
) -> None:
    fake = rig.fake
    channel = "1763892000.63"
    gate = fake.hold("POST", rf"/channels/{re.escape(channel)}/play/.*")
    await fake.stasis_start(channel, HEFEI_CALLER)
    await wait_until(lambda: bool(fake.plays(channel)), what="the greeting requested")
    await fake.drop_connection()  # the play's answer is lost with it
    gate.set()
    await fake.wait_connected(2, within=5.0)
    await rig.wait_listings(2)
    assert channel in rig.controller.calls, "a lost answer is not a lost call"
    await fake.dtmf(channel, END_KEY)
    assert await rig.wait_play(channel, 2) == rig.media("goodbye")
    await fake.playback_finished(rig.playback_id(channel, 2), channel)
    view = await rig.call_done(channel)
    assert view.end_reason == ENDED


async def seed_open_call(
    rig: Rig, channel: str, caller: str, *, flow_state: bool = True
) -> None:
    """A record as a controller that died in the greeting left it (or, without
    `flow_state`, before it saved the flow's state)."""
    route = DIRECTORY.resolve(caller, "12371")
    call = flow.CallFlow(channel, Guide(DIRECTORY), route.department.code)
    call.handle(flow.Started())
    now = datetime.now(UTC)
    rig.recorder.call_started(
        channel,
        sip_call_id=f"{channel}@fake-sipp",
        node=NODE,
        caller=caller,
        dialed="12371",
        department_code=route.department.code,
        department_name=route.department.name,
        route_rule=route.rule,
        route_read=route.read,
        started_at=now,
    )
    rig.recorder.call_answered(channel, now)
    rig.recorder.step(channel, now, "prompt", "greeting.hello")
    if flow_state:
        rig.recorder.flow_state(channel, call.snapshot())
    await rig.recorder.flush()


async def test_recovery_after_a_reconnect_takes_back_ends_and_closes(rig: Rig, node: Node) -> None:
    fake = rig.fake
    kept, orphan, foreign, gone = "1763892000.71", "1763892000.72", "1763892000.73", "1763892000.74"
    in_dialplan, lost = "1763892000.75", "1763892000.78"
    await fake.go_down()  # no reconnect before everything below is in place
    # While nobody listened: a call of ours with an open record, one whose
    # record has no flow state yet, one with no record (its controller died
    # before writing it), one of another application, one in the dialplan,
    # and an open record whose channel is gone.
    await seed_open_call(rig, kept, HEFEI_CALLER)
    await seed_open_call(rig, gone, HEFEI_CALLER)
    await seed_open_call(rig, orphan, HEFEI_CALLER, flow_state=False)
    fake.add_channel(kept, HEFEI_CALLER, state="Up")
    fake.add_channel(orphan, HEFEI_CALLER, state="Up")
    fake.add_channel(lost, SHANGHAI_CALLER, "02112371", state="Up")
    fake.add_channel(foreign, "13800138000", app="another-app", state="Up")
    fake.add_channel(in_dialplan, "13900139000", app="")  # not in any Stasis application
    await fake.go_up()
    await fake.wait_connected(2)

    # Taken back: an apology and the choices, then the call goes on.
    assert await rig.wait_play(kept) == rig.media("call.resumed", *HEFEI)
    assert not any(r.path.endswith("/answer") for r in fake.requests_for(kept))
    # Ended politely, then hung up once that prompt ended.
    assert await rig.wait_play(orphan) == rig.media("call.ended_by_system", "goodbye")
    assert commands(fake, orphan) == [f"POST /channels/{orphan}/play/{orphan}-p1"]
    await fake.playback_finished(f"{orphan}-p1", orphan)
    await fake.wait_request("DELETE", f"/channels/{re.escape(orphan)}")
    orphan_view = await rig.call_done(orphan)
    assert orphan_view.end_reason == "ended_after_recovery"
    # No record: served as a new call, routed by what was dialed; the
    # dialplan answered it, so no answer is asked for.
    assert await rig.wait_play(lost) == rig.media(*SHANGHAI)
    assert commands(fake, lost) == [f"POST /channels/{lost}/play/{lost}-p1"]
    lost_view = await run_to_goodbye(rig, lost)
    assert (lost_view.department_code, lost_view.dialed) == ("310000", "02112371")
    # Another application's channel is not ours to touch.
    assert fake.requests_for(foreign) == [] and fake.requests_for(in_dialplan) == []
    assert foreign in fake.channels and in_dialplan in fake.channels
    # The record whose channel is gone is closed.
    gone_view = await rig.wait_record(gone, lambda v: v.ended_at is not None, "gone closed")
    assert gone_view.end_reason == "channel_gone"

    await fake.dtmf(kept, END_KEY)
    await rig.wait_play(kept, 2)
    await fake.playback_finished(rig.playback_id(kept, 2), kept)
    kept_view = await rig.call_done(kept)
    assert kept_view.end_reason == ENDED
    assert summary(kept_view) == [
        ("prompt", "greeting.hello", None),
        ("note", "resumed", "prompting"),
        ("prompt", "call.resumed", None),
        *[("prompt", prompt, None) for prompt in HEFEI],
        ("key", END_KEY, None),
        ("note", "closing", ENDED),
        ("prompt", "goodbye", None),
    ]


async def test_a_new_controller_takes_back_a_call_the_old_one_left(rig: Rig, node: Node) -> None:
    fake = rig.fake
    channel = "1763892000.81"
    await fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    await rig.wait_record(channel, lambda v: v.flow_state is not None, "the flow state saved")
    await node.stop()  # killed: the channel stays in Stasis, its record open
    view = await rig.record(channel)
    assert view is not None and view.ended_at is None

    await rig.start_node()
    played = await rig.wait_play(channel, 2)
    assert played == rig.media("call.resumed", *HEFEI)
    resumed_id = rig.playback_id(channel, 2)
    assert resumed_id not in {f"{channel}-p1"}, "playback ids are never reused"
    await fake.dtmf(channel, END_KEY)
    await rig.wait_play(channel, 3)
    await fake.playback_finished(rig.playback_id(channel, 3), channel)
    view = await rig.call_done(channel)
    assert view.end_reason == ENDED
    assert [s.seq for s in view.steps] == list(range(1, len(view.steps) + 1))
    assert ("note", "resumed", "prompting") in summary(view)


def in_hours() -> Callable[[], datetime]:
    """A clock running from a working morning (10:00 in Beijing, a Tuesday)."""
    offset = datetime(2026, 11, 24, 2, 0, tzinfo=UTC) - datetime.now(UTC)
    return lambda: datetime.now(UTC) + offset


async def paused_operator(rig: Rig, department: str) -> None:
    """An operator of `department` in a meeting: callers join the line and
    hear that nobody is free."""
    async with rig.sessions() as session, session.begin():
        await operator_store.add_operator(
            session, DIRECTORY, "op1", name="张敏", endpoint="op1",
            departments=[department], at=datetime.now(UTC),
        )
        await session.execute(
            update(OperatorRow).where(OperatorRow.id == "op1").values(status="paused")
        )


async def in_line_rows(rig: Rig, call_id: str) -> list[QueueEntryRow]:
    async with rig.sessions() as session:
        return list(await session.scalars(select(QueueEntryRow).where(
            QueueEntryRow.call_id == call_id)))


async def test_a_caller_is_saved_as_in_line_before_the_line_holds_a_place(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A controller killed between the two must not leave a place taken for
    # a call that its record says is still at the menu.
    saved: list[dict[str, Any]] = []
    join = line_store.join

    async def join_and_look(session: AsyncSession, call_id: str, *args: Any) -> int:
        saved.append(await session.scalar(select(Call.flow_state).where(Call.id == call_id)))
        return await join(session, call_id, *args)

    monkeypatch.setattr(line_store, "join", join_and_look)
    await paused_operator(rig, "340100")
    await rig.start_node(in_hours())
    channel = "1763892000.91"
    await rig.fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    await rig.fake.dtmf(channel, PERSON_KEY)
    await wait_until(lambda: bool(saved), what="the call to join the line")
    assert saved[0]["queued"] is True
    assert [row.status for row in await in_line_rows(rig, channel)] == ["waiting"]


async def test_a_call_saved_as_in_line_without_a_place_takes_one_when_taken_back(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    join = line_store.join
    died = asyncio.Event()

    async def die_before_joining(*_: Any) -> int:
        died.set()
        await asyncio.Event().wait()  # the controller is killed here
        raise AssertionError("unreachable")

    monkeypatch.setattr(line_store, "join", die_before_joining)
    await paused_operator(rig, "340100")
    node = await rig.start_node(in_hours())
    channel = "1763892000.92"
    await rig.fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    await rig.fake.dtmf(channel, PERSON_KEY)
    await asyncio.wait_for(died.wait(), WAIT)
    await node.stop()
    assert await in_line_rows(rig, channel) == []

    monkeypatch.setattr(line_store, "join", join)
    await rig.start_node(in_hours())
    view = await rig.wait_record(
        channel, lambda v: ("note", "resumed", "queued") in summary(v), "the call taken back"
    )
    assert view.ended_at is None
    assert [row.status for row in await in_line_rows(rig, channel)] == ["waiting"]
    await rig.fake.hangup(channel)
    await rig.call_done(channel)


async def test_recovery_failing_does_not_stop_the_events(rig: Rig) -> None:
    rig.fake.fail(503, method="GET", path="^/channels$", times=1)
    await rig.start_node()
    await run_short_call(rig, "1763892000.91")


async def test_a_call_entering_stasis_during_recovery_is_a_new_call_not_an_orphan(
    rig: Rig, node: Node
) -> None:
    fake = rig.fake
    channel = "1763892000.76"
    listing = fake.hold("GET", "/channels")
    await fake.drop_connection()
    await fake.wait_connected(2)
    await wait_until(lambda: len(rig.listings()) == 2, what="recovery to list the channels")
    # The call enters Stasis now: Asterisk lists it, and its StasisStart
    # waits on the socket until the controller's recovery is done.
    await fake.stasis_start(channel, HEFEI_CALLER)
    listing.set()

    assert await rig.wait_play(channel) == rig.media(*HEFEI)
    view = await run_to_goodbye(rig, channel)
    assert view.department_code == "340100"
    assert summary(view)[:4] == [
        ("department", "340100", "routed"),
        ("note", "service", "after_hours"),
        ("prompt", "greeting.hello", None),
        ("prompt", "dept.340100", None),
    ]


async def test_an_unmarked_channel_left_unanswered_is_taken_as_a_new_call(
    rig: Rig, node: Node
) -> None:
    # The previous controller died before it answered and marked the call:
    # its StasisStart is gone with it; the caller still hears ringing.
    fake = rig.fake
    channel = "1763892000.77"
    await fake.drop_connection()
    fake.add_channel(channel, SHANGHAI_CALLER, "12371")
    await fake.wait_connected(2)
    assert await rig.wait_play(channel) == rig.media(*SHANGHAI)
    assert commands(fake, channel)[:1] == [f"POST /channels/{channel}/answer"]
    view = await run_to_goodbye(rig, channel)
    assert (view.department_code, view.dialed) == ("310000", "12371")


async def run_to_goodbye(rig: Rig, channel: str) -> CallView:
    """Press the ending key on a call in its greeting and let the goodbye end."""
    count = len(rig.fake.plays(channel))
    await rig.fake.dtmf(channel, END_KEY)
    await rig.wait_play(channel, count + 1)
    await rig.fake.playback_finished(rig.playback_id(channel, count + 1), channel)
    view = await rig.call_done(channel)
    assert view.end_reason == ENDED
    return view


async def test_a_fallback_message_is_imported_on_connect_without_listing_every_recording(
    rig: Rig,
) -> None:
    # Asterisk keeps every message ever left; the fallback's list names the
    # one left while no controller was connected.
    left = "fallback-1795766400-179576640042-055162345678-12371"
    rig.fake.recordings = {left: wav(3.0), "1795700000.1-m1": wav(9.0)}
    rig.fake.fallback = [left]
    await rig.start_node()
    await wait_until(lambda: rig.fake.fallback == [], what="the message to leave the list")
    (case,) = await Cases(rig.sessions, DIRECTORY, lambda: datetime.now(UTC)).list()
    assert (case.recording, case.recording_seconds, case.department) == (left, 3.0, "340100")
    assert rig.fake.recording_listings() == [], "the reconnect listed every recording"


async def test_only_a_fallback_recordings_name_is_dialed_to_forget_it(rig: Rig) -> None:
    async with AriClient(rig.settings) as ari:
        for name in ("fallback-1-2-@evil", "1795700000.1-m1", "fallback-"):
            with pytest.raises(AriError):
                await ari.forget_fallback(name)
    assert not [r for r in rig.fake.requests if r.path == "/channels"]


# What the calls count (ivr/metrics.py) -----------------------------------------------------


def counted(rig: Rig, name: str, **labels: str) -> float:
    return rig.metrics.registry.get_sample_value(name, labels) or 0.0


async def test_calls_started_and_ended_are_counted_by_province_and_reason(
    rig: Rig, node: Node
) -> None:
    fake = rig.fake
    await run_short_call(rig, "1763892000.91")  # Hefei, ended by an invalid key
    channel = "1763892000.92"
    await fake.stasis_start(channel, SHANGHAI_CALLER)
    await rig.wait_play(channel)
    await fake.hangup(channel)
    await rig.call_done(channel)

    assert counted(rig, "ivr_calls_started_total", province="340000") == 1
    assert counted(rig, "ivr_calls_started_total", province="310000") == 1
    ended = "ivr_calls_ended_total"
    assert counted(rig, ended, reason=ENDED, province="340000") == 1
    assert counted(rig, ended, reason="caller_hangup", province="310000") == 1
    assert counted(rig, ended, reason="caller_hangup", province="340000") == 0
    # Every request timed under its path template; no label carries an id.
    plays = counted(
        rig, "ivr_ari_request_seconds_count",
        method="POST", operation="/channels/{id}/play/{id}",
    )
    assert plays == 3  # the Hefei call's menu and goodbye, the Shanghai call's menu
    labels = [
        value
        for family in rig.metrics.registry.collect()
        for sample in family.samples
        for value in sample.labels.values()
    ]
    assert not [value for value in labels if "1763892000" in value]


async def test_a_reconnect_is_counted(rig: Rig, node: Node) -> None:
    assert counted(rig, "ivr_ari_reconnects_total", asterisk=NODE) == 0
    await rig.fake.drop_connection()
    await rig.fake.wait_connected(2, within=5.0)
    await rig.wait_listings(2)
    assert counted(rig, "ivr_ari_reconnects_total", asterisk=NODE) == 1
# Published menus ------------------------------------------------------------------------


def two_versions(base: Catalog) -> tuple[Catalog, MenuBook, MenuBook]:
    """routing/menus.yaml published as version 1 and again as version 2 (every
    scope), and a catalog with both versions' texts under their own files."""
    spec = menu.read(REPO_ROOT / "routing" / "menus.yaml", DIRECTORY).spec
    books = []
    entries = dict(base.entries)
    for number in (1, 2):
        scopes = {NATIONAL: number, **{code: number for code in spec.departments}}
        book = MenuBook(spec, DIRECTORY, scopes)
        for prompt_id, text in book.prompt_texts().items():
            entries[prompt_id] = PromptEntry(
                file=prompt_file(prompt_id, "0" * 64), text=text, sha256="0" * 64,
                duration_ms=500, input=prompt_id,
            )
        books.append(book)
    return Catalog(base.directory, entries), books[0], books[1]


async def test_a_call_taken_back_keeps_the_menu_version_it_started_with(rig: Rig) -> None:
    """Version 2 is published while a caller is in version 1's service menu,
    and the controller dies: the one that takes the call back goes on with
    version 1 (the generation in its saved state), not the newest."""
    catalog, first, second = two_versions(rig.catalog)
    hours = working_hours.load(HOURS_FILE, DIRECTORY)
    earlier = {1: Published(1, first, hours, catalog)}

    async def published_at(generation: int) -> Published | None:
        return earlier.get(generation)

    rig.catalog = catalog
    node = await rig.start_node(menus=first, generation=1, published_at=published_at)
    fake, channel = rig.fake, "1763892000.91"
    await fake.stasis_start(channel, HEFEI_CALLER)
    await rig.wait_play(channel)
    await fake.dtmf(channel, "1")  # self-service: the service menu
    heard = await rig.wait_play(channel, 2)
    assert "~v1-" in heard[0] and "~v2-" not in heard[0], heard
    await rig.wait_record(
        channel, lambda v: (v.flow_state or {}).get("menu") == "service", "in the service menu"
    )
    assert node.controller is not None
    node.controller.publish(Published(2, second, hours, catalog))
    await node.stop()  # killed: the call stays in Stasis

    await rig.start_node(menus=second, generation=2, published_at=published_at)
    again = await rig.wait_play(channel, 3)
    assert "call.resumed" in again[0]
    assert "~v1-" in again[0] and "~v2-" not in again[0], again
    # A call starting now hears version 2.
    newer = "1763892000.92"
    await fake.stasis_start(newer, HEFEI_CALLER)
    await rig.wait_play(newer)
    await fake.dtmf(newer, "1")
    assert "~v2-" in (await rig.wait_play(newer, 2))[0]
