"""The cluster's drills: Kamailio in front of two real Asterisks, two
controllers on one PostgreSQL database, real SIPp callers, and one part at a
time killed with calls in progress (issue 16)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from benchmarks import callers
from devtools import asterisk, cluster, kamailio
from devtools.callermedia import Audio, Hangup, Key, Pause
from devtools.calls import wait_for_record
from devtools.postgres import PostgresServer, private_server
from devtools.sipcall import CallPlan, CallResult, place_call
from devtools.sipoperator import OperatorPhone, SipOperator
from ivr.settings import Settings

from .harness import DIGIT_TIMEOUT_S, invalid_keys

pytestmark = pytest.mark.e2e

# A takeover: the dead controller's lease runs out (2.5 s), the next renewal
# of the other sees it (0.5 s), and it connects and takes the calls back.
TAKEOVER_LIMIT_S = 5.0
RECORD_WAIT_S = 30.0
IN_HOURS = "2026-11-24T10:00:00+08:00"  # a Tuesday, a working day
# Callers wait in line long enough for a kill and a takeover.
QUEUE_RULES = """\
default:
  ring_seconds: 6
  wrap_up_seconds: 1
  max_wait_seconds: 120
  announce_every_seconds: 30
  whisper: false
"""
IN_LINE = "340121"  # 长丰县: drill 1's operator is its
OPERATORS_DESK = "127.0.0.4"  # where operators' phones call from (not the door)
PUSH_WAIT_S = 10.0
G711A = Path("/usr/share/sip-tester/g711a.pcap")


@pytest.fixture(scope="module")
def database_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the drills' own: drill 4 stops it under load."""
    with private_server("ivr-drill-postgres-") as server:
        yield server


@pytest.fixture(scope="module")
def drill(
    tmp_path_factory: pytest.TempPathFactory, database_server: PostgresServer
) -> Iterator[cluster.Cluster]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    n = int(worker) if worker.isdigit() else 0
    base = Settings(state_dir=tmp_path_factory.mktemp("cluster-base"))
    server = database_server
    spec = cluster.Cluster.on_free_ports(
        tmp_path_factory.mktemp("cluster"),
        base,
        database_url=server.url("ivr_cluster"),
        rtp_base=36000 + 1000 * n,
    )
    rules = spec.folder / "queues.yaml"
    rules.write_text(QUEUE_RULES, encoding="utf-8")
    spec = dataclasses.replace(
        spec,
        extra_env=(
            ("IVR_DIGIT_TIMEOUT", str(DIGIT_TIMEOUT_S)),
            ("IVR_NOW", IN_HOURS),
            ("IVR_QUEUES_FILE", str(rules)),
        ),
    )
    try:
        cluster.up(spec)
        yield spec
    finally:
        cluster.down(spec)
        cluster.discard(spec)


@pytest.fixture(autouse=True)
def whole(drill: cluster.Cluster) -> cluster.Cluster:
    """Every part running before each drill, whatever the last one left."""
    for node in drill.asterisks:
        settings = drill.asterisk_settings(node)
        if asterisk.running_pid(asterisk.layout(settings)) is None:
            cluster.start_asterisk(drill, node)
    for controller in drill.controllers:
        if cluster.controller_pid(drill, controller) is None:
            cluster.start_controller(drill, controller)
    return drill


def door_settings(spec: cluster.Cluster) -> Settings:
    """Where callers dial (the door), and the database records are read from."""
    return spec.base.model_copy(
        update={
            "sip_host": spec.door.host,
            "sip_port": spec.door.port,
            "database_url": spec.database_url,
        }
    )


def channels(spec: cluster.Cluster) -> dict[str, list[dict[str, Any]]]:
    return {
        node.name: asterisk.ari_get(spec.asterisk_settings(node), "/channels")
        for node in spec.asterisks
    }


