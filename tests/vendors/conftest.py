"""Fixtures shared by the vendor tests."""
from __future__ import annotations

import pytest

from vectis.vendors import simkit


@pytest.fixture
def exchanges() -> list[simkit.Exchange]:
    """Every exchange any simulator answers during the test, in order."""
    seen: list[simkit.Exchange] = []
    simkit.EXCHANGE_OBSERVERS.append(seen.append)
    yield seen
    simkit.EXCHANGE_OBSERVERS.remove(seen.append)
