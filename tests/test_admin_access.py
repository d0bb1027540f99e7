"""Who reaches what through the admin API, endpoint by endpoint.

The one acting is a department admin of 肥西县 (340123) without the
departments below it. Next to its own data lie Beijing's 东城区 (110101) and
its own parent 合肥市 (340100), both "another department", so that a leak
shows. `COUNTY_ADMIN` holds a check for every declared endpoint: a request
for another department's scope is refused (403 and a "denied" line in the
audit log) and done for its own; a request for another department's object
(a case, a call, an operator) is answered exactly as one for an id that does
not exist (404, so ids are no oracle), with the "denied" line all the same;
a listing shows its own and nothing of the others. A route added without a
check fails `test_every_endpoint_has_an_access_check`.

SQLite only: the permissions are the web layer's and do not depend on the
database (tests/test_admin_web.py runs both).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from ivr.admin.auth import Role
from ivr.admin.cases import CASES
from ivr.admin.inbox import ESCALATIONS
from ivr.admin.keys import API, ARI, DIRECTORY, SETTINGS
from ivr.ari.client import AriClient
from ivr.db.recorder import Recorder
from ivr.desk import line_store as lines
from ivr.desk import operator_store as stored_operators
from tests.admin_support import NOW, AdminApp, admin_app
from tests.test_admin_web import MAIN_340121, _tone_wav, _upload
from tests.web_support import PASSWORD

Client = TestClient[Any, Any]
Check = Callable[["World"], Awaitable[None]]

OWN, BEIJING, HEFEI = "340123", "110101", "340100"
OTHERS = (BEIJING, HEFEI)
DEPARTMENTS = (OWN, *OTHERS)
OPERATORS = {OWN: "op0001", BEIJING: "op0002", HEFEI: "op0003"}
CALLERS = {OWN: "055168880001", BEIJING: "01065550002", HEFEI: "055165550003"}
# Ids that exist nowhere, in the shape of the real ones.
MADE_UP = {"call": "call-999999", "case": "999997", "operator": "op9999"}
WAV = b"RIFF....WAVEfmt a stored recording"
TONE = _tone_wav()  # a recording long enough to upload


def call_id(code: str) -> str:
    return f"call-{code}"


class _Recordings(AriClient):
    """Asterisk's stored recordings, without Asterisk: every one is kept."""

    async def stored_recording_file(self, name: str) -> bytes:
        return WAV


def _keep_recordings(app: web.Application) -> None:
    app[ARI] = _Recordings(app[SETTINGS])


@dataclass
class World:
    admin: AdminApp
    county: Client  # feixi, department admin of 340123, no sub-departments
    national: Client  # boss, national admin
    cases: dict[str, str]  # department -> the number of its case

    def fill(self, template: str, code: str) -> str:
        """A request path for `code`'s department, its call, case or operator."""
        return template.format(
            scope=code, call=call_id(code), case=self.cases[code], operator=OPERATORS[code]
        )

    def ids(self, code: str) -> dict[str, str]:
        return {"call": call_id(code), "case": self.cases[code], "operator": OPERATORS[code]}

    def made_up(self, template: str) -> str:
        """A request path like `template`'s with ids that exist nowhere."""
        return template.format(**MADE_UP)

    def markers(self, code: str) -> set[str]:
        """What of `code`'s department would show in an answer that leaked it."""
        return {code, call_id(code), self.cases[code], OPERATORS[code], CALLERS[code]}

    def assert_nothing_of_others(self, body: Any) -> None:
        text = json.dumps(body, ensure_ascii=False)
        leaked = sorted(m for code in OTHERS for m in self.markers(code) if m in text)
        assert not leaked, f"another department's data in the answer: {leaked}"


