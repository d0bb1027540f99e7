"""The SIP front door of a cluster: Kamailio's configuration, rendered from
dialplan/kamailio.cfg.

One Kamailio (Debian's package, its dispatcher module) listens where callers
dial and spreads new calls over several Asterisks, probing each with OPTIONS
every second and leaving out the ones that do not answer. This module owns
what the configuration says and where an instance keeps its files; running
it is the development runner's (`devtools.kamailio`, behind `ivr cluster`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ivr.dialplan import DIALPLAN_DIR, render, write_config
from ivr.errors import ConfigError

TEMPLATE = DIALPLAN_DIR / "kamailio.cfg"
# No answer from an Asterisk in this long (not even 100 Trying) means it is
# gone: for a probe, and for a call, which then tries the next one.
REPLY_TIMEOUT_MS = 1000


@dataclass(frozen=True)
class SipNode:
    """One Asterisk behind the door: where its SIP listens."""

    host: str
    port: int

    @property
    def uri(self) -> str:
        return f"sip:{self.host}:{self.port}"


@dataclass(frozen=True)
class FrontDoor:
    """One Kamailio instance: where it listens, whom it sends calls to, its folder."""

    host: str
    port: int
    nodes: tuple[SipNode, ...]
    folder: Path
    children: int = 4

    def __post_init__(self) -> None:
        if not self.nodes:
            raise ConfigError("a front door needs at least one Asterisk behind it")
        if len(set(self.nodes)) != len(self.nodes):
            raise ConfigError("an Asterisk is listed twice behind the front door")

    @property
    def config(self) -> Path:
        return self.folder / "kamailio.cfg"

    @property
    def dispatcher_list(self) -> Path:
        return self.folder / "dispatcher.list"

    @property
    def ctl_socket(self) -> Path:
        return self.folder / "ctl.sock"

    @property
    def pidfile(self) -> Path:
        return self.folder / "kamailio.pid"

    @property
    def log(self) -> Path:
        return self.folder / "kamailio.log"

    @property
    def uri(self) -> str:
        return f"sip:{self.host}:{self.port}"


def dispatcher_list(door: FrontDoor) -> str:
    """Set 1: every Asterisk, in the order given."""
    lines = ["# set destination: rendered by `ivr cluster up`"]
    lines += [f"1 {node.uri}" for node in door.nodes]
    return "\n".join(lines) + "\n"


def config_text(door: FrontDoor) -> str:
    return render(
        TEMPLATE.read_text(encoding="utf-8"),
        {
            "listen_host": door.host,
            "listen_port": str(door.port),
            "children": str(door.children),
            "dispatcher_list": str(door.dispatcher_list),
            "ctl_socket": str(door.ctl_socket),
            "reply_timeout_ms": str(REPLY_TIMEOUT_MS),
        },
    )


def install(door: FrontDoor) -> None:
    """Write the configuration and the dispatcher list into the door's folder."""
    door.folder.mkdir(parents=True, exist_ok=True)
    write_config(door.dispatcher_list, dispatcher_list(door))
    write_config(door.config, config_text(door))


def kamailio_binary() -> str | None:
    return os.environ.get("IVR_KAMAILIO_BINARY") or shutil.which(
        "kamailio", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    )


def command(door: FrontDoor, binary: str) -> list[str]:
    """Kamailio in the foreground (-DD), logging to standard error (-E)."""
    return [
        binary, "-DD", "-E", "-f", str(door.config), "-P", str(door.pidfile),
        "-m", "64", "-M", "8",
    ]


def main(argv: list[str] | None = None) -> None:
    """Render a front door's files into a folder (the Kamailio image does,
    at build time): `python -m ivr.frontdoor --listen H:P --asterisk H:P ... FOLDER`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ivr.frontdoor", description=main.__doc__)
    parser.add_argument("--listen", required=True, help="host:port callers dial")
    parser.add_argument("--asterisk", action="append", required=True, help="host:port, repeated")
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)

    def address(text: str) -> SipNode:
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit():
            parser.error(f"{text!r} is not host:port")
        return SipNode(host, int(port))

    listen = address(args.listen)
    door = FrontDoor(
        host=listen.host,
        port=listen.port,
        nodes=tuple(address(text) for text in args.asterisk),
        folder=args.folder,
    )
    install(door)
    print(f"{door.config}: {door.uri} in front of " + ", ".join(n.uri for n in door.nodes))


if __name__ == "__main__":
    main()
