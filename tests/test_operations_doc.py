"""docs/operations.md's alert rules name metrics the controller exports."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry

from ivr.metrics import Metrics
from ivr.settings import REPO_ROOT

SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def test_every_metric_the_operations_doc_uses_is_exported() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    exported = {metric.name for metric in registry.collect()}
    text = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    used = set(re.findall(r"\bivr_[a-z_]+", text))
    assert used, "the doc's rules name no metric"
    unknown = set()
    for name in used:
        base = name
        for suffix in SUFFIXES:
            base = base.removesuffix(suffix)
        if name not in exported and base not in exported:
            unknown.add(name)
    assert unknown == set()
