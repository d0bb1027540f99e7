"""Asterisk's configuration, rendered from the templates in dialplan/.

Owns where one Asterisk instance keeps its files (`Layout`), the values the
templates take from the settings, the rendering, the sounds the native
fallback plays from Asterisk's own disk, and the command line that runs the
instance. The Asterisk image's entrypoint (docker/asterisk-entrypoint.sh)
and the development runner (`devtools.asterisk`, behind `ivr asterisk up`)
both render with this module, so a container and a developer's machine run
the same configuration. Named after the folder it reads, as `ivr.directory`
reads routing/.

When Asterisk runs in a chroot (the runner's Debian sid root filesystem),
`Layout.root` is that root: paths are as Asterisk sees them and
`Layout.host()` maps them to this machine.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ivr.errors import AsteriskError, ConfigError
from ivr.settings import REPO_ROOT, Settings

DIALPLAN_DIR = REPO_ROOT / "dialplan"
TEMPLATES = (
    "asterisk.conf",
    "modules.conf",
    "logger.conf",
    "http.conf",
    "ari.conf",
    "rtp.conf",
    "musiconhold.conf",
    "pjsip.conf",
    "extensions.conf",
    "res_http_media_cache.conf",
    "websocket_client.conf",
    "pjproject.conf",
    "acl.conf",
    "udptl.conf",
    "sorcery.conf",
    "prometheus.conf",
)
# Debian's packages this configuration needs: the Asterisk image installs
# them, and so does the development runner's root filesystem.
ASTERISK_PACKAGES = (
    "asterisk",
    "asterisk-modules",
    "asterisk-core-sounds-en-wav",
    "asterisk-moh-opsound-wav",
    "sox",
)
# A recursive chown of a fresh instance folder: seconds, not minutes.
CHOWN_TIMEOUT_S = 60.0
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class Layout:
    """Where one Asterisk instance keeps its files.

    `root` is the chroot (None when Asterisk runs on the host); the other
    paths are as Asterisk sees them, `host()` maps them to this machine.
    """

    root: Path | None
    base: Path
    state: Path

    @property
    def etc(self) -> Path:
        return self.base / "etc"

    @property
    def run(self) -> Path:
        return self.base / "run"

    @property
    def log(self) -> Path:
        return self.base / "log"

    @property
    def spool(self) -> Path:
        return self.base / "spool"

    @property
    def db(self) -> Path:
        return self.base / "db"

    @property
    def cache(self) -> Path:
        return self.base / "cache"

    @property
    def sounds(self) -> Path:
        return self.base / "sounds"

    @property
    def recordings(self) -> Path:
        """Where Asterisk keeps recordings: callers' messages, ARI's and the fallback's."""
        return self.spool / "recording"

    @property
    def pidfile(self) -> Path:
        return self.state / "asterisk.pid"

    @property
    def console_log(self) -> Path:
        return self.state / "asterisk.out"

    def host(self, path: Path) -> Path:
        if self.root is None:
            return path
        return self.root / path.relative_to("/")


def host_binary(settings: Settings) -> str | None:
    if settings.asterisk_binary:
        return settings.asterisk_binary
    return shutil.which("asterisk")


def layout(settings: Settings) -> Layout:
    state = settings.asterisk_dir
    if host_binary(settings):
        return Layout(root=None, base=state / "instance", state=state)
    # One folder per state folder, so `make run` and the tests can coexist.
    instance = hashlib.sha1(str(state.resolve()).encode()).hexdigest()[:10]
    return Layout(root=settings.rootfs_dir, base=Path("/srv/ivr") / instance, state=state)


