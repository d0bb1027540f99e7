"""`GET /metrics`: the controller's metrics in Prometheus's text format.

No sign-in (a scraper has no session), and not under `/api/`, so neither
the session middleware nor the OpenAPI document sees it. Only clients from
IVR_METRICS_NETWORKS (loopback by default) are answered, and never a
request that came through a proxy (one naming its origin in `Forwarded` or
`X-Forwarded-For`): an admin web opened to the world through a reverse
proxy does not open the metrics with it.

The counters are counted where things happen (`ivr/metrics.py` says where);
the gauges that describe the present are set here, at each scrape, before
rendering: this controller's calls in progress and ARI connections, and
from the database (the
same on every controller of a cluster) the callers on hold and the longest
wait, operators by status, and overdue cases, by province. A database that
cannot be read within IVR_METRICS_READ_TIMEOUT leaves those as last read
and counts `ivr_metrics_scrape_errors_total`: the scrape still answers,
which is when it matters most.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from datetime import datetime

from aiohttp import web

from ivr.admin.keys import ARI, CLOCK, CONTROLLER, DIRECTORY, METRICS, SESSIONS, SETTINGS
from ivr.cases import rules
from ivr.cases import store as cases_store
from ivr.desk import line_store, operator_store
from ivr.desk.operators import STATUSES
from ivr.desk.presence import overall_state, phones_seen
from ivr.metrics import CONTENT_TYPE_LATEST, Metrics, operators_by_province, province_of

log = logging.getLogger(__name__)

PATH = "/metrics"
_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_NETWORKS: web.AppKey[tuple[Network, ...]] = web.AppKey("metrics_networks")


def add_route(app: web.Application) -> None:
    """`GET /metrics` on `app`, with the app's metrics (a new set if the
    composition root gave none)."""
    if METRICS not in app:
        app[METRICS] = Metrics()
    networks = app[SETTINGS].metrics_networks.split(",")
    app[_NETWORKS] = tuple(
        ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip()
    )
    app.router.add_get(PATH, scrape)


async def scrape(request: web.Request) -> web.Response:
    if not _allowed(request):
        raise web.HTTPForbidden(
            text="metrics are answered only to IVR_METRICS_NETWORKS, never through a proxy\n"
        )
    app = request.app
    metrics = app[METRICS]
    metrics.calls_in_progress.set(len(app[CONTROLLER].calls))
    # What this controller serves now: a connection given up (a takeover
    # ended) is gone from the scrape, not shown as down.
    asterisks = app.get(ARI)
    connections = asterisks.connections if asterisks is not None else {}
    metrics.publish(
        metrics.ari_connected,
        {(name,): float(up) for name, up in connections.items()},
        absent="drop",
    )
    try:
        async with asyncio.timeout(app[SETTINGS].metrics_read_timeout):
            await _from_database(app, metrics, app[CLOCK]())
    except Exception as exc:  # the database's trouble must not hide the rest
        log.warning("metrics: the database's gauges not read (%r); served as last read", exc)
        metrics.scrape_errors.inc()
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _allowed(request: web.Request) -> bool:
    if any(header in request.headers for header in _PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    return any(address in network for network in request.app[_NETWORKS])


async def _from_database(app: web.Application, metrics: Metrics, now: datetime) -> None:
    async with app[SESSIONS]() as session:
        on_hold = await line_store.on_hold(session)
        operators = await operator_store.list_operators(session)
        phones = await phones_seen(session)
        overdue = await cases_store.late_counts(session, rules.OPEN, now)
    # Every province reads 0 rather than nothing: a dashboard shows a quiet
    # province as quiet, and an alert's series never vanishes.
    every: dict[str, float] = dict.fromkeys(_province_codes(app), 0)
    waiting = {c: float(n) for c, (n, _) in on_hold.items()}
    metrics.by_province(metrics.callers_waiting, every | waiting)
    longest = {c: max(0.0, (now - first).total_seconds()) for c, (_, first) in on_hold.items()}
    metrics.longest_by_province(metrics.longest_wait, every | longest)
    staff: dict[tuple[str, ...], float] = {
        (province_of(code), status): 0.0 for code in every for status in STATUSES
    }
    staff |= operators_by_province((o.status, o.departments) for o in operators)
    metrics.publish(metrics.operators, staff)
    # Signed in, but no Asterisk can ring their phone.
    unreachable = [
        ("unreachable", o.departments)
        for o in operators
        if o.status != "signed_out" and overall_state(phones.get(o.endpoint, {})) == "offline"
    ]
    lost: dict[tuple[str, ...], float] = {(province_of(code),): 0.0 for code in every}
    lost |= {(key[0],): n for key, n in operators_by_province(unreachable).items()}
    metrics.publish(metrics.operators_unreachable, lost)
    metrics.by_province(metrics.cases_overdue, every | {c: float(n) for c, n in overdue.items()})


def _province_codes(app: web.Application) -> list[str]:
    """The central department's code and every province's: one of each label."""
    directory = app.get(DIRECTORY)
    if directory is None:
        return []
    return [directory.default.code, *(d.code for d in directory.provinces())]
