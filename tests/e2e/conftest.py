"""The end-to-end session: one real platform shared by every e2e test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Platform, start_platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    platform = start_platform(tmp_path_factory.mktemp("platform"))
    try:
        yield platform
    finally:
        platform.stop()
