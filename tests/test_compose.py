"""docker-compose.yml and the Dockerfiles, checked against the code they ship.

No Docker engine is needed: the files are read as data and compared with
ivr.settings and ivr.dialplan, so a renamed setting, a missing COPY source or
a published ARI port fails here rather than at `docker compose up`.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import pytest
import yaml

from ivr import dialplan, frontdoor
from ivr.cli import serve as service
from ivr.dialplan import ASTERISK_PACKAGES, layout
from ivr.settings import Settings

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
ENTRYPOINT = REPO / "docker" / "asterisk-entrypoint.sh"
ASTERISKS = ("asterisk-a", "asterisk-b")
CONTROLLERS = ("controller-1", "controller-2")
SERVICES = ("kamailio", *ASTERISKS, *CONTROLLERS, "postgres")
DOOR_ENTRYPOINT = REPO / "docker" / "kamailio-entrypoint.sh"
# `${NAME:?message}`: compose refuses to start when NAME is unset or empty.
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@dataclass(frozen=True)
class Stage:
    base: str
    instructions: tuple[Instruction, ...]

    def run_lines(self) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == "RUN"]


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


COMPOSE = load_compose()


def service_of(name: str) -> dict[str, Any]:
    services = COMPOSE["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    svc = services[name]
    assert isinstance(svc, dict)
    return svc


def environment(name: str) -> dict[str, str]:
    env = service_of(name).get("environment", {})
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {key: value for key, value in pairs}
    return {str(key): str(value) for key, value in env.items()}


def build_of(name: str) -> tuple[Path, Path]:
    build = service_of(name)["build"]
    context = (COMPOSE_FILE.parent / build["context"]).resolve()
    return context, context / build.get("dockerfile", "Dockerfile")


def parse_dockerfile(path: Path) -> list[Stage]:
    """Instructions per stage, continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and pending):
            continue  # Docker drops comment lines, even inside a continuation
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path} ends in a line continuation"
    stages: list[Stage] = []
    for line in filter(None, logical):
        keyword, _, args = line.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip())
        if instruction.keyword == "FROM":
            stages.append(Stage(instruction.args.split()[0], ()))
        elif stages:
            last = stages[-1]
            stages[-1] = Stage(last.base, (*last.instructions, instruction))
    assert stages, f"{path} has no FROM"
    return stages


def copy_sources(instruction: Instruction) -> list[str] | None:
    """Sources of a COPY/ADD from the build context; None for --from= copies."""
    args = instruction.args
    words = ast.literal_eval(args) if args.startswith("[") else shlex.split(args)
    flags = [w for w in words if w.startswith("--")]
    if any(flag.startswith("--from=") for flag in flags):
        return None
    paths = [w for w in words if not w.startswith("--")]
    assert len(paths) >= 2, f"{instruction.keyword} {args}: needs a source and a destination"
    return paths[:-1]


def all_dockerfiles() -> list[tuple[str, Path, Path]]:
    return [(name, *build_of(name)) for name in SERVICES if "build" in service_of(name)]


