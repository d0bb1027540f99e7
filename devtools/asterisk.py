"""A real Asterisk on a developer's machine: `ivr asterisk up|down|status`.

Not product (the wheel ships `ivr` only): the Asterisk image starts its
Asterisk with docker/asterisk-entrypoint.sh. Both render the configuration
with `ivr.dialplan`.

If an `asterisk` binary is on PATH (or named by IVR_ASTERISK_BINARY) it is
used as it is. Otherwise a Debian sid root filesystem holding Debian's
Asterisk 22 is built once with mmdebstrap into the cache folder and Asterisk
runs inside it with chroot; the chroot shares the host's loopback, so SIP and
ARI answer on 127.0.0.1.

Several instances (a developer's `make run` and the test suite) can share one
root filesystem: each gets its own configuration, run, spool and log folders,
named after its state folder, and its own ports from the settings.

"Does ARI answer" is a plain synchronous HTTP GET (`ari_get`): start-up
checks, tools and tests, outside the controller, which has `ivr.ari`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devtools import processes
from ivr.dialplan import (
    ASTERISK_PACKAGES,
    Layout,
    command,
    executable,
    host_binary,
    install_config,
    install_sounds,
    layout,
)
from ivr.errors import AsteriskError
from ivr.settings import Settings

# Layout, layout and host_binary are ivr.dialplan's; tests and tools reach them here.
__all__ = [
    "Layout",
    "ari_answers",
    "ari_get",
    "cli_command",
    "discard",
    "down",
    "ensure_rootfs",
    "host_binary",
    "kill",
    "layout",
    "running_pid",
    "status",
    "up",
]

log = logging.getLogger(__name__)

ROOTFS_STAMP = ".ivr-rootfs-ready"
STOP_GRACE_S = 10.0
MMDEBSTRAP_TIMEOUT_S = 1800.0
TOOL_TIMEOUT_S = 60.0
CLI_TIMEOUT_S = 20.0


def _run(cmd: list[str], timeout: float = TOOL_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AsteriskError(
            f"{' '.join(cmd[:3])} ... failed: {proc.stderr.strip()[-500:]}", cmd=cmd
        )
    return proc


# -- the root filesystem ----------------------------------------------------


def ensure_rootfs(settings: Settings) -> Path:
    """Build the Debian sid root filesystem once; later calls return at once."""
    root = settings.rootfs_dir
    if (root / ROOTFS_STAMP).exists():
        return root
    if os.geteuid() != 0:
        raise AsteriskError(
            "building and running Asterisk in a chroot needs root; "
            "run as root or install an `asterisk` binary on PATH"
        )
    if not shutil.which("mmdebstrap"):
        raise AsteriskError("mmdebstrap is missing: apt-get install mmdebstrap")
    building = root.with_name(root.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    log.info("building the Asterisk root filesystem in %s (about a minute)", root)
    cmd = [
        "mmdebstrap",
        "--variant=apt",
        # The mirror's sid Release file can be past its Valid-Until date.
        "--aptopt=Acquire::Check-Valid-Until \"false\"",
        # The chroot holds what the Asterisk image installs.
        "--include=" + ",".join(ASTERISK_PACKAGES),
        "sid",
        str(building),
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=MMDEBSTRAP_TIMEOUT_S, check=False
    )
    if proc.returncode != 0:
        raise AsteriskError(f"mmdebstrap failed:\n{proc.stderr[-2000:]}")
    _prepare_rootfs(building)
    building.rename(root)
    (root / ROOTFS_STAMP).write_text(" ".join(ASTERISK_PACKAGES) + "\n")
    return root


def _prepare_rootfs(root: Path) -> None:
    # Asterisk looks up the host's own name on start and on calls; with no DNS
    # on these machines every lookup stalls SIP handling.
    name = socket.gethostname()
    (root / "etc/hosts").write_text(
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n::1\tlocalhost ip6-localhost\n"
    )
    for folder in ("run/asterisk", "var/spool/asterisk/recording", "srv/ivr"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    _run(
        [
            "chroot", str(root), "chown", "-R", "asterisk:asterisk",
            "/var/lib/asterisk", "/var/log/asterisk", "/var/spool/asterisk",
            "/var/cache/asterisk", "/run/asterisk", "/etc/asterisk",
        ]
    )


# -- the process --------------------------------------------------------------

def running_pid(lay: Layout) -> int | None:
    """The pid of the Asterisk this state folder started, if it still runs."""
    conf = str(lay.etc / "asterisk.conf").encode()

    def ours(pid: int) -> bool:
        # A recycled pid is not ours: it must be an asterisk with our config.
        words = processes.cmdline(pid)
        return any(part.endswith(b"asterisk") for part in words) and conf in words

    return processes.recorded_pid(lay.pidfile, ours)


def ari_get(settings: Settings, path: str, timeout: float = 5.0) -> Any:
    """GET an ARI resource with our credentials, outside the controller
    (start-up checks, tools, tests). Raises `urllib.error.URLError`/`OSError`."""
    token = base64.b64encode(f"{settings.ari_user}:{settings.ari_password}".encode()).decode()
    request = urllib.request.Request(
        f"{settings.ari_base_url}{path}", headers={"Authorization": f"Basic {token}"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def ari_answers(settings: Settings, timeout: float = 2.0) -> str | None:
    """Asterisk's version if ARI answers with our credentials, else None."""
    try:
        info = ari_get(settings, "/asterisk/info?only=system", timeout)
    except (urllib.error.URLError, OSError, TimeoutError, ValueError):
        return None
    version = info.get("system", {}).get("version") if isinstance(info, dict) else None
    return str(version) if version else "unknown"


