"""A real Kamailio on a developer's machine: the cluster's SIP front door.

Debian's `kamailio` package (installed by scripts/setup-machine) runs on the
host with the configuration `ivr.frontdoor` renders into the door's folder.
`destinations` asks the running instance (kamcmd over its control socket)
which Asterisks it is sending calls to.
"""

from __future__ import annotations

import subprocess

from devtools import processes
from ivr.errors import AsteriskError
from ivr.frontdoor import FrontDoor, command, install, kamailio_binary

START_S = 10.0
STOP_GRACE_S = 5.0
KAMCMD_TIMEOUT_S = 5.0


def running_pid(door: FrontDoor) -> int | None:
    config = str(door.config).encode()
    return processes.recorded_pid(door.pidfile, lambda pid: config in processes.cmdline(pid))


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
    proc = processes.start(command(door, binary), door.log)  # it writes its own pid file
    answering = processes.wait_ready(
        proc, lambda: destinations(door) if door.ctl_socket.exists() else None, START_S,
        "Kamailio", door.log,
    )
    if answering is not None:
        return f"Kamailio up (pid {proc.pid}): {door.uri} in front of " + ", ".join(
            node.uri for node in door.nodes
        )
    down(door)
    raise AsteriskError("Kamailio did not start in time:\n" + processes.tail(door.log))


def down(door: FrontDoor) -> str:
    pid = running_pid(door)
    if pid is None:
        door.pidfile.unlink(missing_ok=True)
        return "Kamailio is not running"
    processes.stop(pid, grace_s=STOP_GRACE_S, group=True)  # and its children
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