async def seed(admin: AdminApp) -> dict[str, str]:
    """A call, a caller in line, an operator and a case in each department."""
    directory = admin.app[DIRECTORY]
    recorder = Recorder(admin.engine, flush_interval=0.01)
    await recorder.start()
    for code in DEPARTMENTS:
        recorder.call_started(
            call_id(code),
            sip_call_id=f"sip-{code}",
            node="node-a",
            caller=CALLERS[code],
            dialed="12371",
            department_code=code,
            department_name=directory.by_code(code).name,
            route_rule="caller_area_code",
            route_read=CALLERS[code][:4],
            started_at=NOW - timedelta(minutes=10),
        )
    await recorder.stop()
    async with admin.sessions() as session, session.begin():
        for code in DEPARTMENTS:
            await stored_operators.add_operator(
                session,
                directory,
                OPERATORS[code],
                name=f"话务员{code}",
                endpoint=OPERATORS[code],
                departments=[code],
                at=NOW,
            )
            await lines.join(session, call_id(code), code, "node-a", CALLERS[code], NOW)
    cases = {}
    for code in DEPARTMENTS:
        case = await admin.app[CASES].register(
            source=f"msg-{code}",
            kind="message",
            department=code,
            category="dues",
            caller=CALLERS[code],
            call_id=call_id(code),
            recording=f"msg-{code}",
            seconds=3.0,
        )
        cases[code] = case.number
    return cases


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.sqlite3'}"
    async with admin_app(tmp_path, database_url, _keep_recordings) as admin:
        cases = await seed(admin)
        county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, OWN)
        national = await admin.as_user("boss")
        yield World(admin, county, national, cases)


# Kinds of checks -----------------------------------------------------------------------


async def refused(world: World, response: Any, scope: str, actor: str = "feixi") -> None:
    """A 403, and the attempt in the audit log (read as the national admin)."""
    assert response.status == 403, await response.text()
    assert (await response.json())["error_id"] == "forbidden"
    (last,) = await (await world.national.get("/api/audit?limit=1")).json()
    assert (last["actor"], last["scope"], last["outcome"]) == (actor, scope, "denied")


async def last_audit(world: World) -> tuple[str, str, str]:
    (last,) = await (await world.national.get("/api/audit?limit=1")).json()
    return last["actor"], last["scope"], last["outcome"]


async def concealed(
    world: World,
    client: Client,
    request: tuple[str, str, str],
    code: str,
    actor: str = "feixi",
    **sent: Any,
) -> None:
    """`request` (method, template, the kind of id) for `code`'s object answers
    exactly as for an id that does not exist, and the attempt is in the audit log."""
    method, template, kind = request
    real_id, fake_id = world.ids(code)[kind], MADE_UP[kind]
    response = await client.request(method, world.fill(template, code), **sent)
    status, text = response.status, await response.text()
    assert status == 404, text
    assert await last_audit(world) == (actor, code, "denied")
    missing = await client.request(method, world.made_up(template), **sent)
    assert (status, text.replace(real_id, fake_id)) == (missing.status, await missing.text())


async def allowed(response: Any, status: int = 200) -> Any:
    assert response.status == status, await response.text()
    if response.content_type == "application/json":
        return await response.json()
    return await response.read()


def targeted(
    method: str, template: str, status: int = 200, prepare: Check | None = None, **request: Any
) -> Check:
    """Refused at each other department; done at its own (so not refused for all)."""

    async def check(world: World) -> None:
        if prepare is not None:
            await prepare(world)
        for code in OTHERS:
            response = await world.county.request(method, world.fill(template, code), **request)
            await refused(world, response, code)
        own = await world.county.request(method, world.fill(template, OWN), **request)
        await allowed(own, status)

    return check


def hidden(
    method: str, template: str, kind: str, status: int = 200, **request: Any
) -> Check:
    """Another department's object is not found, the same as a made-up id; its own is done."""

    async def check(world: World) -> None:
        for code in OTHERS:
            await concealed(world, world.county, (method, template, kind), code, **request)
        own = await world.county.request(method, world.fill(template, OWN), **request)
        await allowed(own, status)

    return check


