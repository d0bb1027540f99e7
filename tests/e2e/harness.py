"""A real platform for end-to-end tests and benchmarks: Asterisk 22, the
controller, SIPp.

Nothing is mocked. `start_platform` brings up its own Asterisk (sharing the
root filesystem with `make run`, but with its own ports and folders) and runs
the controller as a separate process, so tests can SIGKILL either one.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from devtools import asterisk
from devtools.callermedia import Action
from devtools.calls import wait_for_record
from devtools.processes import free_port
from devtools.sipcall import CallPlan, CallResult, place_call, presses
from ivr.settings import Settings

REPO = Path(__file__).resolve().parents[2]
IVR = [sys.executable, "-m", "ivr"]
# Short enough to keep the silence tests quick, long enough for SIPp timing.
DIGIT_TIMEOUT_S = 2.0
CONTROLLER_START_S = 60.0
RECORD_WAIT_S = 15.0
# A key no menu of a department without a page behind it offers: three of
# them make the IVR say goodbye and hang up (`invalid_input`).
INVALID_KEY = "*"


def invalid_keys(start_s: float, gap_s: float = 1.0) -> tuple[Action, ...]:
    """Three invalid keys from `start_s`: the IVR ends the call itself."""
    return presses(*((start_s + n * gap_s, INVALID_KEY) for n in range(3)))


@dataclass
class Platform:
    state_dir: Path
    env: dict[str, str]
    settings: Settings
    controller: subprocess.Popen[bytes] | None = None
    controller_logs: list[Path] = field(default_factory=list)
    token: str = ""  # the API token of the national admin `ivr serve` creates
    database_url: str = ""  # the running controller's, when a test gave it one

    # -- processes ---------------------------------------------------------------

    def ivr(
        self, *args: str, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*IVR, *args],
            env={**self.env, **env},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"ivr {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def start_controller(self, **overrides: str) -> None:
        assert self.controller is None or self.controller.poll() is not None
        env = {**self.env, **overrides}
        self.database_url = overrides.get("IVR_DATABASE_URL", "")
        log_path = self.state_dir / f"controller-{len(self.controller_logs)}.log"
        self.controller_logs.append(log_path)
        with log_path.open("wb") as out:
            self.controller = subprocess.Popen(
                [*IVR, "serve"], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
            )
        self.wait_healthy()

    def wait_healthy(self, timeout: float = CONTROLLER_START_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.controller is not None
            if self.controller.poll() is not None:
                raise AssertionError("controller exited:\n" + self.controller_log())
            status, _ = self.http_get("/api/health")
            if status == 200:
                return
            time.sleep(0.1)
        raise AssertionError("controller not healthy in time:\n" + self.controller_log())

    def kill_controller(self) -> None:
        assert self.controller is not None
        self.controller.send_signal(signal.SIGKILL)
        self.controller.wait(timeout=10)

    def stop_controller(self) -> None:
        if self.controller is not None and self.controller.poll() is None:
            self.controller.send_signal(signal.SIGTERM)
            try:
                self.controller.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.controller.kill()
                self.controller.wait()

    def stop(self) -> None:
        self.stop_controller()
        asterisk.down(self.settings)
        # Leave nothing of this run in the shared root filesystem; Asterisk's
        # log stays with the test's files.
        asterisk.discard(self.settings, self.state_dir / "asterisk-messages.log")

    def controller_log(self) -> str:
        if not self.controller_logs:
            return ""
        return self.controller_logs[-1].read_text(errors="replace")[-4000:]

    # -- HTTP and ARI ---------------------------------------------------------------

    def _request(
        self, path: str, data: bytes | None = None, method: str = "GET"
    ) -> urllib.request.Request:
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = f"http://127.0.0.1:{self.settings.http_port}{path}"
        return urllib.request.Request(url, data=data, method=method, headers=headers)

    def http_get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self._request(path), timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
        except (urllib.error.URLError, OSError):
            return 0, None

    def http_get_bytes(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self._request(path), timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def http_post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else b""
        request = self._request(path, data, "POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def ari_channels(self) -> list[dict[str, Any]]:
        channels: list[dict[str, Any]] = asterisk.ari_get(self.settings, "/channels")
        return channels

    def wait_no_channels(self, timeout: float = 10.0) -> None:
        """Asterisk itself lists no channel: nothing left in Stasis or anywhere."""
        deadline = time.monotonic() + timeout
        channels = self.ari_channels()
        while channels and time.monotonic() < deadline:
            time.sleep(0.2)
            channels = self.ari_channels()
        assert channels == [], f"channels left in Asterisk: {[c['name'] for c in channels]}"

    # -- calls --------------------------------------------------------------------

    async def call(self, plan: CallPlan) -> tuple[CallResult, dict[str, Any] | None]:
        result = await place_call(plan, self.settings)
        return result, self.record_of(plan.call_id)

    def record_of(self, sip_call_id: str) -> dict[str, Any] | None:
        """The controller's finished record of a call, found by its SIP Call-ID."""
        settings = self.settings
        if self.database_url:
            settings = settings.model_copy(update={"database_url": self.database_url})
        return wait_for_record(settings, sip_call_id, RECORD_WAIT_S)


POSTGRES_ADMIN = os.environ.get(
    "IVR_TEST_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def fresh_postgres_database(name: str) -> str:
    """An empty database `name` for this run (dropped first if a run left
    it); PostgreSQL must be there (make test starts it)."""
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def start_platform(state_dir: Path, **env_overrides: str) -> Platform:
    """Asterisk and the controller on free loopback ports; `stop()` ends both.

    Under pytest-xdist each worker's Asterisks take their own RTP ports
    (gw0 31000-31999, gw1 32000-32999, ...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    rtp_start = 31000 + 1000 * (int(worker) if worker.isdigit() else 0)
    env = {
        **os.environ,
        "IVR_STATE_DIR": str(state_dir),
        "IVR_SIP_PORT": str(free_port(socket.SOCK_DGRAM)),
        "IVR_ARI_PORT": str(free_port(socket.SOCK_STREAM)),
        "IVR_HTTP_PORT": str(free_port(socket.SOCK_STREAM)),
        "IVR_RTP_START": str(rtp_start),
        "IVR_RTP_END": str(rtp_start + 999),
        "IVR_DIGIT_TIMEOUT": str(DIGIT_TIMEOUT_S),
        "IVR_NODE_NAME": "e2e",
        **env_overrides,
    }
    env.pop("IVR_DATABASE_URL", None)
    settings = Settings(
        state_dir=state_dir,
        sip_port=int(env["IVR_SIP_PORT"]),
        ari_port=int(env["IVR_ARI_PORT"]),
        http_port=int(env["IVR_HTTP_PORT"]),
        rtp_start=int(env["IVR_RTP_START"]),
        rtp_end=int(env["IVR_RTP_END"]),
        node_name=env["IVR_NODE_NAME"],
    )
    platform = Platform(state_dir, env, settings)
    platform.ivr("asterisk", "up")
    try:
        platform.start_controller()
        platform.token = platform.ivr("users", "token", "admin").stdout.strip()
    except BaseException:
        asterisk.down(settings)
        raise
    return platform
