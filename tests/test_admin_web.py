"""The admin web's API: signing in, who may do what, editing and publishing
menus, prompts and hours, the audit log. A real database (SQLite and
PostgreSQL), the real routes and middleware, no Asterisk."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.admin.auth import Role
from tests.admin_support import AdminApp, admin_app
from tests.web_support import PASSWORD


@pytest.fixture
async def admin(tmp_path: Path, database_url: str) -> AsyncIterator[AdminApp]:
    async with admin_app(tmp_path, database_url) as found:
        yield found


async def test_signing_in_gives_a_strict_httponly_cookie_and_a_csrf_token(
    admin: AdminApp,
) -> None:
    await admin.as_user("hefei", Role.DEPARTMENT_ADMIN, "340100")
    browser = await admin.client()
    wrong = await browser.post("/api/session", json={"username": "hefei", "password": "nope"})
    assert wrong.status == 401
    assert (await wrong.json())["message"] == "the username or the password is wrong"
    signed = await browser.post("/api/session", json={"username": "hefei", "password": PASSWORD})
    assert signed.status == 200
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    body = await signed.json()
    assert body["user"]["department"] == "340100" and body["csrf_token"]
    assert (await browser.get("/api/menus/340100")).status == 200
    # A change without the token (as a forged form from another site would be) is refused.
    refused = await browser.put("/api/menus/340100/draft", json={"nodes": {}})
    assert refused.status == 403
    assert (await refused.json())["error_id"] == "csrf_failed"
    token = {"X-CSRF-Token": body["csrf_token"]}
    saved = await browser.put("/api/menus/340100/draft", json={"nodes": {}}, headers=token)
    assert saved.status == 200
    other_site = {**token, "Origin": "http://evil.example"}
    forged = await browser.delete("/api/menus/340100/draft", headers=other_site)
    assert forged.status == 403
    assert (await browser.delete("/api/session", headers=token)).status == 204
    assert (await browser.get("/api/menus/340100")).status == 401


async def test_a_session_ends_after_it_is_left_unused(admin: AdminApp) -> None:
    await admin.as_user("hefei", Role.DEPARTMENT_ADMIN, "340100")
    browser = await admin.client()
    await browser.post("/api/session", json={"username": "hefei", "password": PASSWORD})
    admin.clock.advance(minutes=29)
    assert (await browser.get("/api/session")).status == 200
    admin.clock.advance(minutes=31)
    ended = await browser.get("/api/session")
    assert ended.status == 401
    assert "sign in again" in (await ended.json())["message"]


async def test_repeated_wrong_passwords_are_slowed_down(
    admin: AdminApp, tmp_path: Path, database_url: str
) -> None:
    await admin.as_user("guess", Role.DEPARTMENT_ADMIN, "340100")
    browser = await admin.client()
    for _ in range(5):
        await browser.post("/api/session", json={"username": "guess", "password": "wrong-one"})
    blocked = await browser.post("/api/session", json={"username": "guess", "password": PASSWORD})
    assert blocked.status == 429
    assert "too many failed sign-ins" in (await blocked.json())["message"]
    # Counted in the database: another controller refuses the name as well.
    other_folder = tmp_path / "other-controller"
    async with admin_app(other_folder, database_url) as other:
        elsewhere = await other.client()
        again = await elsewhere.post(
            "/api/session", json={"username": "guess", "password": PASSWORD}
        )
        assert again.status == 429
    # The failures are in the audit log, under the user's department.
    national = await admin.as_user("boss")
    log = await (await national.get("/api/audit?scope=340100")).json()
    failed = [e for e in log if e["action"] == "sign_in" and e["outcome"] == "denied"]
    assert [e["target"] for e in failed] == ["guess"] * 5
    admin.clock.advance(minutes=16)
    later = await browser.post("/api/session", json={"username": "guess", "password": PASSWORD})
    assert later.status == 200


async def test_a_department_admin_who_touches_another_department_is_refused_and_logged(
    admin: AdminApp,
) -> None:
    county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, "340123")
    national = await admin.as_user("boss")
    assert (await county.get("/api/menus/340123")).status == 200
    response = await county.put("/api/menus/340100/draft", json={"nodes": {}})
    assert response.status == 403
    assert "outside what feixi may see" in (await response.json())["message"]
    log = await (await national.get("/api/audit?scope=340100")).json()
    assert (log[0]["actor"], log[0]["action"], log[0]["outcome"]) == (
        "feixi", "menu_draft", "denied"
    )


MAIN_340121 = {
    "kind": "menu",
    "text": "肥西县：党费，请按1；组织关系，请按2。",
    "choices": [{"key": 1, "to": "dues"}, {"key": 2, "to": "relations"}],
}


async def test_a_menu_is_drafted_checked_published_and_restored(admin: AdminApp) -> None:
    county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, "340123")
    before = await (await county.get("/api/menus/340123")).json()
    assert before["version"] is None  # nothing of its own yet: all inherited
    assert before["tree"][0]["id"] == "main" and before["tree"][0]["origin"] == "national"

    # A key that leads nowhere: saved, but shown next to its node, and not publishable.
    dead_end = {**MAIN_340121, "choices": [*MAIN_340121["choices"], {"key": 3, "to": "nowhere"}]}
    saved = await county.put("/api/menus/340123/draft", json={"nodes": {"main": dead_end}})
    view = await saved.json()
    assert [(p["node"], "nowhere" in p["message"]) for p in view["problems"]] == [("main", True)]
    refused = await county.post("/api/menus/340123/publish", json={"note": "新菜单"})
    assert refused.status == 422
    assert (await refused.json())["details"]["problems"][0]["node"] == "main"
    assert admin.config.now().menus.effective("340123").node("main").origin == "national"

    await county.put("/api/menus/340123/draft", json={"nodes": {"main": MAIN_340121}})
    published = await county.post("/api/menus/340123/publish", json={"note": "新菜单"})
    assert published.status == 200, await published.text()
    assert (await published.json())["number"] == 1
    # In force at once, under a prompt id that names the version.
    node = admin.config.now().menus.effective("340123").node("main")
    assert (node.origin, node.prompt_id) == ("340123", "svc.340123.main@v1")
    assert admin.config.now().catalog.has("svc.340123.main@v1")
    shown = await (await county.get("/api/menus/340123")).json()
    assert shown["draft"] is None and shown["tree"][0]["here"] is True
    assert shown["tree"][0]["overridden"] is True

    changed = {**MAIN_340121, "text": "肥西县：党费，请按1；组织关系，请按2；谢谢。"}
    await county.put("/api/menus/340123/draft", json={"nodes": {"main": changed}})
    await county.post("/api/menus/340123/publish", json={})
    assert admin.config.now().menus.effective("340123").node("main").text == changed["text"]
    diff = await (await county.get("/api/menus/340123/diff?from=1&to=2")).json()
    assert [(c["node"], c["change"]) for c in diff["changes"]] == [("main", "changed")]
    assert diff["changes"][0]["before"]["text"] == MAIN_340121["text"]

    restored = await county.post("/api/menus/340123/versions/1/restore")
    assert (await restored.json())["number"] == 3
    node = admin.config.now().menus.effective("340123").node("main")
    assert (node.text, node.prompt_id) == (MAIN_340121["text"], "svc.340123.main@v3")
    versions = await (await county.get("/api/menus/340123/versions")).json()
    assert [(v["number"], v["restored_from"], v["active"]) for v in versions] == [
        (3, 1, True), (2, None, False), (1, None, False)
    ]


async def test_a_call_in_the_menu_keeps_the_version_it_started_with(admin: AdminApp) -> None:
    county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, "340123")
    await county.put("/api/menus/340123/draft", json={"nodes": {"main": MAIN_340121}})
    await county.post("/api/menus/340123/publish", json={})
    started = admin.config.now().menus.effective  # what a call gets when it starts
    changed = {**MAIN_340121, "text": "新的文字。按1或2。"}
    await county.put("/api/menus/340123/draft", json={"nodes": {"main": changed}})
    await county.post("/api/menus/340123/publish", json={})
    assert started("340123").node("main").prompt_id == "svc.340123.main@v1"
    catalog = admin.config.now().catalog
    assert catalog.has("svc.340123.main@v1") and catalog.has("svc.340123.main@v2")


async def test_a_second_controller_sees_a_publication_within_its_poll(
    admin: AdminApp, tmp_path: Path
) -> None:
    from ivr.publish.in_force import Configuration

    other = Configuration(admin.sessions, admin.config.directory, admin.config.base, 0.05)
    await other.refresh(force=True)
    county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, "340123")
    await county.put("/api/menus/340123/draft", json={"nodes": {"main": MAIN_340121}})
    await county.post("/api/menus/340123/publish", json={})
    assert other.now().menus.effective("340123").node("main").origin == "national"
    await other.refresh()
    assert other.now().menus.effective("340123").node("main").prompt_id == "svc.340123.main@v1"


async def test_a_text_is_previewed_as_callers_will_hear_it(admin: AdminApp) -> None:
    county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, "340123")
    response = await county.post("/api/prompts/preview", json={"text": "党费，请按1。"})
    assert response.status == 200 and response.content_type == "audio/wav"
    wav = await response.read()
    assert wav[:4] == b"RIFF" and len(wav) > 8000  # more than half a second at 8 kHz
    empty = await county.post("/api/prompts/preview", json={"text": ""})
    assert empty.status == 400


def _tone_wav(seconds: float = 1.0) -> bytes:
    import io
    import math
    import struct
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        frames = int(16000 * seconds)
        wav.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / 16000)))
                for n in range(frames)
            )
        )
    return out.getvalue()


async def _upload(client: object, name: str, data: bytes, scope: str = "340123") -> object:
    """A multipart upload written out as a browser sends it (a client library
    would quote the file name's slashes and hide what a server must refuse)."""
    boundary = "----ivr12371test"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="scope"\r\n\r\n{scope}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return await client.post(  # type: ignore[attr-defined]
        "/api/prompts/uploads", data=io.BytesIO(body), headers=headers
    )


async def test_an_uploaded_recording_is_converted_and_can_be_published(admin: AdminApp) -> None:
    county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, "340123")
    response = await _upload(county, "问候.wav", _tone_wav())
    assert response.status == 201, await response.text()  # type: ignore[attr-defined]
    upload = await response.json()  # type: ignore[attr-defined]
    assert upload["prompt_id"].startswith("rec.340123.")
    audio = await county.get(upload["audio_url"])
    assert audio.status == 200 and (await audio.read())[:4] == b"RIFF"
    recorded = {**MAIN_340121, "prompt": upload["prompt_id"]}
    await county.put("/api/menus/340123/draft", json={"nodes": {"main": recorded}})
    published = await county.post("/api/menus/340123/publish", json={})
    assert published.status == 200, await published.text()
    main = admin.config.now().menus.effective("340123").node("main")
    assert main.prompt_id == upload["prompt_id"]
    assert admin.config.now().catalog.has(upload["prompt_id"])


