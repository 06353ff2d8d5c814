"""Feedback on assistant messages: rating rules (one per user and message, re-posting
updates), ownership of the conversation and message, analysis per agent, negative samples with
their question and answer, and what deleting a branch or an agent does to feedback."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.asserts import assert_error

API = "/api/v1/feedback"


async def bare_chat(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: Any,
    answer: str,
    question: str = "hi",
) -> Any:
    fake_llm.script([{"content": answer}])
    response = await client.post(
        "/api/v1/agent-chat/bare", json={"message": question}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def agent_chat(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: Any,
    agent_id: str,
    answer: str,
    question: str,
) -> Any:
    fake_llm.script([{"content": answer}])
    response = await client.post(
        f"/api/v1/agent-chat/{agent_id}", json={"message": question}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def rate(
    client: httpx.AsyncClient, headers: dict[str, str], chat: Any, rating: Any, **extra: Any
) -> httpx.Response:
    body = {
        "conversation_id": chat["session_id"],
        "message_id": chat["message_id"],
        "rating": rating,
    }
    return await client.post(API, json={**body, **extra}, headers=headers)


async def test_rate_then_rate_again_updates(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    chat = await bare_chat(client, user_headers, fake_llm, "4")
    first = await rate(
        client, user_headers, chat, "down", comment="wrong", tags=["wrong", "wrong", "slow"]
    )
    assert first.status_code == 201, first.text
    saved = first.json()
    assert saved["score"] == 1 and saved["sentiment"] == "negative" and saved["rating"] == "down"
    assert saved["tags"] == ["wrong", "slow"] and saved["agent_id"] is None
    again = await rate(client, user_headers, chat, 4, comment="fine after all")
    assert again.status_code == 200
    assert again.json()["id"] == saved["id"] and again.json()["score"] == 4
    assert again.json()["sentiment"] == "positive" and again.json()["tags"] == []
    neutral = await rate(client, user_headers, chat, 3)
    assert neutral.json()["sentiment"] == "neutral" and neutral.json()["rating"] == "3"
    analysis = (await client.get(f"{API}/analysis", headers=user_headers)).json()
    assert analysis["total"] == 1 and analysis["neutral"] == 1


async def test_only_own_assistant_messages_can_be_rated(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
) -> None:
    chat = await bare_chat(client, user_headers, fake_llm, "answer")
    assert_error(await rate(client, other_headers, chat, "up"), 404, "CONVERSATION_NOT_FOUND")
    missing = {**chat, "message_id": chat["message_id"] + 1000}
    assert_error(await rate(client, user_headers, missing, "up"), 404, "MESSAGE_NOT_FOUND")
    # A message of another conversation, named with this conversation's id.
    other_chat = await bare_chat(client, user_headers, fake_llm, "second")
    crossed = {**chat, "message_id": other_chat["message_id"]}
    assert_error(await rate(client, user_headers, crossed, "up"), 404, "MESSAGE_NOT_FOUND")
    question = {**chat, "message_id": chat["user_message_id"]}
    assert_error(await rate(client, user_headers, question, "up"), 400, "MESSAGE_NOT_RATABLE")
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "meh"}, {"rating": True}, {"rating": "5"}):
        assert_error(await rate(client, user_headers, chat, **bad), 422, "VALIDATION_ERROR")
    for bad in ({"comment": "c" * 2001}, {"tags": ["t"] * 11}, {"tags": ["t" * 33]}, {"extra": 1}):
        assert_error(await rate(client, user_headers, chat, "up", **bad), 422, "VALIDATION_ERROR")
    assert (
        await client.post(API, json={"conversation_id": "x", "message_id": 1, "rating": "up"})
    ).status_code == 401


async def test_analysis_per_agent_and_negative_samples(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
) -> None:
    agent = await client.post(
        "/api/v1/agents", json={"name": "helper", "system_prompt": "Help."}, headers=user_headers
    )
    agent_id = agent.json()["id"]
    good = await agent_chat(client, user_headers, fake_llm, agent_id, "Paris", "capital of France?")
    bad = await agent_chat(
        client, user_headers, fake_llm, agent_id, "Lyon", "capital of France, again?"
    )
    meh = await agent_chat(client, user_headers, fake_llm, agent_id, "maybe", "is it sunny?")
    bare = await bare_chat(client, user_headers, fake_llm, "5", "2 + 2?")
    assert (await rate(client, user_headers, good, "up", tags=["accurate"])).status_code == 201
    assert (
        await rate(client, user_headers, bad, 1, tags=["wrong", "hallucination"])
    ).status_code == 201
    assert (await rate(client, user_headers, meh, 3, tags=["wrong"])).status_code == 201
    assert (
        await rate(client, user_headers, bare, "down", comment="it is 4", tags=["wrong"])
    ).status_code == 201

    analysis = await client.get(f"{API}/analysis", headers=user_headers)
    assert analysis.status_code == 200, analysis.text
    body = analysis.json()
    assert (body["total"], body["positive"], body["neutral"], body["negative"]) == (4, 1, 1, 2)
    assert body["positive_rate"] == 0.25 and body["scope"] == "own" and body["tag_sample"] == 4
    assert body["top_tags"][0] == {"tag": "wrong", "count": 3}
    helper = next(a for a in body["agents"] if a["agent_id"] == agent_id)
    assert helper["agent_name"] == "helper" and helper["total"] == 3
    assert helper["positive_rate"] == 1 / 3 and helper["avg_score"] == 3.0
    assert helper["top_tags"][0] == {"tag": "wrong", "count": 2}
    bare_row = next(a for a in body["agents"] if a["agent_id"] is None)
    assert bare_row["total"] == 1 and bare_row["negative"] == 1

    samples = await client.get(f"{API}/negative-samples", headers=user_headers)
    assert samples.status_code == 200, samples.text
    items = samples.json()["items"]
    assert samples.json()["total"] == 2
    by_answer = {s["answer"]: s for s in items}
    assert by_answer["Lyon"]["question"] == "capital of France, again?"
    assert by_answer["Lyon"]["tags"] == ["wrong", "hallucination"]
    assert by_answer["5"]["question"] == "2 + 2?" and by_answer["5"]["comment"] == "it is 4"
    only_agent = (
        await client.get(
            f"{API}/negative-samples", params={"agent_id": agent_id}, headers=user_headers
        )
    ).json()
    assert [s["answer"] for s in only_agent["items"]] == ["Lyon"]
    paged = (
        await client.get(
            f"{API}/negative-samples", params={"page_size": 1, "page": 2}, headers=user_headers
        )
    ).json()
    assert len(paged["items"]) == 1 and paged["total"] == 2

    # Scope: Bob sees none of it; an admin sees everything with scope=all.
    assert (await client.get(f"{API}/analysis", headers=other_headers)).json()["total"] == 0
    assert (await client.get(f"{API}/negative-samples", headers=other_headers)).json()["total"] == 0
    forbidden = await client.get(f"{API}/analysis", params={"scope": "all"}, headers=user_headers)
    assert forbidden.status_code == 403
    everyone = await client.get(
        f"{API}/negative-samples", params={"scope": "all"}, headers=admin_headers
    )
    assert everyone.json()["total"] == 2

    # Deleting the agent keeps the feedback, unbound.
    assert (
        await client.delete(f"/api/v1/agents/{agent_id}", headers=user_headers)
    ).status_code == 204
    after = (await client.get(f"{API}/analysis", headers=user_headers)).json()
    assert after["total"] == 4 and [a["agent_id"] for a in after["agents"]] == [None]


async def test_deleting_a_branch_deletes_its_feedback(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    chat = await bare_chat(client, user_headers, fake_llm, "original")
    branch = await client.post(
        "/api/v1/agent-chat/branches",
        json={"session_id": chat["session_id"], "message_id": chat["message_id"]},
        headers=user_headers,
    )
    assert branch.status_code == 201, branch.text
    detail = (
        await client.get(f"/api/v1/agent-chat/branches/{branch.json()['id']}", headers=user_headers)
    ).json()
    copied = next(m for m in detail["messages"] if m["role"] == "assistant")
    branch_chat = {"session_id": branch.json()["id"], "message_id": copied["id"]}
    assert (await rate(client, user_headers, branch_chat, "down")).status_code == 201
    assert (await rate(client, user_headers, chat, "down")).status_code == 201
    deleted = await client.delete(
        f"/api/v1/agent-chat/branches/{branch.json()['id']}", headers=user_headers
    )
    assert deleted.status_code == 204
    samples = (await client.get(f"{API}/negative-samples", headers=user_headers)).json()
    assert [s["conversation_id"] for s in samples["items"]] == [chat["session_id"]]


async def test_bad_query_input_and_no_token(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for path, params in (
        (f"{API}/analysis", {"days": 0}),
        (f"{API}/analysis", {"scope": "mine"}),
        (f"{API}/negative-samples", {"page_size": 101}),
        (f"{API}/negative-samples", {"days": 0}),
        (f"{API}/negative-samples", {"agent_id": "a" * 37}),
    ):
        response = await client.get(path, params=params, headers=user_headers)
        assert_error(response, 422, "VALIDATION_ERROR")
    for path in (f"{API}/analysis", f"{API}/negative-samples"):
        assert (await client.get(path)).status_code == 401