def listing(
    *paths: str,
    departments: Callable[[Any], list[str]],
    narrowed: str | None = None,
    prepare: Check | None = None,
) -> Check:
    """Each of `paths` shows nothing of another department, and the first its own;
    narrowed to another department (`narrowed`, a query) it is refused."""

    async def check(world: World) -> None:
        if prepare is not None:
            await prepare(world)
        bodies = [await allowed(await world.county.get(path)) for path in paths]
        for path, body in zip(paths, bodies, strict=True):
            world.assert_nothing_of_others(body)
            assert set(departments(body)) <= {OWN}, path
        assert OWN in departments(bodies[0]), "its own department should be listed"
        if narrowed is not None:
            await targeted("GET", f"{paths[0]}?{narrowed}")(world)

    return check


def national_only(method: str, path: str, **request: Any) -> Check:
    """Users are the national admins': refused, and nothing changed."""

    async def check(world: World) -> None:
        before = await allowed(await world.national.get("/api/users"))
        await refused(world, await world.county.request(method, path, **request), "national")
        assert await allowed(await world.national.get("/api/users")) == before

    return check


# What the checks need first ----------------------------------------------------------------


async def publish_menus(world: World) -> None:
    """Version 1 of a menu of each department, the others' by the national admin."""
    for code in DEPARTMENTS:
        client = world.county if code == OWN else world.national
        main = {**MAIN_340121, "text": f"{code}：党费，请按1；组织关系，请按2。"}
        await allowed(await client.put(f"/api/menus/{code}/draft", json={"nodes": {"main": main}}))
        await allowed(await client.post(f"/api/menus/{code}/publish", json={}))


async def draft_menus(world: World) -> None:
    for code in DEPARTMENTS:
        client = world.county if code == OWN else world.national
        await allowed(await client.put(f"/api/menus/{code}/draft", json={"nodes": {}}))


async def publish_hours(world: World) -> None:
    for code in DEPARTMENTS:
        client = world.county if code == OWN else world.national
        await allowed(await client.put(f"/api/hours/{code}", json={"week": None}))


async def move_operators(world: World) -> None:
    """Lines in the audit log of each department."""
    for code in DEPARTMENTS:
        client = world.county if code == OWN else world.national
        await allowed(await client.post(f"/api/operators/{OPERATORS[code]}/sign-in"))


# Checks that fit no kind ---------------------------------------------------------------------


async def shows_only_itself(world: World) -> None:
    body = await allowed(await world.county.get("/api/session"))
    assert (body["user"]["username"], body["user"]["department"]) == ("feixi", OWN)


async def signs_out_only_itself(world: World) -> None:
    browser = await world.admin.client()
    boss = {"username": "boss", "password": PASSWORD}
    await allowed(await browser.post("/api/session", json=boss))
    await allowed(await world.county.delete("/api/session"), 204)
    await allowed(await browser.get("/api/session"))


async def previews_a_text(world: World) -> None:
    """No department's data: anyone signed in hears how a text will sound."""
    wav = await allowed(await world.county.post("/api/prompts/preview", json={"text": "党费"}))
    assert wav[:4] == b"RIFF"


async def uploads_only_its_own(world: World) -> None:
    for code in OTHERS:
        await refused(world, await _upload(world.county, "问候.wav", TONE, code), code)
    await allowed(await _upload(world.county, "问候.wav", TONE, OWN), 201)


async def plays_only_its_own_prompts(world: World) -> None:
    found = {}
    for code in DEPARTMENTS:
        client = world.county if code == OWN else world.national
        upload = await allowed(await _upload(client, "问候.wav", TONE, code), 201)
        found[code] = upload["audio_url"]
    for code in OTHERS:
        await refused(world, await world.county.get(found[code]), code)
    assert (await allowed(await world.county.get(found[OWN])))[:4] == b"RIFF"


async def counts_only_its_own_calls_today(world: World) -> None:
    body = await allowed(await world.county.get("/api/stats/today"))
    assert (body["department"], body["calls"]) == (OWN, 1)  # one call in each department
    await targeted("GET", "/api/stats/today?department={scope}")(world)


