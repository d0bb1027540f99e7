"""The admin API under schemathesis: every operation of `/api/openapi.json`,
called with data made from the document itself (and with data that breaks
it), by a national admin and by an operator. No answer is a server error
(5xx), and every answer is one the document describes: its status, its
content type and its body's schema.

The app is the admin web of `tests/admin_support.py` (the published menus and
hours, a real database of each kind) on a loopback port; schemathesis calls
it over HTTP from a worker thread while the test's event loop serves it.
How many cases each operation gets depends on the hypothesis profile
(tests/conftest.py): a few in `make test`, many in `make fuzz`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ivr.admin.auth import Role
from ivr.admin.keys import API, ARI
from tests.admin_support import admin_app
from tests.web_support import add_user

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Cases per operation and generation mode (valid data, then broken data):
# `make test` tries a few of each, `make fuzz` many.
EXAMPLES = {"test": 4, "fuzz": 60}
# The operator desk's stream of events stays open as long as the page does:
# there is no answer to check, only a stream (tests/test_desk_feed.py reads it).
NOT_FUZZED = {"GET /api/operator/feed"}
REQUEST_TIMEOUT = 30.0
# The fuzzing user's name: one generated names never hit, so no case edits
# the user that is fuzzing (PATCH /api/users/{username}).
ROLES = {
    Role.NATIONAL_ADMIN: ("fuzz-national-admin-7f3c", None),
    Role.OPERATOR: ("fuzz-operator-7f3c", "340100"),
}


def examples() -> int:
    return EXAMPLES["fuzz" if settings().max_examples > 100 else "test"]


def summary(exc: BaseException) -> str:
    """What schemathesis found, in a line per failure (each with the status)."""
    found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    return "; ".join(" ".join(str(f).split())[:300] for f in found)


def fuzz(document: dict[str, Any], base_url: str, headers: dict[str, str]) -> dict[str, str]:
    """Every operation's failures, by operation and mode (empty: none)."""
    schema = schemathesis.openapi.from_dict(document)
    failures: dict[str, str] = {}
    tried = 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]
            if operation.label in NOT_FUZZED:
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @settings(
                    max_examples=examples(),
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
                    nonlocal tried
                    tried += 1
                    case.call_and_validate(
                        base_url=base_url,
                        session=session,
                        headers=headers,
                        checks=CHECKS,
                        timeout=REQUEST_TIMEOUT,
                    )

                try:
                    call()
                except Unsatisfiable:
                    pass  # nothing to break: no parameters and no body (GET /api/health)
                except (Exception, BaseExceptionGroup) as exc:
                    failures[f"{operation.label} ({mode.value})"] = summary(exc)
    print(f"schemathesis: {tried} cases")
    return failures


@pytest.mark.parametrize("role", list(ROLES))
async def test_every_answer_is_described_and_none_is_a_server_error(
    tmp_path: Path, database_url: str, role: Role
) -> None:
    async with admin_app(tmp_path, database_url) as admin:
        username, department = ROLES[role]
        headers = await add_user(admin.sessions, username, role, department)
        admin.app[ARI].connected.set()  # type: ignore[attr-defined]  # serving calls: healthy
        document = admin.app[API].document()
        base_url = str(admin.server.make_url("")).rstrip("/")
        failures = await asyncio.to_thread(fuzz, document, base_url, headers)
    assert not failures, "\n".join(f"{k}: {v}" for k, v in sorted(failures.items()))
