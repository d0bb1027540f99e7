"""The controller's metrics (ivr/metrics.py) and `GET /metrics` (ivr/admin/metrics.py):
bounded labels, what each part counts, and a scrape as Prometheus reads it."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.admin import metrics as web_metrics
from ivr.admin.keys import CLOCK, CONTROLLER, SESSIONS, SETTINGS
from ivr.cases.escalation import Escalations
from ivr.cases.registry import Cases
from ivr.db.engine import count_errors, make_engine, make_sessionmaker
from ivr.db.recorder import Recorder
from ivr.desk import line_store, operator_store, presence
from ivr.loop_lag import LoopLag
from ivr.metrics import Metrics, ari_operation, province_of
from ivr.settings import REPO_ROOT, Settings
from tests.admin_support import NOW, admin_app, directory

HEFEI, CHANGFENG, SHANGHAI = "340100", "340121", "310000"


def value(metrics: Metrics, name: str, **labels: str) -> float:
    """A sample's value; 0 for one never set (a counter that never moved)."""
    return metrics.registry.get_sample_value(name, labels) or 0.0


def scraped(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A scrape as Prometheus parses it: (sample name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


# Labels ----------------------------------------------------------------------------------


def test_a_department_is_labelled_by_its_province() -> None:
    assert province_of(HEFEI) == province_of(CHANGFENG) == "340000"
    assert province_of("340000") == "340000"
    assert province_of("000000") == "national"
    assert province_of("bogus") == "unknown"
    codes = [d.code for d in directory()]
    assert len(codes) > 3000
    # 31 provinces, the corps and the central department: a few dozen labels.
    assert len({province_of(code) for code in codes}) <= 40


def test_an_ari_request_is_labelled_by_its_path_template_never_an_id() -> None:
    assert ari_operation("/channels/1763892000.11/answer") == "/channels/{id}/answer"
    assert (
        ari_operation("/channels/1763892000.11/play/1763892000.11-p3")
        == "/channels/{id}/play/{id}"
    )
    assert ari_operation("/playbacks/x-p1") == "/playbacks/{id}"
    assert ari_operation("/recordings/stored/msg-1%2Fa/file") == "/recordings/stored/{id}/file"
    assert ari_operation("/applications/ivr12371/eventFilter") == "/applications/{id}/eventFilter"
    assert (
        ari_operation("/asterisk/config/dynamic/res_pjsip/endpoint/op1")
        == "/asterisk/config/dynamic/res_pjsip/endpoint/{id}"
    )
    assert ari_operation("/channels") == "/channels"


def test_calls_are_counted_by_province_and_end_reason() -> None:
    metrics = Metrics()
    metrics.call_started(HEFEI)
    metrics.call_started(CHANGFENG)
    metrics.call_started("000000")
    metrics.call_ended("caller_hangup", CHANGFENG)
    metrics.call_ended("caller_hangup", HEFEI)
    metrics.call_ended("invalid_input", "000000")
    assert value(metrics, "ivr_calls_started_total", province="340000") == 2
    assert value(metrics, "ivr_calls_started_total", province="national") == 1
    ended = "ivr_calls_ended_total"
    assert value(metrics, ended, reason="caller_hangup", province="340000") == 2
    assert value(metrics, ended, reason="invalid_input", province="national") == 1
    assert value(metrics, ended, reason="invalid_input", province="340000") == 0


def test_two_apps_in_one_process_count_apart() -> None:
    one, other = Metrics(), Metrics()
    one.call_started(HEFEI)
    assert value(one, "ivr_calls_started_total", province="340000") == 1
    assert value(other, "ivr_calls_started_total", province="340000") == 0


def test_a_gauge_set_at_scrape_reads_zero_once_its_province_is_gone() -> None:
    metrics = Metrics()
    metrics.by_province(metrics.callers_waiting, {HEFEI: 2, CHANGFENG: 1, SHANGHAI: 1})
    assert value(metrics, "ivr_callers_waiting", province="340000") == 3
    metrics.by_province(metrics.callers_waiting, {SHANGHAI: 4})
    assert value(metrics, "ivr_callers_waiting", province="340000") == 0
    assert value(metrics, "ivr_callers_waiting", province="310000") == 4


def test_a_connection_no_longer_served_leaves_the_scrape() -> None:
    metrics = Metrics()
    metrics.publish(metrics.ari_connected, {("c1@a",): 1, ("c2@a",): 1}, absent="drop")
    metrics.publish(metrics.ari_connected, {("c1@a",): 1}, absent="drop")
    assert value(metrics, "ivr_ari_connected", asterisk="c1@a") == 1
    # Not 0: a takeover that ended is not an Asterisk that went away.
    assert metrics.registry.get_sample_value("ivr_ari_connected", {"asterisk": "c2@a"}) is None


def test_the_event_loops_lag_is_observed() -> None:
    metrics = Metrics()
    watchdog = LoopLag(warn_ms=1000, metrics=metrics)
    watchdog.observe(3.0, now=1.0)
    watchdog.observe(300.0, now=2.0)
    assert value(metrics, "ivr_event_loop_lag_seconds_count") == 2
    assert value(metrics, "ivr_event_loop_lag_seconds_bucket", le="0.005") == 1
    assert value(metrics, "ivr_event_loop_lag_seconds_sum") == pytest.approx(0.303)


# What the parts count, on both databases -------------------------------------------------


async def test_the_recorders_queue_and_flushes(db_engine: AsyncEngine) -> None:
    metrics = Metrics()
    recorder = Recorder(db_engine, flush_interval=0.01, metrics=metrics)
    recorder.call_started(
        "call-1", sip_call_id=None, node="n", caller="1", dialed="12371",
        department_code=HEFEI, department_name="合肥", route_rule="default", route_read="",
        started_at=NOW,
    )
    recorder.step("call-1", NOW, "note", "x")
    # Read at scrape time: what waits now.
    assert value(metrics, "ivr_recorder_queue_depth") == 2
    await recorder.start()
    try:
        await recorder.flush()
    finally:
        await recorder.stop()
    assert value(metrics, "ivr_recorder_queue_depth") == 0
    assert value(metrics, "ivr_recorder_flush_seconds_count") >= 1


async def test_database_errors_are_counted(db_engine: AsyncEngine) -> None:
    metrics = Metrics()
    count_errors(db_engine, metrics)
    async with db_engine.connect() as connection:
        with pytest.raises(DBAPIError):
            await connection.execute(text("SELECT * FROM no_such_table"))
    assert value(metrics, "ivr_database_errors_total", kind="error") == 1
    assert value(metrics, "ivr_database_errors_total", kind="disconnect") == 0


async def test_a_case_is_counted_once_however_many_controllers_race_for_it(
    db_engine: AsyncEngine,
) -> None:
    metrics = Metrics()
    cases = Cases(make_sessionmaker(db_engine), directory(), lambda: NOW, metrics=metrics)
    fields: dict[str, Any] = {
        "source": "msg-race", "kind": "message", "department": HEFEI, "category": "dues",
        "caller": "055162345678", "call_id": "call-race", "recording": "msg-race",
    }
    await asyncio.gather(*(cases.register(**fields) for _ in range(4)))
    assert value(metrics, "ivr_cases_opened_total", kind="message") == 1
    # Every kind is there from the start, at 0.
    assert value(metrics, "ivr_cases_opened_total", kind="callback") == 0
    assert metrics.registry.get_sample_value("ivr_cases_opened_total", {"kind": "call"}) == 0


async def test_escalations_written_are_counted(db_engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(db_engine)
    metrics = Metrics()
    cases = Cases(sessions, directory(), lambda: NOW)
    await cases.register(
        source="msg-late", kind="message", department=HEFEI, category="dues",
        caller="055162345678", call_id="call-late", recording="msg-late",
        at=NOW - timedelta(days=30),
    )
    escalations = Escalations(sessions, directory(), lambda: NOW, metrics=metrics)
    assert await escalations.run() == 1
    assert await escalations.run() == 0  # written once
    assert value(metrics, "ivr_escalations_total") == 1


# GET /metrics ------------------------------------------------------------------------------


async def test_a_scrape_needs_no_session_and_reads_the_present(
    tmp_path: Path, database_url: str
) -> None:
    async with admin_app(tmp_path, database_url) as admin:
        async with admin.sessions() as session, session.begin():
            for operator_id, departments in (("op1", [HEFEI]), ("op2", [CHANGFENG, SHANGHAI])):
                await operator_store.add_operator(
                    session, directory(), operator_id, name=operator_id,
                    endpoint=f"ep-{operator_id}", departments=departments, at=NOW,
                )
            await operator_store.act(session, "op1", "sign_in", NOW)
            # op1's phone is registered nowhere: signed in, and unreachable.
            await presence.record(session, "ast1", {"ep-op1": ("offline", NOW)})
            await presence.record(session, "ast1", {"ep-op2": ("offline", NOW)})  # signed out
            await line_store.join(session, "c1", HEFEI, "n", "1", NOW - timedelta(seconds=90))
            await line_store.join(session, "c2", CHANGFENG, "n", "2", NOW - timedelta(seconds=30))
        cases = Cases(admin.sessions, directory(), admin.clock)
        await cases.register(
            source="msg-old", kind="message", department=CHANGFENG, category="dues",
            caller="055162345678", call_id="call-old", recording="msg-old",
            at=NOW - timedelta(days=30),
        )
        admin.app[CONTROLLER].calls.update({"a": object(), "b": object()})  # type: ignore[attr-defined]
        client = await admin.client()  # nobody signed in
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        samples = scraped(await response.text())

    def at(name: str, **labels: str) -> float | None:
        return samples.get((name, frozenset(labels.items())))

    assert at("ivr_calls_in_progress") == 2
    assert at("ivr_ari_connected", asterisk="test") == 0  # the test's ARI never connects
    assert at("ivr_callers_waiting", province="340000") == 2
    assert at("ivr_callers_longest_wait_seconds", province="340000") == 90
    assert at("ivr_operators", province="340000", status="available") == 1
    # op2 is of Anhui and Shanghai: counted in each.
    assert at("ivr_operators", province="340000", status="signed_out") == 1
    assert at("ivr_operators", province="310000", status="signed_out") == 1
    assert at("ivr_cases_overdue", province="340000") == 1
    assert at("ivr_operators_unreachable", province="340000") == 1
    assert at("ivr_operators_unreachable", province="310000") == 0
    # A quiet province reads 0, not nothing.
    assert at("ivr_callers_waiting", province="650000") == 0
    assert at("ivr_operators", province="national", status="busy") == 0
    assert at("ivr_cases_overdue", province="310000") == 0
    assert at("ivr_metrics_scrape_errors_total") == 0
    # Nothing labelled by a department's own code.
    assert not [key for key in samples if ("province", HEFEI) in key[1]]


# Nothing listens on port 1: connecting is refused at once.
UNREACHABLE_DATABASE = "postgresql+asyncpg://ivr@127.0.0.1:1/ivr"


async def _bare_app(settings: Settings) -> TestClient[Any, Any]:
    """An app with /metrics alone, on a database that cannot be reached."""
    app = web.Application()
    app[SETTINGS] = settings
    app[CLOCK] = lambda: NOW
    engine = make_engine(UNREACHABLE_DATABASE)
    app[SESSIONS] = make_sessionmaker(engine)

    async def dispose(app: web.Application) -> None:
        await engine.dispose()

    app.on_cleanup.append(dispose)
    app[CONTROLLER] = type("Calls", (), {"calls": {}})()
    web_metrics.add_route(app)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_a_scrape_through_a_proxy_or_from_elsewhere_is_refused(tmp_path: Path) -> None:
    client = await _bare_app(Settings(state_dir=tmp_path))
    try:
        for header in ("X-Forwarded-For", "Forwarded"):
            response = await client.get("/metrics", headers={header: "203.0.113.9"})
            assert response.status == 403
    finally:
        await client.close()
    client = await _bare_app(Settings(state_dir=tmp_path, metrics_networks="10.0.0.0/8"))
    try:
        assert (await client.get("/metrics")).status == 403  # the test client is 127.0.0.1
    finally:
        await client.close()


async def test_a_database_that_cannot_be_read_still_gets_a_scrape(tmp_path: Path) -> None:
    client = await _bare_app(Settings(state_dir=tmp_path))
    try:
        response = await client.get("/metrics")
        assert response.status == 200
        samples = scraped(await response.text())
        assert samples[("ivr_metrics_scrape_errors_total", frozenset())] == 1
        assert samples[("ivr_calls_in_progress", frozenset())] == 0
    finally:
        await client.close()


def test_a_bad_network_is_refused_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'lan' is not a network"):
        Settings(state_dir=tmp_path, metrics_networks="127.0.0.1,lan")


# The Grafana dashboard (docs/grafana-dashboard.json) ---------------------------------------

DASHBOARD = REPO_ROOT / "docs" / "grafana-dashboard.json"
_METRIC_NAME = re.compile(r"\b(?:ivr|asterisk)_[a-z0-9_]+")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def dashboard_metric_names() -> dict[str, set[str]]:
    """Every metric name the dashboard's queries use, by family: ivr, asterisk."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    names = {name for expr in exprs for name in _METRIC_NAME.findall(expr)}
    return {
        "ivr": {n for n in names if n.startswith("ivr_")},
        "asterisk": {n for n in names if n.startswith("asterisk_")},
    }


def test_the_dashboard_queries_only_metrics_the_controller_has() -> None:
    names = dashboard_metric_names()
    assert names["ivr"] and names["asterisk"], "the dashboard uses both"
    exported = {
        family.name + suffix
        for family in Metrics().registry.collect()
        for suffix in _SUFFIXES[family.type]
    }
    assert names["ivr"] <= exported, names["ivr"] - exported
