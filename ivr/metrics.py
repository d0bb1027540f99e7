"""What a controller tells Prometheus: every metric object, in one place.

One `Metrics` per controller process, built by the composition root
(`ivr/cli/serve.py`) on a registry of its own (never prometheus_client's
global one, so tests that build several apps in one process never collide)
and handed to the parts that count: the call registry and runner (calls
started and ended), the ARI connection (request latency, reconnects), the
recorder (its queue and flushes), the database engine (errors), cases,
escalations and the webhook sender. `GET /metrics` (`ivr/admin/metrics.py`)
renders it, after setting the gauges read at scrape time (calls in
progress, ARI connections, callers waiting, operators by status, overdue
cases).

Labels are bounded by construction: a department is labelled by its
province (`province_of`: `340100` and `340121` are both `340000`; the
central department is `national`), never by its own code; an ARI request by
its method and path template (`/channels/{id}/play/{id}`), never by an id.

The call path only increments counters. The children of a labelled metric
are looked up in dicts keyed by the raw strings the caller already holds (a
department code, an end reason), so counting a call allocates nothing once
its labels were seen: `labels()` itself takes a lock and builds a tuple.

A top-level module beside `ivr/errors.py`: outside the layers, importable by
every package, importing only prometheus_client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "NATIONAL", "Metrics", "ari_operation", "province_of"]

NATIONAL = "national"
# The label of a code that is not a department's (never expected; bounded anyway).
UNKNOWN = "unknown"
CENTRAL_CODE = "000000"

# Seconds. ARI answers in about a millisecond on loopback; a slow Asterisk in tens.
ARI_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# The watchdog wakes every 50 ms; a healthy loop is a millisecond or two late.
LOOP_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# One batch's transaction: a few ms on a healthy database.
FLUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# The words of ARI's paths (Asterisk's REST API); any other segment is an id.
_ARI_WORDS = frozenset(
    {
        "channels", "bridges", "playbacks", "recordings", "endpoints", "sounds",
        "applications", "asterisk", "deviceStates", "mailboxes", "events",
        "answer", "ring", "dtmf", "mute", "hold", "moh", "silence", "play", "record",
        "variable", "snoop", "dial", "continue", "move", "redirect", "externalMedia",
        "rtp_statistics", "create", "addChannel", "removeChannel", "videoSource",
        "stored", "live", "file", "copy", "stop", "pause", "unmute", "control",
        "info", "ping", "modules", "logging", "rotate", "config", "dynamic",
        "res_pjsip", "eventFilter", "subscription", "sendMessage", "user",
        "endpoint", "aor", "auth",
    }
)
WEBHOOK_OUTCOMES = ("delivered", "retry", "failed")


def province_of(code: str) -> str:
    """The label of department `code`: its province's code, or `national`."""
    if code == CENTRAL_CODE:
        return NATIONAL
    if len(code) != 6 or not code.isdigit():
        return UNKNOWN
    return code[:2] + "0000"


def ari_operation(path: str) -> str:
    """ARI request `path` as a template: `/channels/17.3/play/p1` is
    `/channels/{id}/play/{id}`."""
    return "/".join(
        part if not part or part in _ARI_WORDS else "{id}" for part in path.split("/")
    )


