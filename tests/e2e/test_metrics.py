"""Metrics after real calls: the controller's `GET /metrics` moves by exactly
the calls made, Asterisk's res_prometheus answers, and the Grafana dashboard
asks for nothing the two do not export."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import Counter

import pytest

from devtools.sipcall import CallPlan, presses
from ivr.metrics import province_of
from tests.test_metrics import dashboard_metric_names

from .harness import Platform, invalid_keys

pytestmark = pytest.mark.e2e

IDLE_WAIT_S = 30.0
EARLY_S = 1.5
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """The text exposition format as Prometheus stores it: names as written
    (prometheus_client's own parser renames Asterisk's counters)."""
    samples: Samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name, _, rest = series.partition("{")
        labels = frozenset(
            (key, raw.strip('"'))
            for key, _, raw in (
                pair.partition("=") for pair in _label_pairs(rest.rstrip("}"))
            )
        )
        samples[(name, labels)] = float(value)
    return samples


def _label_pairs(text: str) -> list[str]:
    """`a="x",b="y, z"` split at the commas between labels, not inside values."""
    pairs, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            pairs.append(current)
            current = ""
        else:
            current += char
    return [pair for pair in [*pairs, current] if pair]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return str(response.read().decode())


def controller_scrape(platform: Platform) -> Samples:
    return parse(get(f"http://127.0.0.1:{platform.settings.http_port}/metrics"))


def asterisk_scrape(platform: Platform) -> Samples:
    return parse(get(f"http://127.0.0.1:{platform.settings.ari_port}/metrics"))


def by(samples: Samples, name: str, *labels: str) -> Counter[tuple[str, ...]]:
    """A counter's samples by the values of `labels`."""
    counts: Counter[tuple[str, ...]] = Counter()
    for (sample, pairs), value in samples.items():
        if sample == name:
            found = dict(pairs)
            counts[tuple(found[label] for label in labels)] += int(value)
    return counts


def wait_idle(platform: Platform) -> Samples:
    """A scrape once the controller carries no call (an earlier test's last
    call may still be ending)."""
    deadline = time.monotonic() + IDLE_WAIT_S
    while True:
        samples = controller_scrape(platform)
        if samples[("ivr_calls_in_progress", frozenset())] == 0:
            return samples
        assert time.monotonic() < deadline, "calls still in progress"
        time.sleep(0.2)


async def test_the_call_counters_move_by_exactly_the_calls_made(platform: Platform) -> None:
    before = wait_idle(platform)
    plans = [
        CallPlan(caller="055162345678", actions=presses(hangup_at_s=3.0)),  # Hefei
        CallPlan(caller="02154321000", actions=presses(hangup_at_s=3.0)),  # Shanghai
        CallPlan(caller="01065432100", actions=presses(hangup_at_s=3.0)),  # central
        # 长丰县 by the carrier's origin; three invalid keys end it.
        CallPlan(caller="055162345678", origin="340121", actions=invalid_keys(EARLY_S)),
    ]
    results = await asyncio.gather(*(platform.call(plan) for plan in plans))
    records = [record for _, record in results]
    assert all(record is not None for record in records)
    after = wait_idle(platform)

    started = by(after, "ivr_calls_started_total", "province")
    started.subtract(by(before, "ivr_calls_started_total", "province"))
    ended = by(after, "ivr_calls_ended_total", "reason", "province")
    ended.subtract(by(before, "ivr_calls_ended_total", "reason", "province"))
    assert +started == Counter({("340000",): 2, ("310000",): 1, ("national",): 1})
    assert +ended == Counter(
        {
            ("caller_hangup", "340000"): 1,
            ("caller_hangup", "310000"): 1,
            ("caller_hangup", "national"): 1,
            ("invalid_input", "340000"): 1,
        }
    )
    # As the records say, call by call.
    assert +ended == Counter(
        (r["end_reason"], province_of(r["department_code"])) for r in records if r
    )
    assert after[("ivr_ari_connected", frozenset({("asterisk", "e2e")}))] == 1


async def test_asterisk_serves_its_own_metrics(platform: Platform) -> None:
    before = asterisk_scrape(platform)
    names = {name for name, _ in before}
    assert {"asterisk_core_uptime_seconds", "asterisk_channels_count"} <= names
    plan = CallPlan(caller="02154321000", actions=presses(hangup_at_s=3.0))
    _, record = await platform.call(plan)
    assert record is not None
    platform.wait_no_channels()
    after = asterisk_scrape(platform)
    calls = [key for key in after if key[0] == "asterisk_calls_sum"]
    assert calls and after[calls[0]] >= before[calls[0]] + 1
    assert after[("asterisk_channels_count", calls[0][1])] == 0


async def test_the_dashboard_asks_only_for_what_a_scrape_has(platform: Platform) -> None:
    # After a call, so that the request histograms have their series.
    await platform.call(CallPlan(caller="02154321000", actions=presses(hangup_at_s=2.0)))
    scraped = {name for name, _ in controller_scrape(platform)}
    scraped |= {name for name, _ in asterisk_scrape(platform)}
    wanted = dashboard_metric_names()
    missing = (wanted["ivr"] | wanted["asterisk"]) - scraped
    assert not missing, f"the dashboard asks for metrics no scrape has: {sorted(missing)}"