def dockerignore_patterns(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether .dockerignore drops `relative` or a folder above it (last match wins)."""
    parts = Path(relative).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        forms = [body]
        if body.startswith("**/"):
            forms.append(body[3:])
        hit = any(
            fnmatch.fnmatchcase(candidate, form)
            or (form != body and fnmatch.fnmatchcase(Path(candidate).name, form))
            for candidate in candidates
            for form in forms
        )
        if hit:
            result = not negate
    return result


def with_defaults(text: str) -> str:
    """`${NAME:-default}` as compose reads it with NAME unset."""
    return re.sub(r"\$\{[^:}]+:-([^}]+)\}", r"\1", text)


def split_url(url: str) -> tuple[SplitResult, dict[str, str]]:
    """urlsplit, with each `${...}` (colons, `?`, spaces and all) kept whole."""
    found: dict[str, str] = {}

    def hold(match: re.Match[str]) -> str:
        token = f"variable{len(found)}"
        found[token] = match.group(0)
        return token

    return urlsplit(re.sub(r"\$\{[^}]*\}", hold, url)), found


def apt_installed(stage: Stage) -> set[str]:
    packages: set[str] = set()
    for run in stage.run_lines():
        for command in re.split(r"&&|;|\|\|", run):
            words = shlex.split(command)
            if "apt-get" in words and "install" in words:
                after = words[words.index("install") + 1 :]
                packages |= {w for w in after if not w.startswith("-") and "=" not in w}
    return packages


def published_ports(entry: Any) -> tuple[set[int], set[int]]:
    """(host ports, container ports) of one `ports:` entry, ranges expanded."""

    def expand(text: str) -> set[int]:
        text = text.split("/")[0]
        if not text:
            return set()
        low, _, high = text.partition("-")
        return set(range(int(low), int(high or low) + 1))

    if isinstance(entry, dict):
        return expand(str(entry.get("published", ""))), expand(str(entry["target"]))
    text = with_defaults(str(entry))
    pieces = text.rsplit(":", 2)
    container = pieces[-1]
    host = pieces[-2] if len(pieces) >= 2 else ""
    return expand(host), expand(container)


# The services ---------------------------------------------------------------


def test_the_cluster_in_the_compose_spec_form() -> None:
    assert "version" not in COMPOSE, "the compose spec has no `version:` key"
    assert set(SERVICES) <= set(COMPOSE["services"])
    assert service_of("postgres")["image"].startswith("postgres:")
    for name in CONTROLLERS:
        assert service_of(name)["command"] in (["ivr", "serve"], "ivr serve")


@pytest.mark.parametrize("name", ["kamailio", *ASTERISKS, *CONTROLLERS])
def test_build_context_and_dockerfile_exist(name: str) -> None:
    context, dockerfile = build_of(name)
    assert context.is_dir(), f"{name}: build context {context} is missing"
    assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"
    assert dockerfile.is_relative_to(REPO)


def test_every_copied_file_is_in_the_repository_and_the_context() -> None:
    checked = 0
    for name, context, dockerfile in all_dockerfiles():
        patterns = dockerignore_patterns(context)
        for stage in parse_dockerfile(dockerfile):
            for instruction in stage.instructions:
                if instruction.keyword not in ("COPY", "ADD"):
                    continue
                sources = copy_sources(instruction)
                for source in sources or []:
                    matches = list(context.glob(source.rstrip("/")))
                    assert matches, f"{name}: {dockerfile.name} copies {source}, which is missing"
                    assert not ignored(source, patterns), (
                        f"{name}: {dockerfile.name} copies {source}, but .dockerignore drops it"
                    )
                    checked += 1
    assert checked >= 6, "the Dockerfiles copy the project in; the parser found too little"


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = dockerignore_patterns(REPO)
    for path in (".venv", ".git", ".env", "tests", "ivr/__pycache__/x.pyc", "prompts/x.wav"):
        assert ignored(path, patterns), f"{path} would be sent to the Docker build"


# Settings ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [*ASTERISKS, *CONTROLLERS])
def test_environment_names_real_settings(name: str) -> None:
    env = environment(name)
    assert env, f"{name} gets no environment"
    _, dockerfile = build_of(name)
    env_lines = [
        i.args for i in parse_dockerfile(dockerfile)[-1].instructions if i.keyword == "ENV"
    ]
    image_env = re.findall(r"\b(IVR_[A-Z0-9_]+)=", " ".join(env_lines))
    for variable in [*env, *image_env]:
        assert variable.startswith("IVR_"), f"{name}: {variable} is not read by Settings"
        field = variable.removeprefix("IVR_").lower()
        assert field in Settings.model_fields, f"{name}: {variable} is no setting in ivr.settings"
    # And each is a valid value of its setting (IVR_ASTERISKS, IVR_STASIS_APPS...).
    Settings(**{
        k.removeprefix("IVR_").lower(): with_defaults(v) for k, v in env.items() if "${" not in v
    })


def test_passwords_come_from_required_variables() -> None:
    found = 0
    for name in COMPOSE["services"]:
        for key, value in environment(name).items():
            if "PASSWORD" in key:
                assert REQUIRED_VARIABLE.fullmatch(value), (
                    f"{name}: {key} must be ${{VAR:?message}}, not a value in the file"
                )
                found += 1
            if "://" in value:
                url, variables = split_url(value)
                if url.password is not None:
                    password = variables.get(url.password, url.password)
                    assert REQUIRED_VARIABLE.fullmatch(password), (
                        f"{name}: {key} holds a password in plain text"
                    )
                    found += 1
    # each Asterisk's and controller's ARI password, postgres's, the database URLs
    assert found >= 7


def backend_address(name: str) -> str:
    address: str = service_of(name)["networks"]["backend"]["ipv4_address"]
    return address


def test_every_controller_reaches_every_asterisk_with_the_same_credentials() -> None:
    for controller in CONTROLLERS:
        ctl_env = environment(controller)
        targets = Settings(asterisks=ctl_env["IVR_ASTERISKS"]).per_asterisk()
        assert sorted(t.ari_host for t in targets) == sorted(map(backend_address, ASTERISKS))
        for asterisk in ASTERISKS:
            ast_env = environment(asterisk)
            for key in ("IVR_ARI_USER", "IVR_ARI_PASSWORD"):
                assert ast_env[key] == ctl_env[key], f"{key}: {asterisk} and {controller} differ"
            assert ast_env["IVR_ARI_HOST"] == "0.0.0.0"  # reachable from the controllers
            assert {t.ari_port for t in targets} == {int(ast_env["IVR_ARI_PORT"])}


def test_every_asterisk_offers_calls_to_every_controllers_own_application() -> None:
    apps = [environment(c)["IVR_ARI_APP"] for c in CONTROLLERS]
    assert len(set(apps)) == len(apps), "two controllers share a Stasis application"
    names = [environment(n)["IVR_NODE_NAME"] for n in (*ASTERISKS, *CONTROLLERS)]
    assert len(set(names)) == len(names), "two parts share a node name"
    for asterisk in ASTERISKS:
        env = environment(asterisk)
        assert Settings(stasis_apps=env["IVR_STASIS_APPS"]).offered_apps == apps
        # Callers come through the door only.
        assert env["IVR_SIP_CALLER_NETWORKS"] == backend_address("kamailio") + "/32"


def test_the_door_sends_calls_to_every_asterisk() -> None:
    nodes = environment("kamailio")["DOOR_ASTERISKS"].split(",")
    expected = [f"{backend_address(n)}:{environment(n)['IVR_SIP_PORT']}" for n in ASTERISKS]
    assert nodes == expected


def test_controllers_reach_their_neighbours_by_service_name() -> None:
    postgres = environment("postgres")
    for name in CONTROLLERS:
        env = environment(name)
        prompts = urlsplit(env["IVR_PROMPT_BASE_URL"])
        assert (prompts.hostname, prompts.port) == (name, int(env["IVR_HTTP_PORT"]))
        assert env["IVR_HTTP_HOST"] == "0.0.0.0"  # Asterisk fetches prompts from outside
        database, variables = split_url(env["IVR_DATABASE_URL"])
        assert database.scheme == "postgresql+asyncpg"
        assert (database.hostname, database.port) == ("postgres", 5432)
        assert database.username == postgres["POSTGRES_USER"]
        assert variables[database.password or ""] == postgres["POSTGRES_PASSWORD"]
        assert database.path == "/" + postgres["POSTGRES_DB"]
        depends = service_of(name)["depends_on"]
        for needed in (*ASTERISKS, "postgres"):
            assert depends[needed]["condition"] == "service_healthy"
            assert "healthcheck" in service_of(needed), f"{needed} has no healthcheck to wait for"


# Network ----------------------------------------------------------------------


def test_ari_is_not_published() -> None:
    ari_port = int(environment("asterisk-a")["IVR_ARI_PORT"])
    for name, svc in COMPOSE["services"].items():
        for entry in svc.get("ports", []):
            host, container = published_ports(entry)
            assert ari_port not in container | host, f"{name} publishes ARI: {entry}"


def test_sip_at_the_door_and_each_asterisks_own_rtp_are_published() -> None:
    door: set[int] = set()
    for entry in service_of("kamailio")["ports"]:
        door |= published_ports(entry)[1]
    assert 5060 in door
    taken: set[int] = set()
    for name in ASTERISKS:
        env = environment(name)
        host_side: set[int] = set()
        for entry in service_of(name)["ports"]:
            host, _ = published_ports(entry)
            assert int(env["IVR_SIP_PORT"]) not in host, f"{name}: SIP goes through the door"
            host_side |= host
        start, end = (int(with_defaults(env[k])) for k in ("IVR_RTP_START", "IVR_RTP_END"))
        assert set(range(start, end + 1)) <= host_side
        assert not host_side & taken, f"{name}'s RTP ports overlap another Asterisk's"
        taken |= host_side


@pytest.mark.parametrize("name", ASTERISKS)
def test_asterisk_healthcheck_asks_ari(name: str) -> None:
    test = service_of(name)["healthcheck"]["test"]
    command = test if isinstance(test, str) else " ".join(test)
    assert "/ari/asterisk/info" in command
    assert "$${IVR_ARI_PASSWORD}" in command  # read in the container, not written here


# Volumes ----------------------------------------------------------------------


def mounts(name: str) -> dict[str, str]:
    """Volume name -> path in the container (short syntax)."""
    result = {}
    for entry in service_of(name).get("volumes", []):
        source, target, *_ = str(entry).split(":")
        result[source] = target
    return result


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name in SERVICES:
        for source in mounts(name):
            assert source in declared, f"{name} mounts {source}, not declared under volumes:"


@pytest.mark.parametrize("name", ASTERISKS)
def test_recordings_outlive_asterisk_and_no_controller_shares_its_disk(name: str) -> None:
    # The image sets IVR_ASTERISK_BINARY, so ivr.dialplan uses host mode.
    state = Path(environment(name)["IVR_STATE_DIR"])
    asterisk_side = layout(Settings(state_dir=state, asterisk_binary="/usr/sbin/asterisk"))
    assert asterisk_side.root is None
    # Callers' messages (and the fallback's) are kept in the state volume...
    assert mounts(name)[f"{name}-state"] == str(state)
    assert asterisk_side.recordings.is_relative_to(state)
    # ...and the controllers fetch them through ARI, so Asterisk may be elsewhere.
    for controller in CONTROLLERS:
        assert set(mounts(controller)) == {f"{controller}-state"}


# The Asterisk image -----------------------------------------------------------


def test_asterisk_image_installs_the_chroot_packages() -> None:
    _, dockerfile = build_of("asterisk-a")
    final = parse_dockerfile(dockerfile)[-1]
    assert final.base.startswith("debian:sid")
    installed = apt_installed(final)
    missing = set(ASTERISK_PACKAGES) - installed
    assert not missing, f"the asterisk image lacks {sorted(missing)} (ivr.dialplan)"
    # rendering the configuration, and the healthcheck
    assert {"python3", "python3-pydantic", "python3-pydantic-settings", "curl"} <= installed
    env = " ".join(i.args for i in final.instructions if i.keyword == "ENV")
    assert "IVR_ASTERISK_BINARY=/usr/sbin/asterisk" in env


def test_asterisk_image_uses_functions_that_exist() -> None:
    """The Python in the entrypoint and the Dockerfile calls ivr by name."""
    script = ENTRYPOINT.read_text(encoding="utf-8")
    match = re.search(r"<<'PY'\n(.*?)\nPY\n", script, re.DOTALL)
    assert match, "the entrypoint's Python heredoc is missing"
    compile(match.group(1), str(ENTRYPOINT), "exec")
    _, dockerfile = build_of("asterisk-a")
    text = script + dockerfile.read_text(encoding="utf-8")
    calls = set(re.findall(r"\b(dialplan|service)\.([a-zA-Z_]\w*)\(", text))
    assert ("dialplan", "install_config") in calls
    assert ("service", "fallback_sounds") in calls
    modules = {"dialplan": dialplan, "service": service}
    for module, attribute in calls:
        assert hasattr(modules[module], attribute), f"ivr.{module} has no {attribute}"


def test_entrypoint_renders_the_configuration(tmp_path: Path) -> None:
    """What the entrypoint does before exec'ing Asterisk works with its settings."""
    env = {k: v for k, v in environment("asterisk-a").items() if "${" not in v}
    settings = Settings(
        state_dir=tmp_path,
        asterisk_binary="/usr/sbin/asterisk",
        ari_password="from-the-environment",
        **{k.removeprefix("IVR_").lower(): v for k, v in env.items() if k != "IVR_STATE_DIR"},
    )
    lay = layout(settings)
    dialplan.install_config(settings, lay)
    http = (lay.etc / "http.conf").read_text(encoding="utf-8")
    assert "bindaddr = 0.0.0.0" in http
    assert "from-the-environment" in (lay.etc / "ari.conf").read_text(encoding="utf-8")
    command = dialplan.command(settings, lay)
    assert command[:4] == ["/usr/sbin/asterisk", "-f", "-C", str(lay.etc / "asterisk.conf")]


# The front door's image ---------------------------------------------------------


def test_the_door_image_renders_what_kamailio_accepts(tmp_path: Path) -> None:
    """The entrypoint's rendering, with the compose file's Asterisks; and
    Debian's Kamailio takes it, where the machine has it (make test does)."""
    script = DOOR_ENTRYPOINT.read_text(encoding="utf-8")
    assert "python3 -m ivr.frontdoor" in script and "exec kamailio" in script
    _, dockerfile = build_of("kamailio")
    assert "kamailio" in apt_installed(parse_dockerfile(dockerfile)[-1])
    nodes = environment("kamailio")["DOOR_ASTERISKS"].split(",")
    listed_nodes = [arg for node in nodes for arg in ("--asterisk", node)]
    frontdoor.main(["--listen", "0.0.0.0:5060", *listed_nodes, str(tmp_path)])
    listed = (tmp_path / "dispatcher.list").read_text()
    assert [line for line in listed.splitlines() if not line.startswith("#")] == [
        f"1 sip:{node}" for node in nodes
    ]
    binary = frontdoor.kamailio_binary()
    if binary is not None:
        checked = subprocess.run(
            [binary, "-c", "-f", str(tmp_path / "kamailio.cfg")],
            capture_output=True, text=True, check=False,
        )
        assert checked.returncode == 0, checked.stderr[-2000:]