class Metrics:
    """Every metric of one controller, on `registry` (a new one if not given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # -- calls ----------------------------------------------------------------
        self.calls_started = Counter(
            "ivr_calls_started", "Calls this controller opened a record for (routed, "
            "or called back), by the province of the department reached first",
            ["province"], registry=r,
        )
        self.calls_ended = Counter(
            "ivr_calls_ended", "Calls this controller closed, by end reason and the "
            "province of the department the call ended at",
            ["reason", "province"], registry=r,
        )
        self.calls_in_progress = Gauge(
            "ivr_calls_in_progress", "Calls this controller carries now", registry=r
        )
        # -- the operator queue (read from the database at scrape) -----------------
        self.callers_waiting = Gauge(
            "ivr_callers_waiting", "Callers in line for an operator now (waiting or "
            "being put through), by province; the same on every controller",
            ["province"], registry=r,
        )
        self.longest_wait = Gauge(
            "ivr_callers_longest_wait_seconds", "How long the caller longest in line "
            "has waited, by province (0: nobody waits)", ["province"], registry=r,
        )
        self.operators = Gauge(
            "ivr_operators", "Operators by status and province (an operator of "
            "departments in two provinces counts in both)",
            ["province", "status"], registry=r,
        )
        self.operators_unreachable = Gauge(
            "ivr_operators_unreachable", "Operators signed in whose phone no Asterisk "
            "can ring (not registered): offered no calls, by province",
            ["province"], registry=r,
        )
        # -- Asterisk ----------------------------------------------------------------
        self.ari_request_seconds = Histogram(
            "ivr_ari_request_seconds", "ARI requests' time to answer, by method and path "
            "template", ["method", "operation"], buckets=ARI_BUCKETS, registry=r,
        )
        self.ari_request_errors = Counter(
            "ivr_ari_request_errors", "ARI requests refused or unanswered, by method and "
            "path template", ["method", "operation"], registry=r,
        )
        self.ari_connected = Gauge(
            "ivr_ari_connected", "Whether the events connection to each Asterisk this "
            "controller serves is up (1) or not (0), by node name", ["asterisk"], registry=r,
        )
        self.ari_reconnects = Counter(
            "ivr_ari_reconnects", "Events connections to each Asterisk made again after "
            "one was lost", ["asterisk"], registry=r,
        )
        # -- the controller itself ---------------------------------------------------
        self.loop_lag = Histogram(
            "ivr_event_loop_lag_seconds", "How late the event loop woke the watchdog "
            "(every caller waited as long)", buckets=LOOP_LAG_BUCKETS, registry=r,
        )
        self.recorder_queue = Gauge(
            "ivr_recorder_queue_depth", "Call records waiting to be written (queued and "
            "being written)", registry=r,
        )
        self.recorder_flush_seconds = Histogram(
            "ivr_recorder_flush_seconds", "One batch of call records' transaction",
            buckets=FLUSH_BUCKETS, registry=r,
        )
        self.database_errors = Counter(
            "ivr_database_errors", "Errors the database raised to this controller (a lost "
            "connection is kind disconnect)", ["kind"], registry=r,
        )
        self.scrape_errors = Counter(
            "ivr_metrics_scrape_errors", "Scrapes that could not read the database's "
            "gauges (the rest was still served)", registry=r,
        )
        # -- cases and supervision ----------------------------------------------------
        self.cases_opened = Counter(
            "ivr_cases_opened", "Cases registered by this controller, by kind", ["kind"],
            registry=r,
        )
        self.cases_overdue = Gauge(
            "ivr_cases_overdue", "Open cases past their deadline, by province; the same "
            "on every controller", ["province"], registry=r,
        )
        self.escalations = Counter(
            "ivr_escalations", "Escalation steps (督办) this controller wrote", registry=r
        )
        self.webhook_deliveries = Counter(
            "ivr_webhook_deliveries", "Webhook delivery attempts, by outcome: delivered, "
            "retry (failed, tried again later), failed (given up)", ["outcome"], registry=r,
        )
        for outcome in WEBHOOK_OUTCOMES:
            self.webhook_deliveries.labels(outcome)
        for kind in ("error", "disconnect"):
            self.database_errors.labels(kind)
        self._started: dict[str, Counter] = {}
        self._ended: dict[str, dict[str, Counter]] = {}
        self._ari: dict[str, dict[str, tuple[Histogram, Counter]]] = {}
        # The labelled gauges set at scrape time, and the labels each was given:
        # a label that was set once and is absent now reads 0, not stale.
        self._seen: dict[Gauge, set[tuple[str, ...]]] = {}

    # -- the call path: dict lookups and an increment -------------------------------

    def call_started(self, department: str) -> None:
        child = self._started.get(department)
        if child is None:
            child = self._started[department] = self.calls_started.labels(
                province_of(department)
            )
        child.inc()

    def call_ended(self, reason: str, department: str) -> None:
        by_department = self._ended.get(reason)
        if by_department is None:
            by_department = self._ended[reason] = {}
        child = by_department.get(department)
        if child is None:
            child = by_department[department] = self.calls_ended.labels(
                reason, province_of(department)
            )
        child.inc()

    def ari_request(self, method: str, path: str, seconds: float, failed: bool) -> None:
        operation = ari_operation(path)
        by_operation = self._ari.get(method)
        if by_operation is None:
            by_operation = self._ari[method] = {}
        children = by_operation.get(operation)
        if children is None:
            children = by_operation[operation] = (
                self.ari_request_seconds.labels(method, operation),
                self.ari_request_errors.labels(method, operation),
            )
        children[0].observe(seconds)
        if failed:
            children[1].inc()

    # -- scrape time --------------------------------------------------------------

    def by_province(self, gauge: Gauge, counts: Mapping[str, float]) -> None:
        """Set `gauge` (labelled by province alone) from values by department code."""
        totals: dict[tuple[str, ...], float] = {}
        for code, value in counts.items():
            key = (province_of(code),)
            totals[key] = totals.get(key, 0) + value
        self.publish(gauge, totals)

    def longest_by_province(self, gauge: Gauge, values: Mapping[str, float]) -> None:
        """Set `gauge` to the largest of each province's departments' `values`."""
        largest: dict[tuple[str, ...], float] = {}
        for code, value in values.items():
            key = (province_of(code),)
            largest[key] = max(largest.get(key, 0.0), value)
        self.publish(gauge, largest)

    def publish(
        self, gauge: Gauge, values: Mapping[tuple[str, ...], float], *, absent: str = "zero"
    ) -> None:
        """`gauge`'s labelled values now. Labels set before and absent now read
        0 (`absent="zero"`), or are dropped (`"drop"`: a thing no longer there,
        such as a connection this controller no longer serves)."""
        seen = self._seen.setdefault(gauge, set())
        for labels in seen - values.keys():
            if absent == "drop":
                gauge.remove(*labels)
                seen.discard(labels)
            else:
                gauge.labels(*labels).set(0)
        for labels, value in values.items():
            gauge.labels(*labels).set(value)
        seen.update(values.keys())

    def render(self) -> bytes:
        """The text exposition format of everything on the registry."""
        return generate_latest(self.registry)


def operators_by_province(
    operators: Iterable[tuple[str, Iterable[str]]],
) -> dict[tuple[str, ...], float]:
    """(status, departments) of each operator as counts by (province, status);
    an operator counts once per province of their departments."""
    counts: dict[tuple[str, ...], float] = {}
    for status, departments in operators:
        for province in {province_of(code) for code in departments}:
            key = (province, status)
            counts[key] = counts.get(key, 0) + 1
    return counts
