"""The agent swarm: parallel, sequential and debate runs over the fake LLM, as JSON and SSE."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import parse_sse
from tiangong.db.engine import session_factory
from tiangong.llm_logs.models import LLMCallLog
from tiangong.llm_logs.recorder import flush as flush_llm_logs

AGENTS = "/api/v1/agents"
RUN = "/api/v1/swarm/run"
STREAM = "/api/v1/swarm/run/stream"


async def _agent(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    response = await client.post(
        AGENTS, json={"name": name, "system_prompt": f"You are {name}."}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _agents(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> list[str]:
    return [await _agent(client, headers, f"agent{i}") for i in range(n)]


def _last_user(request: dict[str, Any]) -> str:
    return str([m for m in request["messages"] if m["role"] == "user"][-1]["content"])


async def test_parallel_run_merges_every_answer(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    ids = await _agents(client, user_headers, 3)
    usage = {"prompt_tokens": 10, "completion_tokens": 3}
    fake_llm.script(
        [
            {"match": "综合", "content": "FINAL", "usage": usage},
            {"content": "alpha", "usage": usage},
            {"content": "beta", "usage": usage},
            {"content": "gamma", "usage": usage},
        ]
    )
    body = {"task": "How many moons?", "agent_ids": ids, "mode": "parallel"}
    response = await client.post(RUN, json=body, headers=user_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "complete" and result["final_answer"] == "FINAL"
    answers = [c for c in result["contributions"] if c["role"] == "answer"]
    assert sorted(c["content"] for c in answers) == ["alpha", "beta", "gamma"]
    assert sorted(c["agent_id"] for c in answers) == sorted(ids)
    synthesis = result["contributions"][-1]
    # Without a synthesiser the first agent merges; it sees every answer.
    assert (synthesis["role"], synthesis["agent_id"]) == ("synthesis", ids[0])
    assert result["synthesizer_agent_id"] == ids[0]
    merged_prompt = _last_user(fake_llm.requests[-1])
    assert all(word in merged_prompt for word in ("alpha", "beta", "gamma", "How many moons?"))
    assert result["token_usage"]["completion_tokens"] == 12
    assert result["token_usage"]["prompt_tokens"] == 40
    assert all(c["session_id"] for c in result["contributions"])
    # Each step is logged like a chat call, under its agent.
    await flush_llm_logs()
    async with session_factory()() as session:
        logged = (await session.execute(select(LLMCallLog.agent_id))).scalars().all()
    assert sorted(logged) == sorted([*ids, ids[0]])


async def test_sequential_run_builds_on_the_previous_answer(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    ids = await _agents(client, user_headers, 3)
    fake_llm.script(
        [{"content": "draft one"}, {"content": "draft two"}, {"content": "final three"}]
    )
    body = {"task": "Write a haiku", "agent_ids": ids, "mode": "sequential"}
    result = (await client.post(RUN, json=body, headers=user_headers)).json()
    assert result["status"] == "complete"
    assert [c["agent_id"] for c in result["contributions"]] == ids
    assert [c["role"] for c in result["contributions"]] == ["answer", "revision", "revision"]
    assert result["final_answer"] == "final three"
    assert result["synthesizer_agent_id"] is None and result["rounds"] == 3
    prompts = [_last_user(r) for r in fake_llm.requests]
    assert prompts[0] == "Write a haiku"
    assert "draft one" in prompts[1] and "draft two" in prompts[2]


async def test_debate_runs_rounds_of_critique_then_a_synthesis(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    ids = await _agents(client, user_headers, 2)
    judge = await _agent(client, user_headers, "judge")
    fake_llm.script(
        [
            {"match": "综合", "content": "VERDICT"},
            {"match": "错误和遗漏", "content": "revised", "times": 4},
            {"content": "opening A"},
            {"content": "opening B"},
        ]
    )
    body = {
        "task": "Tabs or spaces?",
        "agent_ids": ids,
        "mode": "debate",
        "max_rounds": 3,
        "synthesizer_agent_id": judge,
    }
    result = (await client.post(RUN, json=body, headers=user_headers)).json()
    assert result["status"] == "complete" and result["final_answer"] == "VERDICT"
    roles = [(c["round"], c["role"]) for c in result["contributions"]]
    assert sorted(roles) == [
        (1, "answer"),
        (1, "answer"),
        (2, "critique"),
        (2, "critique"),
        (3, "critique"),
        (3, "critique"),
        (4, "synthesis"),
    ]
    assert result["contributions"][-1]["agent_id"] == judge and result["rounds"] == 3
    critiques = [_last_user(r) for r in fake_llm.requests if "错误和遗漏" in _last_user(r)]
    # In round 2 each agent sees the other's opening.
    assert any("opening A" in p and "opening B" in p for p in critiques)


async def test_a_failing_agent_is_an_error_entry_and_the_rest_go_on(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    good, bad = await _agents(client, user_headers, 2)
    await client.post(f"{AGENTS}/{bad}/deploy", headers=user_headers)
    stopped = await client.post(f"{AGENTS}/{bad}/stop", headers=user_headers)
    assert stopped.status_code == 200, stopped.text
    fake_llm.script([{"match": "综合", "content": "merged"}, {"content": "good answer"}])
    body = {"task": "Go", "agent_ids": [good, bad], "synthesizer_agent_id": good}
    result = (await client.post(RUN, json=body, headers=user_headers)).json()
    by_agent = {c["agent_id"]: c for c in result["contributions"] if c["role"] == "answer"}
    assert by_agent[bad]["status"] == "failed"
    assert by_agent[bad]["error"].startswith("AGENT_STOPPED")
    assert by_agent[good]["status"] == "complete"
    assert result["status"] == "complete" and result["final_answer"] == "merged"


async def test_a_model_failure_is_an_error_entry_not_a_500(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    ids = await _agents(client, user_headers, 2)
    fake_llm.script([{"fault": "500", "times": 20}])
    response = await client.post(RUN, json={"task": "Go", "agent_ids": ids}, headers=user_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "failed" and result["final_answer"] == ""
    assert result["error"].startswith("SWARM_FAILED")
    assert [c["status"] for c in result["contributions"]] == ["failed", "failed"]
    assert all(c["error"] for c in result["contributions"])


async def test_stream_emits_typed_events_per_agent(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    ids = await _agents(client, user_headers, 2)
    fake_llm.script(
        [
            {"match": "综合", "content": "the merged answer", "chunk_size": 4},
            {"content": "first answer", "chunk_size": 3},
            {"content": "second answer", "chunk_size": 3},
        ]
    )
    body = {"task": "Stream it", "agent_ids": ids}
    response = await client.post(STREAM, json=body, headers=user_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-2:] == ["final", "done"]
    assert events[0][1]["agent_ids"] == ids
    assert names.count("agent_start") == names.count("agent_done") == 3
    tokens: dict[str, str] = {}
    for name, data in events:
        if name == "token" and data["role"] == "answer":
            tokens[data["agent_id"]] = tokens.get(data["agent_id"], "") + data["text"]
    assert sorted(tokens.values()) == ["first answer", "second answer"]
    assert set(tokens) == set(ids)
    assert events[-2][1] == {"final_answer": "the merged answer", "agent_id": ids[0]}
    done = events[-1][1]
    assert done["final_answer"] == "the merged answer" and len(done["contributions"]) == 3


async def test_stream_ends_with_error_when_every_agent_fails(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    ids = await _agents(client, user_headers, 2)
    fake_llm.script([{"fault": "500", "times": 20}])
    response = await client.post(STREAM, json={"task": "x", "agent_ids": ids}, headers=user_headers)
    events = parse_sse(response.text)
    assert events[-1][0] == "error" and events[-1][1]["code"] == "SWARM_FAILED"
    failed = [data for name, data in events if name == "agent_done"]
    assert len(failed) == 2 and all(d["status"] == "failed" for d in failed)


@pytest.mark.parametrize(
    "change",
    [
        {"agent_ids": ["only-one"]},
        {"agent_ids": [f"a{i}" for i in range(11)]},
        {"agent_ids": ["same", "same"]},
        {"mode": "chaos"},
        {"max_rounds": 0},
        {"max_rounds": 6},
        {"task": ""},
        {"task": "x" * 8001},
    ],
)
async def test_bad_requests_are_422(
    client: httpx.AsyncClient, user_headers: dict[str, str], change: dict[str, Any]
) -> None:
    body = {"task": "t", "agent_ids": ["a", "b"], **change}
    for path in (RUN, STREAM):
        response = await client.post(path, json=body, headers=user_headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "VALIDATION_ERROR"


async def test_needs_a_token_and_visible_agents(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: Any,
) -> None:
    mine = await _agents(client, user_headers, 2)
    theirs = await _agent(client, other_headers, "bobs")
    body = {"task": "t", "agent_ids": mine}
    assert (await client.post(RUN, json=body)).status_code == 401
    assert (await client.post(STREAM, json=body)).status_code == 401
    for path in (RUN, STREAM):
        mixed = {"task": "t", "agent_ids": [mine[0], theirs]}
        response = await client.post(path, json=mixed, headers=user_headers)
        assert response.status_code == 404 and response.json()["error"] == "AGENT_NOT_FOUND"
        other_synth = {**body, "synthesizer_agent_id": theirs}
        response = await client.post(path, json=other_synth, headers=user_headers)
        assert response.status_code == 404 and response.json()["error"] == "AGENT_NOT_FOUND"
        # Bob cannot run Alice's agents either.
        response = await client.post(path, json=body, headers=other_headers)
        assert response.status_code == 404
