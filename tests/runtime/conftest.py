"""Fixtures for runtime-engine tests: one fake LLM per run, reset before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tiangong.runtime.llm import LLMCallRecord, OpenAICompatibleModel
from tiangong.testing.fake_llm import FakeLLM

RUNTIME_KEY = "sk-runtime-test-5f1c2a9e7b"


@pytest.fixture(autouse=True)
def clean_state() -> None:
    """Runtime engines touch no database or cache, so skip the suite-wide table cleanup."""


@pytest.fixture(scope="session")
def llm_server() -> Iterator[FakeLLM]:
    with FakeLLM(api_key=RUNTIME_KEY) as server:
        yield server


@pytest.fixture
def fake(llm_server: FakeLLM) -> FakeLLM:
    llm_server.reset()
    return llm_server


@pytest.fixture
def calls() -> list[LLMCallRecord]:
    return []


ModelFactory = Callable[..., OpenAICompatibleModel]


@pytest.fixture
async def make_model(fake: FakeLLM, calls: list[LLMCallRecord]) -> AsyncIterator[ModelFactory]:
    """Models pointed at the fake, with tiny backoffs so retry tests stay fast."""
    made: list[OpenAICompatibleModel] = []

    async def record(call: LLMCallRecord) -> None:
        calls.append(call)

    def factory(**overrides: Any) -> OpenAICompatibleModel:
        options: dict[str, Any] = {
            "base_url": fake.base_url,
            "api_key": RUNTIME_KEY,
            "timeout_s": 5.0,
            "backoff_base_s": 0.01,
            "backoff_max_s": 0.05,
            "on_call": record,
        }
        options.update(overrides)
        model = OpenAICompatibleModel(**options)
        made.append(model)
        return model

    yield factory
    for model in made:
        await model.aclose()
