"""Fixtures for notification tests: a local HTTP receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notify.receiver import Receiver, running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 that answers 200 until told otherwise."""
    yield from running(Receiver())