async def watches_no_operators_feed(world: World) -> None:
    """The screen pop is an operator's own: an admin watches nobody's calls."""
    await refused(world, await world.county.get("/api/operator/feed"), OWN)
    operator = await world.admin.as_user(OPERATORS[OWN], Role.OPERATOR, OWN)
    other = await operator.get(f"/api/operator/feed?operator={OPERATORS[HEFEI]}")
    await refused(world, other, OWN, actor=OPERATORS[OWN])


async def reports_only_its_own(world: World) -> None:
    body = await allowed(await world.county.get("/api/report?period=day"))
    world.assert_nothing_of_others(body)
    assert (body["calls"], body["cases"]) == (1, 1)  # one of each in each department
    lines_of = [*body["call_lines"], *body["case_lines"], *body["departments"]]
    assert {line["department"] for line in lines_of} == {OWN}
    await targeted("GET", "/api/report?period=day&department={scope}")(world)


def downloads_only_its_own(suffix: str) -> Check:
    """The report as a file: its own department's lines, nothing of the others."""

    async def check(world: World) -> None:
        data = await allowed(await world.county.get(f"/api/report.{suffix}?period=day"))
        if suffix == "xlsx":
            book = load_workbook(io.BytesIO(data), read_only=True)
            rows = [row for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]
        else:
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        world.assert_nothing_of_others(rows)
        assert OWN in {row[0] for row in rows if row}
        await targeted("GET", f"/api/report.{suffix}?period=day&department={{scope}}")(world)

    return check


async def escalate_all(world: World) -> list[dict[str, Any]]:
    """Every case late, and escalated to its department's parent: the national
    admin's inbox holds all three."""
    world.admin.clock.advance(days=10)
    await world.admin.app[ESCALATIONS].run()
    inbox = await allowed(await world.national.get("/api/inbox"))
    assert inbox["unread"] == len(DEPARTMENTS)
    items: list[dict[str, Any]] = inbox["items"]
    return items


async def inbox_holds_only_what_it_supervises(world: World) -> None:
    await escalate_all(world)
    # Its own case is late too, but told to Hefei, which supervises it.
    body = await allowed(await world.county.get("/api/inbox"))
    assert body == {"unread": 0, "items": []}
    city = await world.admin.as_user("hefei-sub", Role.DEPARTMENT_ADMIN, HEFEI, include_sub=True)
    (item,) = (await allowed(await city.get("/api/inbox")))["items"]
    assert (item["department"], item["supervisor"]) == (OWN, HEFEI)


async def marks_only_what_it_supervises(world: World) -> None:
    for item in await escalate_all(world):
        # Not theirs: not found, the same as an id that does not exist.
        response = await world.county.post(f"/api/inbox/{item['id']}/read")
        assert response.status == 404, await response.text()
        assert (await response.json())["error_id"] == "escalation_not_found"
    missing = await world.county.post("/api/inbox/999999/read")
    assert missing.status == 404
    still = await allowed(await world.national.get("/api/inbox?unread=true"))
    assert still["unread"] == len(DEPARTMENTS)


