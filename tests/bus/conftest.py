from __future__ import annotations

from collections.abc import AsyncIterator

import pytest


@pytest.fixture(autouse=True)
async def clean_state() -> AsyncIterator[None]:
    """The bus touches no database: skip the suite-wide table cleanup."""
    yield