def render(template: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ConfigError(f"dialplan template needs a value for {name!r}", name=name)
        return values[name]

    return _PLACEHOLDER.sub(replace, template)


def template_values(settings: Settings, lay: Layout) -> dict[str, str]:
    return {
        "etc_dir": str(lay.etc),
        "run_dir": str(lay.run),
        "log_dir": str(lay.log),
        "spool_dir": str(lay.spool),
        "db_dir": str(lay.db),
        "keys_dir": str(lay.db / "keys"),
        "media_fetch_timeout": "5",
        "cache_dir": str(lay.cache),
        "sounds_dir": str(lay.sounds),
        "recordings_dir": str(lay.recordings),
        "system_name": _system_name(settings),
        "entity_id": _entity_id(settings),
        "ari_host": settings.ari_host,
        "ari_port": str(settings.ari_port),
        "ari_user": settings.ari_user,
        "ari_password": settings.ari_password,
        "stasis_apps": "&".join(settings.offered_apps),
        "stasis_app_count": str(len(settings.offered_apps)),
        "origin_variable": settings.origin_variable,
        "origin_header": settings.origin_header,
        "http_session_limit": str(settings.asterisk_http_session_limit),
        "sip_host": settings.sip_host,
        "sip_port": str(settings.sip_port),
        "caller_networks": settings.sip_caller_networks,
        "rtp_start": str(settings.rtp_start),
        "rtp_end": str(settings.rtp_end),
        "rtp_timeout": str(settings.rtp_timeout),
    }


def _system_name(settings: Settings) -> str:
    # Asterisk prefixes every channel's unique id (the controller's call id)
    # with it: two Asterisks started in the same second would otherwise give
    # the same ids to different calls.
    node = re.sub(r"[^A-Za-z0-9-]", "-", settings.node_name)[:32]
    return f"ivr12371-{node}" if node else "ivr12371"


def _entity_id(settings: Settings) -> str:
    # Asterisk derives its entity id from a network interface's MAC address
    # unless told; on machines without one it complains on every start.
    digest = hashlib.sha1(settings.node_name.encode()).digest()
    return ":".join(f"{b:02x}" for b in digest[:6])


def write_config(target: Path, text: str) -> None:
    """Write a rendered file whole: a reload never reads half of it."""
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o640)
    tmp.replace(target)


def install_config(settings: Settings, lay: Layout) -> None:
    values = template_values(settings, lay)
    etc = lay.host(lay.etc)
    etc.mkdir(parents=True, exist_ok=True)
    for name in TEMPLATES:
        text = render((DIALPLAN_DIR / name).read_text(encoding="utf-8"), values)
        write_config(etc / name, text)
    for folder in (lay.run, lay.log, lay.spool, lay.db, lay.cache, lay.sounds, lay.recordings):
        lay.host(folder).mkdir(parents=True, exist_ok=True)
    lay.host(lay.db / "keys").mkdir(parents=True, exist_ok=True)
    _give_to_asterisk(lay, lay.base)


def install_sounds(lay: Layout, sounds: dict[str, Path]) -> None:
    """Copy the prompts the native fallback plays from Asterisk's own disk."""
    target = lay.host(lay.sounds)
    target.mkdir(parents=True, exist_ok=True)
    for name, source in sounds.items():
        destination = target / f"{name}.wav"
        partial = destination.with_name(f".{destination.name}.partial")
        shutil.copyfile(source, partial)
        partial.replace(destination)  # Asterisk never opens a half-written file
    _give_to_asterisk(lay, lay.sounds)


def _give_to_asterisk(lay: Layout, path: Path) -> None:
    if lay.root is None or os.geteuid() != 0:
        return
    cmd = ["chroot", str(lay.root), "chown", "-R", "asterisk:asterisk", str(path)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=CHOWN_TIMEOUT_S, check=False
    )
    if proc.returncode != 0:
        raise AsteriskError(f"chown in {lay.root} failed: {proc.stderr.strip()[-500:]}", cmd=cmd)


# -- the process --------------------------------------------------------------


def executable(settings: Settings, lay: Layout) -> list[str]:
    """How to invoke this instance's `asterisk`, before any option."""
    if lay.root is None:
        return [host_binary(settings) or "asterisk"]
    return ["chroot", str(lay.root), "asterisk"]


def command(settings: Settings, lay: Layout) -> list[str]:
    """The command line that runs this instance in the foreground."""
    cmd = [*executable(settings, lay), "-f", "-C", str(lay.etc / "asterisk.conf")]
    # Started as root, Asterisk could not open its own database in the
    # chroot; it drops to its own user.
    if lay.root is not None or os.geteuid() == 0:
        cmd += ["-U", "asterisk", "-G", "asterisk"]
    return cmd
