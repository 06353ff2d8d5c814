"""Fixtures for the RAG engine tests: pure runtime code, no database or cache to clean."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest


@pytest.fixture(autouse=True)
async def clean_state() -> AsyncIterator[None]:
    yield
