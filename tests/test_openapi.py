"""What `/api/openapi.json` says each operation answers, for the answers it
really gives (found by tests/test_fuzz_api.py): a client generated from the
document handles every status it can get."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ivr.admin.app import add_routes
from ivr.admin.keys import API, SETTINGS
from ivr.settings import REPO_ROOT, Settings


def document() -> dict[str, Any]:
    app = web.Application()
    app[SETTINGS] = Settings()
    add_routes(app, REPO_ROOT / "prompts")  # any folder: no prompt is served here
    return app[API].document()


def responses(method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = document()["paths"][path][method.lower()]["responses"]
    return found


def test_an_operation_naming_a_thing_describes_its_not_found_answer() -> None:
    # GET /api/calls/nope answers 404 {"error_id": "not_found", ...}: a call,
    # a case, a scope or a user in the path may not exist; so may the
    # department a listing is narrowed to.
    for path, operations in document()["paths"].items():
        for method, operation in operations.items():
            if "{" in path:
                assert "404" in operation["responses"], (method, path)
    listings = ("/api/calls", "/api/stats/today", "/api/cases", "/api/cases/overdue", "/api/audit")
    for path in (*listings, "/api/operator/feed"):
        error = responses("GET", path)["404"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorOut"}


def test_the_document_describes_itself_as_a_json_object() -> None:
    answer = responses("GET", "/api/openapi.json")["200"]["content"]
    assert answer == {"application/json": {"schema": {"type": "object"}}}
    # Files stay files.
    audio = responses("GET", "/api/cases/{number}/recording")["200"]["content"]
    assert audio == {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}


def test_health_describes_its_answer_when_asterisk_is_not_connected() -> None:
    # A load balancer reads the status; a dashboard reads the same body.
    health = responses("GET", "/api/health")
    assert health["503"]["content"] == health["200"]["content"]
    assert health["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HealthOut"
    }


def test_sign_in_describes_a_wrong_password_and_too_many_of_them() -> None:
    # A public operation answers no 401 for a missing session, but signing in
    # answers it for a wrong password, and 429 after five in 15 minutes.
    sign_in = responses("POST", "/api/session")
    assert {"401", "429"} <= set(sign_in)
    assert "401" not in responses("GET", "/api/health")
    # Like every 429 here, it says when to try again.
    assert "Retry-After" in sign_in["429"]["headers"]


def test_every_operation_describes_not_being_signed_in_unless_public() -> None:
    for path, operations in document()["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") != []:
                assert "401" in operation["responses"], (method, path)


def test_a_recording_describes_asterisk_being_unreachable() -> None:
    # Fetched over ARI: no Asterisk connected is 503 ari_unavailable, one
    # that fails the request 502 ari_error.
    recording = responses("GET", "/api/cases/{number}/recording")
    assert {"502", "503"} <= set(recording)
    error = recording["503"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorOut"}


def test_conflicts_removals_and_oversized_files_are_described_where_they_happen() -> None:
    # Read from the code, not met by the fuzzing: a second user of one name,
    # publishing with no draft or at the same moment as someone else, a
    # recording the retention job removed, an upload over 10 MB, a menu
    # that does not validate.
    expected = {
        ("POST", "/api/users"): "409",
        ("POST", "/api/menus/{scope}/publish"): "409",
        ("POST", "/api/menus/{scope}/versions/{number}/restore"): "409",
        ("PUT", "/api/hours/{scope}"): "409",
        ("POST", "/api/hours/{scope}/versions/{number}/restore"): "409",
        ("GET", "/api/cases/{number}/recording"): "410",
        ("POST", "/api/prompts/uploads"): "413",
    }
    for (method, path), status in expected.items():
        assert status in responses(method, path), (method, path)
    assert "409" not in responses("GET", "/api/users")
    for path in ("/api/menus/{scope}/publish", "/api/menus/{scope}/versions/{number}/restore"):
        assert "422" in responses("POST", path)
