"""A real Kamailio on a developer's machine: the cluster's SIP front door.

Debian's `kamailio` package (installed by scripts/setup-machine) runs on the
host with the configuration `ivr.frontdoor` renders into the door's folder.
`destinations` asks the running instance (kamcmd over its control socket)
which Asterisks it is sending calls to.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from devtools.asterisk import alive, keep_child, reap_child, tail
from ivr.errors import AsteriskError
from ivr.frontdoor import FrontDoor, command, install, kamailio_binary

START_S = 10.0
STOP_GRACE_S = 5.0
KAMCMD_TIMEOUT_S = 5.0


def running_pid(door: FrontDoor) -> int | None:
    try:
        pid = int(door.pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return None
    if str(door.config).encode() not in cmdline or not alive(pid):
        return None
    return pid


def up(door: FrontDoor) -> str:
    """Render the configuration, check it, start Kamailio; return once it answers."""
    binary = kamailio_binary()
    if binary is None:
        raise AsteriskError("kamailio is missing: scripts/setup-machine --for-tests installs it")
    install(door)
    pid = running_pid(door)
    if pid is not None:
        return f"Kamailio already running (pid {pid})"
    check = subprocess.run(
        [binary, "-c", "-f", str(door.config)], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        raise AsteriskError(f"kamailio refused its configuration:\n{check.stderr[-2000:]}")
    door.ctl_socket.unlink(missing_ok=True)
    out = door.log.open("ab")
    proc = subprocess.Popen(
        command(door, binary),
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out.close()
    keep_child(proc)
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AsteriskError(
                f"Kamailio exited with status {proc.returncode} while starting:\n"
                + tail(door.log)
            )
        if door.ctl_socket.exists() and destinations(door) is not None:
            return f"Kamailio up (pid {proc.pid}): {door.uri} in front of " + ", ".join(
                node.uri for node in door.nodes
            )
        time.sleep(0.1)
    down(door)
    raise AsteriskError("Kamailio did not start in time:\n" + tail(door.log))


def down(door: FrontDoor) -> str:
    pid = running_pid(door)
    if pid is None:
        door.pidfile.unlink(missing_ok=True)
        return "Kamailio is not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    if alive(pid):
        os.killpg(pid, signal.SIGKILL)
    reap_child(pid)
    door.pidfile.unlink(missing_ok=True)
    return f"Kamailio stopped (pid {pid})"


def destinations(door: FrontDoor) -> dict[str, bool] | None:
    """Each Asterisk's SIP URI and whether the door sends it calls now (its
    probes answered); None if Kamailio does not answer."""
    try:
        proc = subprocess.run(
            ["kamcmd", "-s", f"unix:{door.ctl_socket}", "dispatcher.list"],
            capture_output=True,
            text=True,
            timeout=KAMCMD_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    found: dict[str, bool] = {}
    uri = ""
    for line in proc.stdout.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "URI":
            uri = value
        elif key == "FLAGS" and uri:
            # A: active; I: inactive; D: disabled; P: probing (with A: in doubt).
            found[uri] = value.startswith("A")
            uri = ""
    return found