@pytest.mark.parametrize(
    ("name", "data", "status", "says"),
    [
        ("notes.mp3", "这不是录音".encode() * 50, 400, "not audio"),
        ("../../etc/greeting.wav", b"RIFF", 400, "plain file name"),
        ("a/b.wav", b"RIFF", 400, "plain file name"),
        ("greeting.exe", b"MZ", 400, "must end in one of .wav"),
    ],
)
async def test_uploads_that_are_not_usable_audio_are_refused_clearly(
    admin: AdminApp, name: str, data: bytes, status: int, says: str
) -> None:
    county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, "340123")
    response = await _upload(county, name, data)
    assert response.status == status  # type: ignore[attr-defined]
    assert says in (await response.json())["message"]  # type: ignore[attr-defined]


async def test_an_oversized_upload_is_refused_before_it_is_converted(admin: AdminApp) -> None:
    county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, "340123")
    response = await _upload(county, "long.wav", b"\x00" * (10 * 1024 * 1024 + 1))
    assert response.status == 413  # type: ignore[attr-defined]
    assert "the limit is 10 MB" in (await response.json())["message"]  # type: ignore[attr-defined]


async def test_the_openapi_document_describes_every_route(admin: AdminApp) -> None:
    anyone = await admin.client()
    response = await anyone.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    routes = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert ("PUT", "/api/menus/{scope}/draft") in routes
    assert ("POST", "/api/menus/{scope}/publish") in routes
    schemas = document["components"]["schemas"]
    assert {"MenuView", "TreeNode", "VersionInfo", "HoursView", "ErrorOut"} <= set(schemas)

    def refs(value: object) -> list[str]:
        if isinstance(value, dict):
            found = [value["$ref"]] if "$ref" in value else []
            return found + [r for v in value.values() for r in refs(v)]
        if isinstance(value, list):
            return [r for v in value for r in refs(v)]
        return []

    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