def up(settings: Settings, sounds: dict[str, Path]) -> str:
    """Install the configuration and start Asterisk; return once ARI answers."""
    if host_binary(settings) is None:
        ensure_rootfs(settings)
    lay = layout(settings)
    lay.state.mkdir(parents=True, exist_ok=True)
    install_config(settings, lay)
    install_sounds(lay, sounds)
    pid = running_pid(lay)
    if pid is not None:
        _reload(settings, lay)
        return f"Asterisk already running (pid {pid}); configuration reloaded"
    _check_ports_free(settings)
    proc = processes.start(command(settings, lay), lay.console_log)
    lay.pidfile.write_text(f"{proc.pid}\n")
    try:
        version = processes.wait_ready(
            proc, lambda: ari_answers(settings, timeout=1.0),
            settings.asterisk_ready_timeout, "Asterisk", lay.console_log, every_s=0.2,
        )
    except AsteriskError:
        lay.pidfile.unlink(missing_ok=True)
        raise
    if version:
        return f"Asterisk {version} up (pid {proc.pid}): SIP udp {settings.sip_host}:" \
            f"{settings.sip_port}, ARI {settings.ari_base_url}"
    down(settings)
    raise AsteriskError(
        f"ARI did not answer within {settings.asterisk_ready_timeout:.0f} s:\n"
        + processes.tail(lay.console_log)
    )


def down(settings: Settings) -> str:
    """Stop exactly the Asterisk this state folder started."""
    lay = layout(settings)
    pid = running_pid(lay)
    if pid is None:
        lay.pidfile.unlink(missing_ok=True)
        return "Asterisk is not running"
    processes.stop(pid, grace_s=STOP_GRACE_S)
    lay.pidfile.unlink(missing_ok=True)
    return f"Asterisk stopped (pid {pid})"


def kill(settings: Settings) -> None:
    """SIGKILL, as a crash would: for the tests that restart Asterisk."""
    lay = layout(settings)
    pid = running_pid(lay)
    if pid is not None:
        processes.stop(pid, signal.SIGKILL)
    lay.pidfile.unlink(missing_ok=True)


def discard(settings: Settings, keep_log: Path) -> None:
    """Remove a stopped instance's folder from the shared root filesystem
    (every run has its own), its log copied to `keep_log` for a post-mortem."""
    lay = layout(settings)
    if lay.root is None:
        return
    log = lay.host(lay.log / "messages.log")
    if log.is_file():
        shutil.copyfile(log, keep_log)
    shutil.rmtree(lay.host(lay.base), ignore_errors=True)


def status(settings: Settings) -> dict[str, object]:
    lay = layout(settings)
    pid = running_pid(lay)
    version = ari_answers(settings) if pid is not None else None
    return {
        "running": pid is not None,
        "pid": pid,
        "ari": version is not None,
        "version": version,
        "mode": "host" if lay.root is None else f"chroot {lay.root}",
        "config": str(lay.host(lay.etc)),
        "sip": f"udp {settings.sip_host}:{settings.sip_port}",
        "ari_url": settings.ari_base_url,
    }


def cli_command(settings: Settings, lay: Layout, text: str) -> str:
    """Run an Asterisk CLI command against the running instance."""
    cmd = [*executable(settings, lay), "-C", str(lay.etc / "asterisk.conf"), "-rx", text]
    return _run(cmd, timeout=CLI_TIMEOUT_S).stdout


def _reload(settings: Settings, lay: Layout) -> None:
    cli_command(settings, lay, "core reload")


def _check_ports_free(settings: Settings) -> None:
    for kind, host, port in (
        (socket.SOCK_DGRAM, settings.sip_host, settings.sip_port),
        (socket.SOCK_STREAM, settings.ari_host, settings.ari_port),
    ):
        with socket.socket(socket.AF_INET, kind) as sock:
            # Closed connections linger in TIME_WAIT; Asterisk binds past them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise AsteriskError(
                    f"port {host}:{port} is taken ({exc.strerror}); another Asterisk? "
                    "set IVR_SIP_PORT / IVR_ARI_PORT or stop it"
                ) from exc
