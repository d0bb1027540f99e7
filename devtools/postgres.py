"""A PostgreSQL server of the drills' own, on a free loopback port.

The machine's server (127.0.0.1:5432) is shared by the whole test suite; a
drill that stops the database under load must not stop everyone's. Debian's
server binaries (the `postgresql` package) run here as the `postgres` user
on a folder of the drill's, trusting loopback connections.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import free_port
from ivr.errors import AsteriskError

PG_ROOT = Path("/usr/lib/postgresql")
USER = "postgres"
TOOL_TIMEOUT_S = 60.0


def _bin(name: str) -> str:
    versions = sorted(PG_ROOT.glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise AsteriskError("PostgreSQL's server is missing: scripts/setup-machine --for-tests")
    return str(versions[-1] / name)


@dataclass(frozen=True)
class PostgresServer:
    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.folder, USER, USER)
        self._as_postgres(_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", USER,
                          "--no-sync")

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.folder} -c fsync=off"
        )
        self._as_postgres(_bin("pg_ctl"), "-D", str(self.data), "-o", options,
                          "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def _as_postgres(self, *cmd: str) -> None:
        runner = ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []
        proc = subprocess.run([*runner, *cmd], capture_output=True, text=True,
                              timeout=TOOL_TIMEOUT_S, check=False, cwd="/")
        if proc.returncode != 0:
            raise AsteriskError(f"{Path(cmd[0]).name} failed: {proc.stderr.strip()[-1000:]}")


@contextmanager
def private_server(prefix: str) -> Iterator[PostgresServer]:
    """A server of one's own on a free port, for as long as the block runs.
    Its folder is under /tmp, which the postgres user may enter (pytest's
    are root's alone), and is removed after."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    server = PostgresServer(folder, free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