COUNTY_ADMIN: dict[tuple[str, str], Check] = {
    ("GET", "/api/calls"): listing(
        "/api/calls",
        f"/api/calls?sip_call_id=sip-{BEIJING}",
        f"/api/calls?sip_call_id=sip-{HEFEI}",
        departments=lambda body: [call["department_code"] for call in body],
        narrowed="department={scope}",
    ),
    ("GET", "/api/calls/{call_id}"): hidden("GET", "/api/calls/{call}", "call"),
    ("GET", "/api/operators"): listing(
        "/api/operators", departments=lambda body: [d for op in body for d in op["departments"]]
    ),
    ("GET", "/api/queues"): listing(
        "/api/queues", departments=lambda body: [q["department"] for q in body["queues"]]
    ),
    ("POST", "/api/operators/{operator_id}/{action}"): hidden(
        "POST", "/api/operators/{operator}/sign-in", "operator"
    ),
    ("GET", "/api/session"): shows_only_itself,
    ("DELETE", "/api/session"): signs_out_only_itself,
    ("GET", "/api/cases"): listing(
        "/api/cases",
        "/api/cases?sub=1",
        departments=lambda body: [case["department"] for case in body],
        narrowed="department={scope}",
    ),
    ("GET", "/api/cases/overdue"): targeted("GET", "/api/cases/overdue?department={scope}"),
    ("GET", "/api/cases/{number}"): hidden("GET", "/api/cases/{case}", "case"),
    ("POST", "/api/cases/{number}/{action}"): hidden(
        "POST", "/api/cases/{case}/note", "case", json={"note": "已电话联系"}
    ),
    ("GET", "/api/cases/{number}/recording"): hidden(
        "GET", "/api/cases/{case}/recording", "case"
    ),
    ("GET", "/api/report"): reports_only_its_own,
    ("GET", "/api/inbox"): inbox_holds_only_what_it_supervises,
    ("POST", "/api/inbox/{id}/read"): marks_only_what_it_supervises,
    ("GET", "/api/webhook/deliveries"): national_only("GET", "/api/webhook/deliveries"),
    ("GET", "/api/report.csv"): downloads_only_its_own("csv"),
    ("GET", "/api/report.xlsx"): downloads_only_its_own("xlsx"),
    ("GET", "/api/operator/feed"): watches_no_operators_feed,
    ("POST", "/api/calls/{call_id}/case"): hidden(
        "POST", "/api/calls/{call}/case", "call", 201, json={"note": "来电咨询"}
    ),
    ("GET", "/api/menus/{scope}"): targeted("GET", "/api/menus/{scope}"),
    ("PUT", "/api/menus/{scope}/draft"): targeted(
        "PUT", "/api/menus/{scope}/draft", json={"nodes": {}}
    ),
    ("DELETE", "/api/menus/{scope}/draft"): targeted(
        "DELETE", "/api/menus/{scope}/draft", 204, prepare=draft_menus
    ),
    ("POST", "/api/menus/{scope}/publish"): targeted(
        "POST", "/api/menus/{scope}/publish", json={}, prepare=draft_menus
    ),
    ("GET", "/api/menus/{scope}/versions"): targeted("GET", "/api/menus/{scope}/versions"),
    ("GET", "/api/menus/{scope}/versions/{number}"): targeted(
        "GET", "/api/menus/{scope}/versions/1", prepare=publish_menus
    ),
    ("GET", "/api/menus/{scope}/diff"): targeted(
        "GET", "/api/menus/{scope}/diff?from=1&to=1", prepare=publish_menus
    ),
    ("POST", "/api/menus/{scope}/versions/{number}/restore"): targeted(
        "POST", "/api/menus/{scope}/versions/1/restore", prepare=publish_menus
    ),
    ("POST", "/api/prompts/preview"): previews_a_text,
    ("POST", "/api/prompts/uploads"): uploads_only_its_own,
    ("GET", "/api/prompts/{prompt_id}/audio"): plays_only_its_own_prompts,
    ("GET", "/api/departments/{code}"): targeted("GET", "/api/departments/{scope}"),
    ("GET", "/api/hours/{scope}"): targeted("GET", "/api/hours/{scope}"),
    ("PUT", "/api/hours/{scope}"): targeted("PUT", "/api/hours/{scope}", json={"week": None}),
    ("GET", "/api/hours/{scope}/versions"): targeted("GET", "/api/hours/{scope}/versions"),
    ("POST", "/api/hours/{scope}/versions/{number}/restore"): targeted(
        "POST", "/api/hours/{scope}/versions/1/restore", prepare=publish_hours
    ),
    ("GET", "/api/stats/today"): counts_only_its_own_calls_today,
    ("GET", "/api/audit"): listing(
        "/api/audit",
        departments=lambda body: [line["scope"] for line in body],
        narrowed="scope={scope}",
        prepare=move_operators,
    ),
    ("GET", "/api/users"): national_only("GET", "/api/users"),
    ("POST", "/api/users"): national_only(
        "POST",
        "/api/users",
        json={"username": "mine", "name": "我的", "role": "national_admin", "password": PASSWORD},
    ),
    ("PATCH", "/api/users/{username}"): national_only(
        "PATCH", "/api/users/boss", json={"disabled": True}
    ),
}


