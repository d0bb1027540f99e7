"""The background processes the development tools run: Asterisk, Kamailio,
controllers. Each is started in a session of its own with its output
appended to a log, kept referenced while it runs (so Python never warns
about a child still running), stopped with SIGTERM then SIGKILL, and reaped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ivr.errors import AsteriskError

STOP_GRACE_S = 10.0
T = TypeVar("T")

# Children of this process, by pid: kept referenced while they run.
_children: dict[int, subprocess.Popen[bytes]] = {}


def start(
    cmd: list[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Run `cmd` in the background, its output appended to `log`."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    return proc


def wait_ready(
    proc: subprocess.Popen[bytes],
    ready: Callable[[], T | None],
    within_s: float,
    what: str,
    log: Path,
    every_s: float = 0.1,
) -> T | None:
    """`ready()`'s first answer that is not None, or None after `within_s`;
    raises if the process exits first, with the end of its log."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AsteriskError(
                f"{what} exited with status {proc.returncode} while starting:\n" + tail(log)
            )
        answer = ready()
        if answer is not None:
            return answer
        time.sleep(every_s)
    return None


def stop(
    pid: int, sig: int = signal.SIGTERM, grace_s: float = STOP_GRACE_S, group: bool = False
) -> None:
    """Send `sig`; after `grace_s`, SIGKILL (the whole session with `group`);
    return once the process is gone and reaped."""
    os.kill(pid, sig)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        if group:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)
    proc = _children.pop(pid, None)
    if proc is not None:
        proc.wait(timeout=grace_s)


def recorded_pid(pidfile: Path, ours: Callable[[int], bool]) -> int | None:
    """The pid in `pidfile` if that process runs and `ours(pid)` says it is
    the one we started (a recycled pid is somebody else's)."""
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        return pid if alive(pid) and ours(pid) else None
    except (FileNotFoundError, PermissionError):
        return None


def cmdline(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")


def environ(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours is dead for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return False
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no output)"


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (for a part about to start)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
