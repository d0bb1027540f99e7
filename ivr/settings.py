"""Every setting of the platform, read once from `IVR_*` environment variables.

Nothing else in the package reads the environment: build one `Settings` at
start-up and pass it down. Every setting has a working default for a local
development machine; production overrides them through the environment.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ivr.logs import LogFormat

REPO_ROOT = Path(__file__).resolve().parent.parent


def _home() -> Path:
    return Path(os.path.expanduser("~"))


# The hotline's own clock: a time given without a zone (IVR_NOW, `--at`) is
# Beijing time, and so is the "today" of operators' counts.
HOTLINE_TZ = ZoneInfo("Asia/Shanghai")
# A channel variable or header name, written into the dialplan as it is.
_DIALPLAN_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
# espeak-ng's speed in words a minute for the prompts (its own default is 175):
# about 5.2 Mandarin characters a second, pauses at punctuation included, where
# 175 gives 3.4 (prompts/README.md, "The voice: how it is tuned").
TTS_RATE = 250


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IVR_", extra="ignore")

    # Where generated state lives (database, rendered Asterisk configuration,
    # built prompts, logs). Never inside the repository.
    state_dir: Path = Field(default_factory=lambda: _home() / ".local/state/ivr12371")
    # Where large rebuildable things live (the Asterisk root filesystem).
    cache_dir: Path = Field(default_factory=lambda: _home() / ".cache/ivr12371")

    database_url: str = ""  # empty: an SQLite file in state_dir

    # Asterisk's REST interface. The password is a local development default
    # only: production sets IVR_ARI_PASSWORD.
    ari_host: str = "127.0.0.1"
    ari_port: int = 8088
    ari_user: str = "ivr"
    ari_password: str = "ivr-local-dev-only"
    ari_app: str = Field(default="ivr12371", pattern=_DIALPLAN_NAME)
    # The Stasis applications an Asterisk offers its calls to, one per
    # controller (comma-separated; empty: `ari_app` alone). Asterisk gives
    # each application name to one WebSocket, so every controller of a
    # cluster has its own, and the dialplan tries them in turn from a random
    # one (dialplan/extensions.conf, [stasis]).
    stasis_apps: str = ""
    # A controller serves its Stasis application while it holds the
    # application's lease in the database, renewed this often for this long;
    # another takes its calls over once it has expired (ivr/stasis/takeover.py).
    lease_renew: float = Field(default=0.5, gt=0, le=10)
    lease_seconds: float = Field(default=2.5, gt=0, le=60)
    # An Asterisk that does not let us back in this long is gone, and its
    # calls with it: their records end `node_lost`.
    node_lost_after: float = Field(default=10.0, gt=0, le=600)
    # Every Asterisk this controller serves (comma-separated name=host:port of
    # their ARI; empty: ari_host:ari_port alone). Each gets its own ARI
    # connection and carries its calls as node `{node_name}@{name}`.
    asterisks: str = ""
    # Asterisk's HTTP server allows `sessionlimit` (100 by default) sessions;
    # the pool stays well below it so requests are never refused for that.
    ari_pool_size: int = 20
    ari_request_timeout: float = 10.0
    # Send REST requests over the events WebSocket (Asterisk 22.4 and newer)
    # instead of HTTP: far less CPU per request in the controller.
    ari_rest_over_websocket: bool = True
    ari_reconnect_min: float = 0.2
    ari_reconnect_max: float = 5.0
    asterisk_http_session_limit: int = 100

    # SIP and RTP, loopback only on development machines.
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    # Where callers' SIP comes from (the carrier's trunk in production):
    # comma-separated networks, identified by address without registration.
    sip_caller_networks: str = "127.0.0.0/8"
    # Where the carrier says a call comes from (routing rule 1, before any
    # number): a channel variable the trunk's context sets, else a SIP header.
    # Either holds a division code (340100) or an area code (0551).
    origin_variable: str = Field(default="IVR_ORIGIN", pattern=_DIALPLAN_NAME)
    origin_header: str = Field(default="X-12371-Origin", pattern=_DIALPLAN_NAME)
    rtp_start: int = 20000
    rtp_end: int = 29999
    # A caller that vanishes without a BYE is hung up after this many seconds
    # of no RTP.
    rtp_timeout: int = 30
    asterisk_binary: str = ""  # empty: `asterisk` on PATH, else the chroot
    asterisk_ready_timeout: float = 60.0

    # The controller's own HTTP side: prompt files, /api/.
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # The address Asterisk uses to fetch prompts from the controller.
    prompt_base_url: str = ""  # empty: http://{http_host}:{http_port}
    # Who may read GET /metrics (Prometheus's text, no sign-in): clients from
    # these comma-separated networks; any other is refused with a 403, even
    # when `http_host` is opened to more than loopback for the admin web.
    metrics_networks: str = "127.0.0.0/8,::1/128"
    # How long a scrape waits for the database's gauges (callers waiting,
    # operators, overdue cases) before answering with the rest.
    metrics_read_timeout: float = Field(default=2.0, gt=0, le=30)

    # Call flow timing.
    digit_timeout: float = 5.0
    # How long a department's front page waits for a key before the caller
    # gets what 1 gives (a person in hours, self-service after): short, since
    # a caller who presses nothing wants the default and should not wait.
    front_timeout: float = Field(default=2.0, gt=0, le=30)
    max_silences: int = 2
    max_invalid: int = 3
    # A prompt's end not reported this long after it should have come, or a
    # stop not taken effect after `stop_check`, is checked with Asterisk.
    playback_grace: float = 2.0
    stop_check: float = 1.0
    # How long a call waits for Asterisk to confirm a command before giving up.
    command_timeout: float = 10.0

    # Working hours, each department's queue rules and the after-hours
    # service menus (routing/README.md).
    hours_file: Path = REPO_ROOT / "routing" / "hours.yaml"
    queues_file: Path = REPO_ROOT / "routing" / "queues.yaml"
    menus_file: Path = REPO_ROOT / "routing" / "menus.yaml"
    # The operator queue.
    # The dispatcher looks for free operators and due announcements this often.
    queue_tick: float = Field(default=1.0, gt=0, le=10)
    moh_class: str = Field(default="default", pattern=_DIALPLAN_NAME)
    # A message: longest recording, and silence that ends it.
    message_max_seconds: int = Field(default=120, ge=10, le=600)
    message_silence_seconds: int = Field(default=5, ge=1, le=60)
    # Ask callers after an operator's call or a message how satisfied they
    # were (1 satisfied, 2 fair, 3 dissatisfied); counted in `ivr report`.
    survey: bool = True
    # How a callback dials the caller: an Asterisk dial string with {number},
    # e.g. PJSIP/callers/sip:{number}@carrier.example; empty: callbacks are
    # not offered.
    callback_dial: str = ""
    # How long a callback rings the caller's phone before it counts as unanswered.
    callback_ring_seconds: float = Field(default=30, ge=5, le=120)
    # The SIP realm of operators' digest authentication.
    sip_realm: str = Field(default="12371", pattern=r"^[A-Za-z0-9._-]{1,64}$")

    # A registered case (message, callback request) is due at the end of the
    # Nth working day after it reached its department, on the official
    # calendar; an urgent one this many hours after.
    case_due_working_days: int = Field(default=3, ge=1, le=30)
    case_urgent_hours: float = Field(default=24, gt=0, le=168)
    # Supervision (督办): how often every controller looks for cases past
    # their deadline, writes their escalations and tells the supervisors.
    escalation_seconds: float = Field(default=60, gt=0, le=3600)
    # Escalations are also POSTed as JSON to this address (none: the admin
    # page's inbox only), signed with HMAC-SHA256 under `webhook_secret`
    # (required with a URL; production's comes from the environment). A
    # failed delivery is tried again after `webhook_retry_seconds`, doubling
    # each time up to an hour, `webhook_attempts` times in all.
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_attempts: int = Field(default=8, ge=1, le=50)
    webhook_retry_seconds: float = Field(default=30, gt=0, le=3600)
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=120)
    # How long a caller's message is kept in Asterisk once its case is
    # closed, in days; unset: for ever. Off by default because a deletion
    # cannot be undone and how long a hotline keeps callers' words is its
    # records policy (档案管理) to decide, not a default. When set, a job on
    # every controller archives (if `recording_archive_dir` is set: a WAV per
    # case, named by its number) and deletes the recordings of cases closed
    # longer ago, every `recording_retention_interval` seconds
    # (ivr/cases/retention.py; `ivr cases retention` runs it once).
    recording_retention_days: int | None = Field(default=None, ge=1, le=36500)
    recording_archive_dir: Path | None = None
    recording_retention_interval: float = Field(default=3600, ge=1, le=7 * 24 * 3600)

    # The admin web. A signed-in session ends after this long unused, and
    # after `session_hours` whatever happens. Behind HTTPS (a reverse proxy),
    # set IVR_COOKIE_SECURE=true so the browser never sends the cookie in clear.
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_hours: int = Field(default=12, ge=1, le=7 * 24)
    cookie_secure: bool = False
    # Prompt previews (espeak-ng) and uploads (ffmpeg) run on the controller
    # that serves calls: each user may start `prompt_audio_burst` at once, then
    # `prompt_audio_per_minute` (a token bucket per user and controller); more
    # is a 429 with Retry-After.
    prompt_audio_burst: int = Field(default=10, ge=1, le=1000)
    prompt_audio_per_minute: float = Field(default=30.0, gt=0, le=6000)
    # Every `audio_prune_interval` seconds each controller prunes audio nothing
    # needs (ivr/publish/pruning.py): uploads no version or draft names, and
    # its files of texts out of force, `audio_prune_days` after.
    audio_prune_days: int = Field(default=7, ge=1, le=3650)
    audio_prune_interval: float = Field(default=3600, ge=1, le=7 * 24 * 3600)
    # How often a controller looks for menus and hours another one published.
    config_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # An operator's screen pop (`GET /api/operator/feed`, server-sent events):
    # a comment this often keeps proxies from closing a quiet stream, and a
    # browser that lost it tries again after `operator_feed_retry_ms`.
    operator_feed_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    operator_feed_retry_ms: int = Field(default=2000, ge=100, le=60_000)

    # How prompts are spoken (`ivr prompts build` and the admin's preview alike):
    # espeak-ng's speed in words a minute, and a voice that, when set, wins over
    # prompts/prompts.yaml's `voice`. A change re-renders every prompt.
    tts_rate: int = Field(default=TTS_RATE, ge=80, le=450)
    tts_voice: str = ""  # empty: prompts.yaml's

    # Records are written in batches off the call path. A transaction costs
    # the controller about 1 ms of CPU whatever its size (about 0.5 ms per
    # call at 50 calls/s), but the flow's state must reach the database
    # before a controller can die with it: 200 ms lost a queued caller's
    # place in an e2e test (issue 15's note), so 50 ms stays.
    record_batch_size: int = 200
    record_flush_interval: float = 0.05

    # The controller logs a WARNING when its event loop wakes this much later
    # than asked (ivr/loop_lag.py): every caller waited that long.
    loop_lag_warn_ms: float = Field(default=100, gt=0, le=60_000)

    # How the controller writes its log lines to stderr: `text` (one line
    # each, for people) or `json` (a JSON object a line, for a log pipeline).
    # Either way a line about a call carries its id, SIP Call-ID and
    # department (ivr/logs.py, docs/operations.md).
    log_format: LogFormat = "text"

    # Fix the clock for tests and demos (ISO 8601).
    now: datetime | None = None
    # Name of this controller in logs and records (several may share a database).
    node_name: str = Field(default_factory=lambda: os.uname().nodename)

    @field_validator("stasis_apps")
    @classmethod
    def _application_names(cls, value: str) -> str:
        for app in _names(value):
            if not re.match(_DIALPLAN_NAME, app):
                raise ValueError(f"{app!r} is not a Stasis application name")
        return value

    @field_validator("metrics_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for network in _names(value):
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network (e.g. 10.0.0.0/8)") from None
        return value

    @field_validator("asterisks")
    @classmethod
    def _asterisk_list(cls, value: str) -> str:
        names = [name for name, _, _ in _asterisk_entries(value)]
        if len(set(names)) != len(names):
            raise ValueError("an Asterisk's name is given twice")
        return value

    @model_validator(mode="after")
    def _fill_derived(self) -> Settings:
        if self.lease_seconds < 2 * self.lease_renew:
            raise ValueError("lease_seconds must be at least twice lease_renew")
        if self.webhook_url:
            if not self.webhook_url.startswith(("http://", "https://")):
                raise ValueError("IVR_WEBHOOK_URL is an http:// or https:// address")
            if len(self.webhook_secret) < 16:
                raise ValueError(
                    "IVR_WEBHOOK_URL needs IVR_WEBHOOK_SECRET, 16 characters or more: "
                    "the receiver checks each delivery's signature with it"
                )
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.state_dir / 'ivr.sqlite3'}"
        if not self.prompt_base_url:
            self.prompt_base_url = f"http://{self.http_host}:{self.http_port}"
        return self

    def per_asterisk(self) -> list[Settings]:
        """The settings of each Asterisk's connection: its ARI address, and
        the node name its calls are recorded under."""
        entries = _asterisk_entries(self.asterisks)
        if not entries:
            return [self]
        return [
            self.model_copy(
                update={"ari_host": host, "ari_port": port, "node_name": f"{self.node_name}@{name}"}
            )
            for name, host, port in entries
        ]

    @property
    def offered_apps(self) -> list[str]:
        """`stasis_apps` as a list: the applications the dialplan tries."""
        return _names(self.stasis_apps) or [self.ari_app]

    @property
    def ari_base_url(self) -> str:
        return f"http://{self.ari_host}:{self.ari_port}/ari"

    @property
    def prompt_build_dir(self) -> Path:
        return self.state_dir / "prompts"

    @property
    def prompt_render_cache(self) -> Path:
        """Rendered audio by input hash, shared by every build on this machine."""
        return self.cache_dir / "prompt-renders"

    @property
    def asterisk_dir(self) -> Path:
        return self.state_dir / "asterisk"

    @property
    def rootfs_dir(self) -> Path:
        return self.cache_dir / "rootfs"


_ASTERISK_ENTRY = re.compile(r"^([A-Za-z0-9_-]{1,32})=([0-9A-Za-z.:-]+):([0-9]{1,5})$")


def _names(value: str) -> list[str]:
    """A comma-separated setting's items, blanks left out."""
    return [item for item in (part.strip() for part in value.split(",")) if item]


def _asterisk_entries(value: str) -> list[tuple[str, str, int]]:
    """`asterisks` read: (name, ARI host, ARI port) in the order given."""
    entries = []
    for item in _names(value):
        match = _ASTERISK_ENTRY.match(item)
        if match is None:
            raise ValueError(f"{item!r} is not name=host:port")
        entries.append((match.group(1), match.group(2), int(match.group(3))))
    return entries
