from collections.abc import AsyncIterator

import pytest


@pytest.fixture(autouse=True)
async def clean_state() -> AsyncIterator[None]:
    yield