async def test_hours_are_set_and_in_force_at_once(admin: AdminApp) -> None:
    county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, "340123")
    shown = await (await county.get("/api/hours/340123")).json()
    assert shown["open_now"] is False and shown["week_from"] == "national"
    # Friday 20:00 in Beijing: an evening service makes it open now.
    evening = {day: ["08:30-12:00", "19:00-21:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    response = await county.put("/api/hours/340123", json={"week": evening})
    assert response.status == 200, await response.text()
    assert (await response.json())["open_now"] is True
    assert admin.config.now().hours.is_open("340123", admin.clock())
    bad = await county.put("/api/hours/340123", json={"week": {"mon": ["25:00-26:00"]}})
    assert bad.status == 400
    assert "25:00" in (await bad.json())["message"]
    closure = {"start": "2026-11-27T19:30", "end": "2026-11-27T21:00", "reason": "停电检修"}
    closed = await county.put("/api/hours/340123", json={"week": evening, "closures": [closure]})
    assert (await closed.json())["open_now"] is False
    restored = await county.post("/api/hours/340123/versions/1/restore")
    assert (await restored.json())["open_now"] is True
    inherited = await county.put("/api/hours/340123", json={"week": None})
    shown = await inherited.json()
    assert (shown["own_week"], shown["week_from"], shown["open_now"]) == (False, "national", False)


async def test_a_department_that_does_not_exist_is_not_found_not_refused(
    admin: AdminApp,
) -> None:
    # Found by schemathesis (issue 18): an operator asking for the cases of a
    # made-up department 17 characters long was refused, and the refusal's
    # audit line overflowed its scope column on PostgreSQL (a 500).
    operator = await admin.as_user("op", Role.OPERATOR, "340100")
    made_up = "x" * 17
    for path in (
        f"/api/cases?department={made_up}",
        f"/api/cases/overdue?department={made_up}",
        f"/api/audit?scope={made_up}",
        f"/api/hours/{made_up}",
    ):
        response = await operator.get(path)
        assert response.status == 404, (path, await response.text())
        assert (await response.json())["error_id"] == "not_found"
    # A real department outside the operator's reach is still refused.
    assert (await operator.get("/api/cases?department=340200")).status == 403


async def test_a_superscript_digit_is_bad_input_not_a_server_error(admin: AdminApp) -> None:
    # Found by schemathesis (issue 18): "³".isdigit() is true, int("³") raises.
    national = await admin.as_user("boss", Role.NATIONAL_ADMIN)
    for path in ("/api/audit?limit=³", "/api/menus/national/versions/³"):
        response = await national.get(path)
        assert response.status == 400, (path, await response.text())
        assert (await response.json())["error_id"] == "invalid_input"
