"""Fixtures for builtin tool tests. Tools here touch no database or cache."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest


@pytest.fixture(autouse=True)
async def clean_state() -> AsyncIterator[None]:
    """Skip the suite-wide table cleanup: there are no rows to clean."""
    yield