# The tests ----------------------------------------------------------------------------------


async def test_every_endpoint_has_an_access_check(world: World) -> None:
    declared = {(e.method, e.path) for e in world.admin.app[API].endpoints if not e.public}
    assert set(COUNTY_ADMIN) == declared


@pytest.mark.parametrize("endpoint", list(COUNTY_ADMIN), ids=" ".join)
async def test_a_department_admin_reaches_only_its_own_department(
    world: World, endpoint: tuple[str, str]
) -> None:
    await COUNTY_ADMIN[endpoint](world)


async def test_a_department_admin_without_sub_departments_sees_none_below(world: World) -> None:
    city = await world.admin.as_user("hefei", Role.DEPARTMENT_ADMIN, HEFEI)
    cases = await allowed(await city.get(f"/api/cases?department={HEFEI}&sub=1"))
    assert [case["department"] for case in cases] == [HEFEI]
    today = await allowed(await city.get(f"/api/stats/today?department={HEFEI}"))
    assert today["calls"] == 1
    department = await allowed(await city.get(f"/api/departments/{HEFEI}"))
    assert department["children"] == []
    await refused(world, await city.get(f"/api/menus/{OWN}"), OWN, actor="hefei")
    await concealed(world, city, ("GET", "/api/calls/{call}", "call"), OWN, actor="hefei")


async def test_calls_of_its_own_department_show_none_below_without_sub_departments(
    world: World,
) -> None:
    city = await world.admin.as_user("hefei", Role.DEPARTMENT_ADMIN, HEFEI)
    calls = await allowed(await city.get(f"/api/calls?department={HEFEI}"))
    assert [call["department_code"] for call in calls] == [HEFEI]


async def test_overdue_cases_show_none_below_without_sub_departments(world: World) -> None:
    """The supervision list (督办) must not show a case its reader may not open."""
    city = await world.admin.as_user("hefei", Role.DEPARTMENT_ADMIN, HEFEI)
    world.admin.clock.advance(days=10)  # every case is late
    await concealed(world, city, ("GET", "/api/cases/{case}", "case"), OWN, actor="hefei")
    late = await allowed(await city.get(f"/api/cases/overdue?department={HEFEI}"))
    assert [item["case"]["number"] for item in late] == []


async def test_a_case_goes_only_to_an_operator_of_a_department_within_reach(
    world: World,
) -> None:
    """Another department's operator is "no operator", like a made-up id."""
    number = world.cases[OWN]
    path = f"/api/cases/{number}/assign"
    beijing = await world.county.post(path, json={"operator": OPERATORS[BEIJING]})
    assert beijing.status == 400
    assert await last_audit(world) == ("feixi", OWN, "denied")
    missing = await world.county.post(path, json={"operator": MADE_UP["operator"]})
    text = (await beijing.text()).replace(OPERATORS[BEIJING], MADE_UP["operator"])
    assert (missing.status, await missing.text()) == (400, text)
    own = {"operator": OPERATORS[OWN]}
    case = await allowed(await world.county.post(f"/api/cases/{number}/assign", json=own))
    assert case["assigned_to"] == OPERATORS[OWN]


async def test_an_auditor_reads_below_but_changes_nothing(world: World) -> None:
    auditor = await world.admin.as_user("shenji", Role.AUDITOR, HEFEI, include_sub=True)
    await allowed(await auditor.get(f"/api/menus/{OWN}"))
    await allowed(await auditor.get(f"/api/cases/{world.cases[OWN]}"))
    changes: list[tuple[str, str, dict[str, Any]]] = [
        ("PUT", f"/api/menus/{OWN}/draft", {"json": {"nodes": {}}}),
        ("POST", f"/api/menus/{OWN}/publish", {"json": {}}),
        ("POST", f"/api/menus/{OWN}/versions/1/restore", {}),
        ("PUT", f"/api/hours/{OWN}", {"json": {"week": None}}),
        ("POST", f"/api/cases/{world.cases[OWN]}/note", {"json": {"note": "看过了"}}),
    ]
    for method, path, request in changes:
        await refused(world, await auditor.request(method, path, **request), OWN, "shenji")
    await refused(world, await _upload(auditor, "问候.wav", TONE, OWN), OWN, "shenji")