def ivr(spec: cluster.Cluster, *args: str, **env: str) -> str:
    """The `ivr` command on the cluster's database, as its controllers see it."""
    proc = subprocess.run(
        [sys.executable, "-m", "ivr", *args],
        env={**spec.controller_env(spec.controllers[0]), **env},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


_tokens: dict[Path, str] = {}  # the national admin's API token, by cluster


def api(
    spec: cluster.Cluster,
    controller: cluster.ControllerSpec,
    path: str,
    body: Any = None,
    method: str = "POST",
) -> Any:
    """POST (or `method`) to one controller's API as the national admin."""
    token = _tokens.get(spec.folder)
    if token is None:  # one `ivr` process for the module, not one a request
        token = _tokens[spec.folder] = ivr(spec, "users", "token", "admin").strip()
    request = urllib.request.Request(
        f"http://127.0.0.1:{controller.http_port}{path}",
        data=json.dumps(body).encode() if body is not None else b"",
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


async def add_operator(
    spec: cluster.Cluster, operator_id: str, department: str, phone: SipOperator
) -> None:
    ivr(spec, "operators", "add", operator_id, "--name", operator_id.upper(),
        "--departments", department, "--contact", phone.contact)
    api(spec, spec.controllers[0], f"/api/operators/{operator_id}/sign-in")
    # Every controller gives every Asterisk the phone within a tick.
    for node in spec.asterisks:
        await wait_until(
            lambda node=node: _knows(spec.asterisk_settings(node), operator_id),
            PUSH_WAIT_S,
            f"Asterisk {node.name} to learn {operator_id}'s phone",
        )


def _knows(settings: Settings, operator_id: str) -> bool:
    try:
        asterisk.ari_get(settings, f"/endpoints/PJSIP/{operator_id}")
    except (urllib.error.URLError, OSError):
        return False
    return True


async def wait_until(predicate: Any, within_s: float, what: str) -> None:
    """Poll `predicate` (blocking I/O, in a thread) without stopping the callers."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def call(spec: cluster.Cluster, plan: CallPlan) -> tuple[CallResult, dict[str, Any] | None]:
    settings = door_settings(spec)
    result = await place_call(plan, settings)
    record = await asyncio.to_thread(wait_for_record, settings, plan.call_id, RECORD_WAIT_S)
    return result, record


async def nodes_of(spec: cluster.Cluster, callers: list[str]) -> list[str]:
    """The node serving each caller's call in progress, in the order given."""
    rows = await _query(
        spec, "SELECT caller, node FROM calls WHERE ended_at IS NULL AND caller = ANY($1)", callers
    )
    by_caller = {row["caller"]: row["node"] for row in rows}
    assert sorted(by_caller) == sorted(callers), by_caller
    return [by_caller[caller] for caller in callers]


async def _query(spec: cluster.Cluster, sql: str, *args: Any) -> list[dict[str, Any]]:
    url = make_url(spec.database_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        return [dict(row) for row in await connection.fetch(sql, *args)]
    finally:
        await connection.close()


async def recording_of(spec: cluster.Cluster, caller: str, placing: asyncio.Task[Any]) -> str:
    """The name of the message `caller` is recording now, once it is."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not placing.done():
        rows = await _query(
            spec,
            "SELECT m.name FROM messages m JOIN calls c ON c.id = m.call_id "
            "WHERE c.caller = $1 AND m.status = 'recording'",
            caller,
        )
        if rows:
            return str(rows[0]["name"])
        await asyncio.sleep(0.2)
    steps = await _query(
        spec,
        "SELECT s.kind, s.value FROM call_steps s JOIN calls c ON c.id = s.call_id "
        "WHERE c.caller = $1 ORDER BY s.seq",
        caller,
    )
    if placing.done():
        placing.result()  # the call's own error, if it failed to start
    raise AssertionError(f"{caller} never started recording a message: {steps}")


async def wait_for_message(spec: cluster.Cluster, name: str) -> dict[str, Any]:
    """The message once settled, with its case's number."""
    deadline = time.monotonic() + 30
    while True:
        rows = await _query(
            spec,
            "SELECT m.status, m.seconds, c.number FROM messages m "
            "LEFT JOIN cases c ON c.recording = m.name WHERE m.name = $1",
            name,
        )
        # Saved, then registered as a case: two steps, waited for both.
        settled = rows and rows[0]["status"] != "recording"
        if settled and (rows[0]["number"] or rows[0]["status"] != "saved"):
            return rows[0]
        if time.monotonic() > deadline:
            return rows[0] if rows else {}
        await asyncio.sleep(0.5)


def _at(step: dict[str, Any]) -> float:
    return datetime.fromisoformat(step["at"]).timestamp()


async def test_calls_spread_over_both_asterisks_and_both_controllers(
    drill: cluster.Cluster,
) -> None:
    plans = [
        CallPlan(caller=f"0551623456{n:02d}", actions=invalid_keys(1.5)) for n in range(8)
    ]
    done = await asyncio.gather(*(call(drill, plan) for plan in plans))
    nodes = set()
    for result, record in done:
        assert result.answered and result.ended_by == "asterisk", result.sipp_log
        assert record is not None and record["end_reason"] == "invalid_input"
        nodes.add(record["node"])
    # Kamailio alternates the Asterisks; each Asterisk picks a controller at random.
    assert {node.split("@")[1] for node in nodes} == {"a", "b"}
    await wait_until(lambda: not any(channels(drill).values()), 10, "no channel left")


async def test_a_caller_who_hangs_up_through_the_door_is_gone_at_once(
    drill: cluster.Cluster,
) -> None:
    # SIPp's BYE leaves the recorded route out and goes to the door: the
    # door must still get it to the caller's Asterisk.
    for n in range(2):  # one on each Asterisk
        plan = CallPlan(caller=f"0551840000{n:02d}", actions=(Pause(3000), Hangup()))
        placed = asyncio.create_task(call(drill, plan))
        result, record = await placed
        assert result.answered and result.ended_by == "caller", result.sipp_log
        assert record is not None and record["end_reason"] == "caller_hangup", record
        hung_up = datetime.fromisoformat(record["started_at"]).timestamp() + 3.0
        assert datetime.fromisoformat(record["ended_at"]).timestamp() - hung_up < 2.0, record
    await wait_until(lambda: not any(channels(drill).values()), 2, "no channel left")


async def test_drill_1_a_killed_controllers_callers_are_taken_over_within_5_s(
    drill: cluster.Cluster,
) -> None:
    # 40 callers in menus, spread over both Asterisks and both controllers,
    # each staying 20 s (the kill comes at about 6 s) and hanging up; and 4
    # in line for an operator who is paused until after the kill.
    menus = [
        CallPlan(caller=f"0551700000{n:02d}", actions=(Pause(20_000), Hangup()), max_call_s=45)
        for n in range(40)
    ]
    # 1 on the front page: a person. The line's order is the order they pressed.
    in_line = [
        CallPlan(caller=f"1380013810{n}", origin=IN_LINE, actions=(Pause(1500), Key("1")),
                 max_call_s=90)
        for n in range(4)
    ]
    phone = SipOperator(OperatorPhone("opk1", ring_s=1, hangup_after_s=2, calls=4))
    async with phone:
        await add_operator(drill, "opk1", IN_LINE, phone)
        api(drill, drill.controllers[0], "/api/operators/opk1/pause", {"reason": "meeting"})
        calls = [asyncio.create_task(call(drill, plan)) for plan in menus]
        lines = []
        for plan in in_line:
            lines.append(asyncio.create_task(call(drill, plan)))
            await asyncio.sleep(0.6)
        await wait_until(
            lambda: sum(len(c) for c in channels(drill).values()) == 44, 20, "44 callers in"
        )
        await asyncio.sleep(3.0)  # all four have pressed 1
        # The victim is the controller serving the first caller in line, so
        # that a place in line is taken over whatever the dialplans chose.
        nodes = await nodes_of(drill, [plan.caller for plan in in_line])
        victim = next(c for c in drill.controllers if nodes[0].startswith(f"{c.name}@"))
        survivor = next(c for c in drill.controllers if c is not victim)
        # The calls' clock (IVR_NOW) is the survivor's: it writes the resumed steps.
        health = cluster.controller_health(survivor)
        assert health is not None
        killed_at = datetime.fromisoformat(health["now"]).timestamp()
        cluster.stop_controller(drill, victim, signal.SIGKILL)
        await asyncio.sleep(TAKEOVER_LIMIT_S)
        api(drill, survivor, "/api/operators/opk1/resume")
        done = await asyncio.gather(*calls)
        served = await asyncio.gather(*lines)
        answered = await phone.result(timeout_s=60)

    taken_over = []
    for result, record in done + served:
        assert result.answered, result.sipp_log
        assert record is not None, "no record"
        steps = [(_at(s), s["kind"], s["value"]) for s in record["steps"]]
        story = "\n".join(f"{at:.3f} {kind} {value[:50]}" for at, kind, value in steps)
        assert [s for s in steps if s[1] == "error"] == [], story
        if not record["node"].startswith(f"{victim.name}@"):
            continue
        resumed = [at for at, kind, value in steps if (kind, value) == ("note", "resumed")]
        assert len(resumed) == 1, story
        taken_over.append((record["node"], resumed[0] - killed_at))
    for result, record in done:
        assert result.ended_by == "caller" and record is not None
        assert record["end_reason"] == "caller_hangup"
    # The line held its order across the kill: the operator answered the
    # four in the order they joined, whichever controller served each.
    assert answered.answered == 4, answered.sipp_log
    order = [next(p.caller for p in in_line if p.caller in c.from_) for c in answered.calls]
    joined = sorted((r["queue"]["entered_at"], r["caller"]) for _, r in served if r)
    assert order == [caller for _, caller in joined]
    for _, record in served:
        assert record is not None and record["end_reason"] == "completed", record
    assert {node for node, _ in taken_over} == {f"{victim.name}@a", f"{victim.name}@b"}
    delays = sorted(delay for _, delay in taken_over)
    assert delays[-1] <= TAKEOVER_LIMIT_S, delays
    lined = [r["node"] for _, r in served if r and r["node"].startswith(f"{victim.name}@")]
    assert lined, "no caller in line was taken over"
    print(f"takeover of {len(delays)} calls ({len(lined)} in line) after the kill: "
          f"{delays[0]:.2f} to {delays[-1]:.2f} s")
    await wait_until(lambda: not any(channels(drill).values()), 10, "no channel left in Stasis")

    # The killed controller comes back and gets its application back.
    cluster.start_controller(drill, victim)
    health = cluster.controller_health(survivor)
    assert health is not None and sorted(health["asterisks"]) == [
        f"{survivor.name}@a", f"{survivor.name}@b"
    ]


async def test_drill_2_and_3_a_killed_asterisk_gets_no_new_calls_and_is_back_after_restart(
    drill: cluster.Cluster,
) -> None:
    dead, alive = drill.asterisks
    dead_uri = f"sip:{dead.host}:{dead.sip_port}"
    routes = kamailio.destinations(drill.door)
    assert routes is not None and all(routes.values())
    # An operator's phone both Asterisks know (nobody calls it here).
    ivr(drill, "operators", "add", "opn1", "--name", "N", "--departments", "340123",
        "--contact", "sip:opn1@127.0.0.1:5999")
    for node in drill.asterisks:
        await wait_until(lambda node=node: _knows(drill.asterisk_settings(node), "opn1"),
                   PUSH_WAIT_S, f"Asterisk {node.name} to learn opn1's phone")
    # Callers in menus on both Asterisks when one dies.
    staying = [
        asyncio.create_task(call(drill, CallPlan(
            caller=f"0551810000{n:02d}", actions=(Pause(25_000), Hangup()), max_call_s=40
        )))
        for n in range(4)
    ]
    await wait_until(
        lambda: sum(len(c) for c in channels(drill).values()) == 4
        and all(channels(drill).values()),
        20,
        "4 callers in, on both Asterisks",
    )
    # And a caller leaving a message on the Asterisk that dies (placed there
    # directly): Hefei has no operators, so its front page offers a message
    # on 2; the caller presses it, hears the introduction, and speaks.
    speaking = CallPlan(
        caller="055183000001", max_call_s=60, offer_pcma=True,
        actions=(Pause(1500), Key("2"), Pause(12_000),
                 *(Audio(str(G711A), 3000) for _ in range(10))),
    )
    message_call = asyncio.create_task(place_call(speaking, drill.asterisk_settings(dead)))
    name = await recording_of(drill, speaking.caller, message_call)
    await asyncio.sleep(4.0)  # four seconds of the message are on Asterisk's disk
    # New calls every 100 ms from 1 s before the kill to 6 s after it.
    stream: list[tuple[float, asyncio.Task[tuple[CallResult, dict[str, Any] | None]]]] = []

    async def place_every_100_ms() -> None:
        for n in range(70):
            plan = CallPlan(caller=f"0551820000{n:02d}", actions=(Pause(1500), Hangup()),
                            max_call_s=20, answer_timeout_s=10)
            stream.append((time.monotonic(), asyncio.create_task(call(drill, plan))))
            await asyncio.sleep(0.1)

    placing = asyncio.create_task(place_every_100_ms())
    await asyncio.sleep(1.0)
    asterisk.kill(drill.asterisk_settings(dead))
    killed_at = time.monotonic()
    await wait_until(
        lambda: (kamailio.destinations(drill.door) or {}).get(dead_uri) is False,
        5,
        "Kamailio to leave the dead Asterisk out",
    )
    out_at = time.monotonic()
    await placing
    placed = [(at, *(await task)) for at, task in stream]
    failed_in_window = [at - killed_at for at, result, _ in placed
                        if killed_at <= at <= out_at and not result.answered]
    after = [(result, record) for at, result, record in placed if at > out_at]
    assert after, "no call was placed after Kamailio left the Asterisk out"
    for result, record in after:
        assert result.answered, result.sipp_log
        assert record is not None and record["node"].endswith(f"@{alive.name}")
    print(f"Kamailio left the dead Asterisk out {out_at - killed_at:.2f} s after the kill; "
          f"{len(failed_in_window)} of the calls placed meanwhile failed, "
          f"0 of {len(after)} after")

    # Drill 3: restarted, it gets calls again; the calls it had are closed
    # as lost with it, and every controller gives it the operators' phones.
    await asyncio.to_thread(cluster.start_asterisk, drill, dead)
    await wait_until(
        lambda: (kamailio.destinations(drill.door) or {}).get(dead_uri) is True,
        10,
        "Kamailio to send calls to the Asterisk again",
    )
    await wait_until(
        lambda: all(
            all((cluster.controller_health(c) or {}).get("asterisks", {0: False}).values())
            for c in drill.controllers
        ),
        20,
        "every controller connected to it again",
    )
    await wait_until(
        lambda: _knows(drill.asterisk_settings(dead), "opn1"), PUSH_WAIT_S,
        "the restarted Asterisk to learn the operators' phones",
    )
    lost = [record for _, record in await asyncio.gather(*staying)
            if record and record["node"].endswith(f"@{dead.name}")]
    assert lost, "no caller was on the Asterisk that died"
    assert {record["end_reason"] for record in lost} == {"node_lost"}
    # What the caller had said before Asterisk died is a case.
    await message_call
    message = await wait_for_message(drill, name)
    assert message["status"] == "saved" and message["seconds"] >= 2.0, message
    assert message["number"], "the partial message opened no case"
    speaker = await asyncio.to_thread(
        wait_for_record, door_settings(drill), speaking.call_id, RECORD_WAIT_S
    )
    assert speaker is not None and speaker["end_reason"] == "node_lost"
    done = await asyncio.gather(
        *(call(drill, CallPlan(caller=f"0551900000{n:02d}", actions=invalid_keys(1.5)))
          for n in range(4))
    )
    assert {record["node"].split("@")[1] for _, record in done if record} == {"a", "b"}


async def test_drill_4_postgresql_away_for_10_s_under_20_calls_a_second(
    drill: cluster.Cluster, database_server: PostgresServer, tmp_path: Path
) -> None:
    # 300 callers at 20 a second, each hearing the first page for 4 s; the
    # database stops 2 s in and is back 10 s later.
    load = callers.Load(exten="12371", rate=20, calls=300, hold_s=4, press_every=0)
    target = f"{drill.door.host}:{drill.door.port}"
    sipp = asyncio.create_task(
        asyncio.to_thread(callers.run, target, load, tmp_path / "sipp", lambda _: None)
    )
    await asyncio.sleep(2.0)
    await asyncio.to_thread(database_server.stop)
    stopped = time.monotonic()
    await asyncio.sleep(10.0)
    await asyncio.to_thread(database_server.start)
    print(f"PostgreSQL was away {time.monotonic() - stopped:.1f} s")
    result = await sipp
    assert result.failed == 0, f"{result.failed} of {load.calls} calls failed"
    assert len(result.answer_ms) == load.calls

    # Every call's record reaches the database once it is back: counted.
    async def ended() -> int:
        rows = await _query(
            drill,
            "SELECT count(*) AS n FROM calls WHERE caller = $1 AND ended_at IS NOT NULL",
            callers.CALLER_ID,
        )
        return int(rows[0]["n"])

    deadline = time.monotonic() + 60
    count = await ended()
    while count < load.calls and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        count = await ended()
    assert count == load.calls
    await wait_until(lambda: not any(channels(drill).values()), 20, "no channel left")


async def test_drill_5_an_operator_signed_in_on_one_asterisk_answers_callers_on_both(
    drill: cluster.Cluster,
) -> None:
    county = "340122"
    home = drill.asterisks[0]
    phone = SipOperator(OperatorPhone("opm1", ring_s=1, hangup_after_s=3, calls=2))
    async with phone:
        ivr(drill, "operators", "add", "opm1", "--name", "M", "--departments", county,
            "--contact", phone.contact)
        for node in drill.asterisks:
            await wait_until(lambda node=node: _knows(drill.asterisk_settings(node), "opm1"),
                       PUSH_WAIT_S, f"Asterisk {node.name} to learn opm1's phone")
        # The operator signs in from the desk phone, through Asterisk a.
        sign_in = CallPlan(caller="opm1", to="*21", local_ip=OPERATORS_DESK, max_call_s=15)
        result = await place_call(sign_in, drill.asterisk_settings(home))
        assert result.answered and result.ended_by == "asterisk", result.sipp_log
        # Two callers through the door: Kamailio gives one to each Asterisk.
        done = []
        for n in range(2):
            plan = CallPlan(caller=f"1380013820{n}", origin=county,
                            actions=(Pause(1500), Key("1")), max_call_s=40)
            done.append(await call(drill, plan))
        answered = await phone.result(timeout_s=30)

    assert answered.answered == 2, answered.sipp_log
    assert {record["node"].split("@")[1] for _, record in done if record} == {"a", "b"}
    for result, record in done:
        assert result.answered, result.sipp_log
        assert record is not None and record["end_reason"] == "completed", record
        assert record["queue"]["operator_id"] == "opm1"


async def test_a_menu_published_on_one_controller_is_heard_on_calls_of_the_other(
    drill: cluster.Cluster,
) -> None:
    county = "340124"  # 庐江县: no operators, so its front page's 1 is its service menu
    main = {
        "kind": "menu",
        "text": "庐江县：党费，请按1；组织关系，请按2。",
        "choices": [{"key": 1, "to": "dues"}, {"key": 2, "to": "relations"}],
    }
    publisher, _ = drill.controllers
    api(drill, publisher, f"/api/menus/{county}/draft", {"nodes": {"main": main}}, method="PUT")
    published = api(drill, publisher, f"/api/menus/{county}/publish", {})
    # Every controller looks for publications each IVR_CONFIG_POLL_SECONDS (1 s).
    await asyncio.sleep(2.0)
    served: dict[str, list[str]] = {}
    # Each Asterisk picks a controller at random: call until both served one
    # (12 calls all to one controller: 1 in 2,048).
    for n in range(12):
        if len({node.split("@")[0] for node in served}) == len(drill.controllers) >= 2:
            break
        plan = CallPlan(caller=f"0551850000{n:02d}", origin=county,
                        actions=(Pause(1500), Key("1"), Pause(4000), Hangup()))
        _, record = await call(drill, plan)
        assert record is not None
        prompts = [s["value"] for s in record["steps"] if s["kind"] == "prompt"]
        served[record["node"]] = [p for p in prompts if p.startswith("svc.") and "main@" in p]
        everything = prompts
    # Every node, whichever controller and Asterisk, played the county's own
    # menu as just published, not the national one it inherited before.
    assert {node.split("@")[0] for node in served} == {c.name for c in drill.controllers}, served
    for node, heard in served.items():
        assert heard == [f"svc.{county}.main@v{published['number']}"], (node, heard, everything)


async def test_an_operators_screen_on_one_controller_pops_for_calls_either_offers(
    drill: cluster.Cluster,
) -> None:
    """The operator's page is open on controller c1; callers are served by
    whichever controller their Asterisk picks. Every offer pops on c1's page
    (the feed goes through PostgreSQL's LISTEN/NOTIFY)."""
    county, operator = "340181", "ops1"  # 巢湖市: nobody else answers for it
    home = drill.asterisks[0]
    phone = SipOperator(OperatorPhone(operator, ring_s=1, hangup_after_s=2, calls=10))
    page = drill.controllers[0]
    events: list[tuple[str, dict[str, Any]]] = []
    async with phone:
        ivr(drill, "operators", "add", operator, "--name", "屏", "--departments", county,
            "--contact", phone.contact)
        ivr(drill, "users", "add", operator, "--name", "屏", "--role", "operator",
            "--department", county, "--password-env", "OPERATOR_PASSWORD",
            OPERATOR_PASSWORD="e2e-only-password-屏")
        token = ivr(drill, "users", "token", operator).strip()
        for node in drill.asterisks:
            await wait_until(lambda node=node: _knows(drill.asterisk_settings(node), operator),
                             PUSH_WAIT_S, f"Asterisk {node.name} to learn {operator}'s phone")
        sign_in = CallPlan(caller=operator, to="*21", local_ip=OPERATORS_DESK, max_call_s=15)
        result = await place_call(sign_in, drill.asterisk_settings(home))
        assert result.answered, result.sipp_log

        url = f"http://127.0.0.1:{page.http_port}/api/operator/feed"
        reader = asyncio.create_task(_read_feed(url, token, events))
        try:
            await wait_until(lambda: any(kind == "hello" for kind, _ in events), 10, "the feed")
            served: dict[str, str] = {}  # call id: the controller that offered it
            for n in range(10):
                if len(set(served.values())) == len(drill.controllers):
                    break
                plan = CallPlan(caller=f"0551820000{n:02d}", origin=county,
                                actions=(Pause(1500), Key("1")), max_call_s=30)
                result, record = await call(drill, plan)
                assert result.answered and record is not None, result.sipp_log
                assert record["queue"]["operator_id"] == operator, record
                served[record["id"]] = record["node"].split("@")[0]
            await asyncio.sleep(1.0)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    assert len(set(served.values())) == len(drill.controllers), served
    popped = {data["call"]["call_id"]: data["node"] for kind, data in events if kind == "ringing"}
    for call_id, controller in served.items():
        assert call_id in popped, f"no pop on {page.name}'s page for {call_id} ({controller})"
        assert popped[call_id].split("@")[0] == controller


async def _read_feed(url: str, token: str, events: list[tuple[str, dict[str, Any]]]) -> None:
    """The server-sent events of an operator's feed, as the page's EventSource reads them."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        assert response.status == 200, await response.text()
        kind, data = "", ""
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data += line.removeprefix("data:").strip()
            elif not line and kind:
                events.append((kind, json.loads(data)))
                kind, data = "", ""
