"""A whole cluster on one machine: `ivr cluster up|down|status`.

Kamailio (the SIP front door) where callers dial, two Asterisks behind it on
their own loopback addresses, two controllers, each connected to both
Asterisks, and one PostgreSQL database they share:

    caller -> Kamailio 127.0.0.1:5060 -> Asterisk a 127.0.0.2:5060 (ARI :8088)
                                      -> Asterisk b 127.0.0.3:5060 (ARI :8088)
    controller c1 (HTTP :8081, Stasis app ivr12371-c1) -> ARI of a and b
    controller c2 (HTTP :8082, Stasis app ivr12371-c2) -> ARI of a and b
    c1, c2 -> PostgreSQL 127.0.0.1:5432, database ivr_cluster

Each Asterisk offers a call to a random controller's application and, if
that controller is not connected, to the other (dialplan/extensions.conf,
[stasis]). Everything is on loopback. The end-to-end drills build the same
shape on free ports (`Cluster.on_free_ports`).

The controllers run as background processes with a pid file each; their
logs, Kamailio's and each Asterisk's files are in the cluster's folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from devtools import asterisk, kamailio, processes
from ivr.errors import AsteriskError
from ivr.frontdoor import FrontDoor, SipNode
from ivr.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from ivr.audio.catalog import Catalog

APP_PREFIX = "ivr12371-"
CONTROLLER_START_S = 90.0
STOP_GRACE_S = 15.0
DEFAULT_DATABASE = "ivr_cluster"


@dataclass(frozen=True)
class AsteriskSpec:
    name: str
    host: str
    sip_port: int
    ari_port: int
    rtp_start: int
    rtp_end: int


@dataclass(frozen=True)
class ControllerSpec:
    name: str
    http_port: int

    @property
    def app(self) -> str:
        return APP_PREFIX + self.name


@dataclass(frozen=True)
class Cluster:
    folder: Path
    base: Settings  # credentials, the cache folder, timings: the caller's settings
    door: FrontDoor
    asterisks: tuple[AsteriskSpec, ...]
    controllers: tuple[ControllerSpec, ...]
    database_url: str
    # More IVR_* settings for every controller (the drills' shorter timeouts).
    extra_env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def standard(cls, base: Settings) -> Cluster:
        """The cluster `make cluster` runs: fixed addresses, callers on 5060."""
        folder = base.state_dir / "cluster"
        asterisks = (
            AsteriskSpec("a", "127.0.0.2", 5060, 8088, 20000, 24999),
            AsteriskSpec("b", "127.0.0.3", 5060, 8088, 25000, 29999),
        )
        return cls._made(
            folder,
            base,
            door_port=base.sip_port,
            asterisks=asterisks,
            controllers=(ControllerSpec("c1", 8081), ControllerSpec("c2", 8082)),
            database_url=os.environ.get(
                "IVR_CLUSTER_DATABASE_URL", _postgres_url(DEFAULT_DATABASE)
            ),
        )

    @classmethod
    def on_free_ports(
        cls, folder: Path, base: Settings, database_url: str, rtp_base: int
    ) -> Cluster:
        """The same shape on ports nobody uses now (the drills, in parallel)."""
        asterisks = tuple(
            AsteriskSpec(
                name, host, processes.free_port(socket.SOCK_DGRAM, host),
                processes.free_port(socket.SOCK_STREAM, host),
                rtp_base + 500 * n, rtp_base + 500 * n + 499,
            )
            for n, (name, host) in enumerate((("a", "127.0.0.2"), ("b", "127.0.0.3")))
        )
        controllers = tuple(
            ControllerSpec(name, processes.free_port(socket.SOCK_STREAM, "127.0.0.1"))
            for name in ("c1", "c2")
        )
        return cls._made(
            folder, base, processes.free_port(socket.SOCK_DGRAM), asterisks, controllers,
            database_url,
        )

    @classmethod
    def _made(
        cls,
        folder: Path,
        base: Settings,
        door_port: int,
        asterisks: tuple[AsteriskSpec, ...],
        controllers: tuple[ControllerSpec, ...],
        database_url: str,
    ) -> Cluster:
        door = FrontDoor(
            host="127.0.0.1",
            port=door_port,
            nodes=tuple(SipNode(spec.host, spec.sip_port) for spec in asterisks),
            folder=folder / "kamailio",
        )
        return cls(folder, base, door, asterisks, controllers, database_url)

    # -- each part's settings ------------------------------------------------------

    def asterisk_settings(self, spec: AsteriskSpec) -> Settings:
        return self.base.model_copy(
            update={
                "state_dir": self.folder / f"asterisk-{spec.name}",
                "sip_host": spec.host,
                "sip_port": spec.sip_port,
                "ari_host": spec.host,
                "ari_port": spec.ari_port,
                "rtp_start": spec.rtp_start,
                "rtp_end": spec.rtp_end,
                "node_name": f"asterisk-{spec.name}",
                # Callers come through the door only; any other address is
                # an operator's phone, known by its name.
                "sip_caller_networks": f"{self.door.host}/32",
                "stasis_apps": ",".join(c.app for c in self.controllers),
            }
        )

    @property
    def controller_state(self) -> Path:
        """One state folder for every controller: the prompts are built once."""
        return self.folder / "controllers"

    def controller_env(self, spec: ControllerSpec, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("IVR_")}
        return {
            **env,
            "IVR_STATE_DIR": str(self.controller_state),
            "IVR_CACHE_DIR": str(self.base.cache_dir),
            "IVR_DATABASE_URL": self.database_url,
            "IVR_NODE_NAME": spec.name,
            "IVR_ARI_APP": spec.app,
            "IVR_ARI_USER": self.base.ari_user,
            "IVR_ARI_PASSWORD": self.base.ari_password,
            "IVR_ASTERISKS": ",".join(
                f"{a.name}={a.host}:{a.ari_port}" for a in self.asterisks
            ),
            "IVR_HTTP_PORT": str(spec.http_port),
            **dict(self.extra_env),
            **extra,
        }

    def controller_settings(self) -> Settings:
        """What every controller shares (its database, its state folder)."""
        return self.base.model_copy(
            update={"state_dir": self.controller_state, "database_url": self.database_url}
        )

    def pidfile(self, spec: ControllerSpec) -> Path:
        return self.folder / f"controller-{spec.name}.pid"

    def log(self, spec: ControllerSpec) -> Path:
        return self.folder / f"controller-{spec.name}.log"


# -- bringing it up and down ------------------------------------------------------


def up(cluster: Cluster) -> list[str]:
    """Start what is not running yet: the database (migrated and seeded),
    the prompts every controller plays (built once, into their shared
    folder), the Asterisks, the door, the controllers."""
    from ivr.cli.serve import build_prompts, load_directory

    cluster.folder.mkdir(parents=True, exist_ok=True)
    said = [ensure_database(cluster.database_url)]
    shared = cluster.controller_settings()
    catalog = build_prompts(shared, load_directory(shared))
    sounds = fallback_sounds(cluster, catalog)
    said += [start_asterisk(cluster, node, sounds) for node in cluster.asterisks]
    said.append(kamailio.up(cluster.door))
    for spec in cluster.controllers:
        said.append(start_controller(cluster, spec))
    return said


def fallback_sounds(cluster: Cluster, catalog: Catalog | None = None) -> dict[str, Path]:
    """The prompts the native fallback plays from an Asterisk's disk, as the
    controllers built them (`up` did)."""
    from ivr.audio.catalog import Catalog
    from ivr.cli.serve import fallback_sounds as sounds_of

    shared = cluster.controller_settings()
    return sounds_of(shared, catalog or Catalog.load(shared.prompt_build_dir))


def start_asterisk(
    cluster: Cluster, node: AsteriskSpec, sounds: dict[str, Path] | None = None
) -> str:
    """One Asterisk of the cluster (again, after a drill killed it)."""
    settings = cluster.asterisk_settings(node)
    started = asterisk.up(settings, sounds or fallback_sounds(cluster))
    return f"asterisk {node.name}: {started}"


def discard(cluster: Cluster) -> None:
    """The stopped Asterisks' folders out of the shared root filesystem, each
    one's log kept in the cluster's folder."""
    for node in cluster.asterisks:
        keep = cluster.folder / f"asterisk-{node.name}-messages.log"
        asterisk.discard(cluster.asterisk_settings(node), keep)


def down(cluster: Cluster) -> list[str]:
    said = [stop_controller(cluster, spec) for spec in cluster.controllers]
    said.append(kamailio.down(cluster.door))
    for node in cluster.asterisks:
        said.append(f"asterisk {node.name}: " + asterisk.down(cluster.asterisk_settings(node)))
    return said


def status(cluster: Cluster) -> dict[str, Any]:
    routes = kamailio.destinations(cluster.door)
    return {
        "door": {
            "sip": cluster.door.uri,
            "running": kamailio.running_pid(cluster.door) is not None,
            "sends_calls_to": routes,
        },
        "asterisks": {
            spec.name: {
                "sip": f"{spec.host}:{spec.sip_port}",
                "ari": asterisk.ari_answers(cluster.asterisk_settings(spec)) is not None,
            }
            for spec in cluster.asterisks
        },
        "controllers": {
            spec.name: controller_health(spec) for spec in cluster.controllers
        },
        "database": make_url(cluster.database_url).render_as_string(hide_password=True),
    }


def start_controller(cluster: Cluster, spec: ControllerSpec, **extra: str) -> str:
    pid = controller_pid(cluster, spec)
    if pid is not None:
        return f"controller {spec.name} already running (pid {pid})"
    proc = processes.start(
        [sys.executable, "-m", "ivr", "serve"], cluster.log(spec),
        env=cluster.controller_env(spec, **extra), cwd=REPO_ROOT,
    )
    cluster.pidfile(spec).write_text(f"{proc.pid}\n")

    def connected() -> bool | None:
        health = controller_health(spec)
        return True if health and all(health.get("asterisks", {}).values()) else None

    if processes.wait_ready(
        proc, connected, CONTROLLER_START_S, f"controller {spec.name}", cluster.log(spec), 0.2
    ):
        return f"controller {spec.name} up (pid {proc.pid}): http://127.0.0.1:{spec.http_port}"
    raise AsteriskError(
        f"controller {spec.name} not connected to every Asterisk in time:\n"
        + processes.tail(cluster.log(spec))
    )


def controller_pid(cluster: Cluster, spec: ControllerSpec) -> int | None:
    name = f"IVR_NODE_NAME={spec.name}".encode()
    state = f"IVR_STATE_DIR={cluster.controller_state}".encode()

    def ours(pid: int) -> bool:
        environ = processes.environ(pid)
        return name in environ and state in environ

    return processes.recorded_pid(cluster.pidfile(spec), ours)


def stop_controller(cluster: Cluster, spec: ControllerSpec, sig: int = signal.SIGTERM) -> str:
    """SIGTERM (a clean stop: calls are left to the other controller) or, for
    the drills, SIGKILL."""
    pid = controller_pid(cluster, spec)
    cluster.pidfile(spec).unlink(missing_ok=True)
    if pid is None:
        return f"controller {spec.name} is not running"
    processes.stop(pid, sig, grace_s=STOP_GRACE_S)
    return f"controller {spec.name} stopped (pid {pid})"


def controller_health(spec: ControllerSpec) -> dict[str, Any] | None:
    url = f"http://127.0.0.1:{spec.http_port}/api/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            health: dict[str, Any] = json.load(response)
            return health
    except urllib.error.HTTPError as exc:
        body: dict[str, Any] = json.loads(exc.read() or b"null") or {}
        return body
    except (urllib.error.URLError, OSError, ValueError):
        return None


# -- the shared database ----------------------------------------------------------


def _postgres_url(database: str) -> str:
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"


def ensure_database(url: str) -> str:
    """Create the cluster's PostgreSQL database if it is missing."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise AsteriskError(f"a cluster shares a PostgreSQL database, not {parsed.drivername}")

    async def create() -> bool:
        admin = await asyncpg.connect(
            host=parsed.host or "127.0.0.1", port=parsed.port or 5432,
            user=parsed.username or "postgres", password=parsed.password, database="postgres",
        )
        try:
            if await admin.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", parsed.database
            ):
                return False
            await admin.execute(f'CREATE DATABASE "{parsed.database}"')
            return True
        finally:
            await admin.close()

    try:
        made = asyncio.run(create())
    except (OSError, asyncpg.PostgresError) as exc:
        raise AsteriskError(
            f"PostgreSQL at {parsed.host}:{parsed.port} ({exc}); scripts/ensure-postgres starts it"
        ) from exc
    return f"database {parsed.database}: " + ("created" if made else "there")