async def test_an_operator_moves_only_themselves(world: World) -> None:
    operator = await world.admin.as_user(OPERATORS[OWN], Role.OPERATOR, OWN)
    moved = await allowed(await operator.post(f"/api/operators/{OPERATORS[OWN]}/sign-in"))
    assert moved["status"] == "available"
    move = ("POST", "/api/operators/{operator}/sign-in", "operator")
    await concealed(world, operator, move, BEIJING, actor=OPERATORS[OWN])
    draft = await operator.put(f"/api/menus/{OWN}/draft", json={"nodes": {}})
    await refused(world, draft, OWN, actor=OPERATORS[OWN])


async def test_a_city_admin_with_sub_departments_changes_them_but_not_others(
    world: World,
) -> None:
    city = await world.admin.as_user("hefei", Role.DEPARTMENT_ADMIN, HEFEI, include_sub=True)
    await allowed(await city.put(f"/api/menus/{OWN}/draft", json={"nodes": {}}))
    beijing = await city.put(f"/api/menus/{BEIJING}/draft", json={"nodes": {}})
    await refused(world, beijing, BEIJING, actor="hefei")


async def test_a_national_admin_reaches_every_department(world: World) -> None:
    boss = world.national
    await allowed(await boss.put(f"/api/menus/{BEIJING}/draft", json={"nodes": {}}))
    await allowed(await boss.post(f"/api/operators/{OPERATORS[BEIJING]}/sign-in"))
    note = {"note": "已电话联系"}
    await allowed(await boss.post(f"/api/cases/{world.cases[HEFEI]}/note", json=note))
    calls = await allowed(await boss.get("/api/calls"))
    assert {call["department_code"] for call in calls} == set(DEPARTMENTS)
    await allowed(await boss.get("/api/users"))


def _any_path(path: str) -> str:
    """A concrete path of a declared one: sign-in is checked before the route's values."""
    return re.sub(r"\{[^}]+\}", "x1", path)


async def test_every_endpoint_but_the_public_ones_needs_a_sign_in(world: World) -> None:
    anyone = await world.admin.client()
    wrong = []
    for endpoint in world.admin.app[API].endpoints:
        response = await anyone.request(endpoint.method, _any_path(endpoint.path))
        body = await response.json() if response.content_type == "application/json" else {}
        signed_out = (response.status, body.get("error_id")) == (401, "not_signed_in")
        if signed_out == endpoint.public:
            wrong.append(f"{endpoint.method} {endpoint.path}: {response.status}")
    assert wrong == []


async def test_supervision_is_for_admins_auditors_read_it_operators_have_none(
    world: World,
) -> None:
    await escalate_all(world)
    operator = await world.admin.as_user("op-hefei", Role.OPERATOR, HEFEI, include_sub=True)
    await refused(world, await operator.get("/api/inbox"), HEFEI, actor="op-hefei")
    auditor = await world.admin.as_user("audit", Role.AUDITOR, HEFEI, include_sub=True)
    (item,) = (await allowed(await auditor.get("/api/inbox")))["items"]
    await refused(world, await auditor.post(f"/api/inbox/{item['id']}/read"), HEFEI, "audit")
    city = await world.admin.as_user("hefei-sub", Role.DEPARTMENT_ADMIN, HEFEI, include_sub=True)
    read = await allowed(await city.post(f"/api/inbox/{item['id']}/read"))
    assert read["read_by"] == "hefei-sub"
    assert (await allowed(await city.get("/api/inbox?unread=true"))) == {"unread": 0, "items": []}
    bad = await city.post("/api/inbox/1e3/read")
    assert bad.status == 400 and "number" in (await bad.json())["message"]
