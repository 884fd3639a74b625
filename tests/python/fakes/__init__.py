"""Fake Knowlarity and Graph servers for tests (`from fakes import fake_graph` registers the
fixture in a test module; or use `with FakeGraph(...) as graph:` directly)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.graph import FakeGraph
from fakes.knowlarity import FakeKnowlarity


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        yield server


@pytest.fixture
def fake_knowlarity() -> Iterator[FakeKnowlarity]:
    with FakeKnowlarity() as server:
        yield server


__all__ = ["FakeGraph", "FakeKnowlarity", "fake_graph", "fake_knowlarity"]
