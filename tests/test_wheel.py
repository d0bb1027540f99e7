"""The wheel ships the product and nothing of its test tools (style rule 14).

Built here from pyproject.toml with hatchling's own builder (no network, no
isolated environment), and read as a zip: no SIP test phone, no SIPp scenario,
no caller's RTP, no Asterisk runner; but the admin web's page and the
database's migrations, which the installed `ivr` needs at run time.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

REPO = Path(__file__).resolve().parent.parent
# What only the test phones say: a SIPp scenario, the `sipp` binary by name,
# the RTP a test caller sends.
TEST_PHONE_CODE = re.compile(r"<scenario\b|[\"']sipp[\"']|\bcallermedia\b")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("wheel")
    built = list(WheelBuilder(str(REPO)).build(directory=str(out), versions=["standard"]))
    assert len(built) == 1, built
    with zipfile.ZipFile(built[0]) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_wheel_holds_no_test_tools(wheel: dict[str, bytes]) -> None:
    packages = {name.split("/", 1)[0] for name in wheel if "/" in name}
    assert {"ivr"} <= packages
    assert not [name for name in wheel if name.startswith(("devtools/", "tests/"))]
    assert not [name for name in wheel if "callermedia" in name or "sipcall" in name]
    phones = [
        name
        for name, data in wheel.items()
        if name.endswith(".py") and TEST_PHONE_CODE.search(data.decode("utf-8"))
    ]
    assert phones == [], f"SIP test phone code in the wheel: {phones}"


def test_the_wheel_holds_what_ivr_reads_at_run_time(wheel: dict[str, bytes]) -> None:
    static = [name for name in wheel if name.startswith("ivr/admin/static/")]
    assert "ivr/admin/static/app.js" in static
    shipped = {path.relative_to(REPO).as_posix() for path in (REPO / "ivr/admin/static").rglob("*")}
    assert {name for name in shipped if (REPO / name).is_file()} <= set(static)
    assert "ivr/db/migrations/env.py" in wheel
    assert "ivr/db/migrations/script.py.mako" in wheel
    assert "ivr/db/migrations/versions/0001_calls.py" in wheel


def test_the_wheel_installs_the_ivr_command(wheel: dict[str, bytes]) -> None:
    entry_points = next(data for name, data in wheel.items() if name.endswith("entry_points.txt"))
    assert "ivr = ivr.cli.main:main" in entry_points.decode()
