"""The fault tests' fixtures."""

from __future__ import annotations

import pytest

from tests.faults.ledger import Budget


@pytest.fixture()
def budget(request: pytest.FixtureRequest) -> Budget:
    """The test's time (its ``pytest.mark.timeout``); ask for it first, before the fixtures
    that start services, so that it counts from the test's start as pytest-timeout does."""
    return Budget.of(request)
