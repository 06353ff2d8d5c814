"""/agent-monitoring: call totals and percentiles, the call list with per-model figures, per-agent
figures, tool usage and the daily trend, each scoped to the caller (admins: scope=all). Calls are
made through real chat turns against the fake LLM (with scripted token usage), or inserted where
a test needs latencies and ages the fake cannot produce. Bad query parameters, scope=all and
missing tokens are checked for both monitoring APIs in test_monitoring.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.api.test_monitoring import post, read
from tests.conftest import FAKE_LLM_KEY
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.llm_logs.models import LLMCallLog
from tiangong.llm_logs.recorder import flush as flush_llm_logs
from tiangong.tools.models import ToolApproval

API = "/api/v1"
MON = f"{API}/agent-monitoring"


def usage(prompt: int, completion: int, reasoning: int = 0) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "reasoning_tokens": reasoning}


def call(name: str, tokens: dict[str, int], **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}], "usage": tokens}


async def get(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    return await read(client, f"{MON}/{path}", headers, **params)


async def agent(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, tools: list[str] | None = None
) -> str:
    body = {"name": name, "system_prompt": "Help.", "include_tools": tools or []}
    return str((await post(client, "/agents", body, headers))["id"])


async def chat(client: httpx.AsyncClient, headers: dict[str, str], agent_id: str) -> Any:
    return await post(client, f"/agent-chat/{agent_id}", {"message": "go"}, headers)


def tools_graph() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {
                "id": "calc",
                "type": "tool",
                "config": {"tool": "math_eval", "arguments": {"expression": "1 + 1"}},
            },
            {"id": "end", "type": "end", "config": {"outputs": {"r": "{{calc.result}}"}}},
        ],
        "edges": [{"source": "start", "target": "calc"}, {"source": "calc", "target": "end"}],
    }


async def add_calls(*rows: dict[str, Any]) -> None:
    async with session_factory()() as session:
        session.add_all(
            LLMCallLog(**{"model": "m", "outcome": "ok", "latency_ms": 0, **row}) for row in rows
        )
        await session.commit()


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return str((await client.get(f"{API}/auth/me", headers=headers)).json()["id"])


@pytest.fixture
async def ids(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> dict[str, str]:
    """Alice's alpha: one turn of four calls (three tool calls, one failing); beta: two turns,
    the second cut off mid-stream; gamma: nothing; one bare chat turn. Bob: one turn."""
    alice, bob = user_headers, other_headers
    alpha = await agent(client, alice, "alpha", ["math_eval", "text_case"])
    beta = await agent(client, alice, "beta")
    gamma = await agent(client, alice, "gamma")
    fake_llm.script(
        [
            call("math_eval", usage(10, 4), expression="6 * 7"),
            call("math_eval", usage(12, 3), expression="1 / 0"),
            call("text_case", usage(14, 2), text="x", mode="upper"),
            {"content": "done", "usage": usage(20, 5, 2)},
            {"content": "hi", "usage": usage(5, 5)},
            {"content": "a long answer cut short", "chunk_size": 2, "fault": "drop"},
            {"content": "bare", "usage": usage(7, 3)},
            {"content": "bob", "usage": usage(100, 50)},
        ]
    )
    await chat(client, alice, alpha)
    await chat(client, alice, beta)
    cut = await client.post(f"{API}/agent-chat/{beta}", json={"message": "go"}, headers=alice)
    assert cut.status_code == 502 and cut.json()["error"] == "LLM_STREAM_INTERRUPTED"
    await post(client, "/agent-chat/bare", {"message": "hi"}, alice)
    config = {
        "name": "fake",
        "alias": "worker",
        "base_url": fake_llm.base_url,
        "model_name": "bob-model",
        "api_key": FAKE_LLM_KEY,
        "is_default": True,
    }
    await post(client, "/model-configs", config, bob)
    dora = await agent(client, bob, "dora")
    await chat(client, bob, dora)
    await flush_llm_logs()
    return {"alpha": alpha, "beta": beta, "gamma": gamma, "dora": dora}


TOKENS = {"prompt": 68, "completion": 22, "reasoning": 2, "total": 90}


async def test_overview_llm_calls_and_agent_stats_are_exact_and_scoped(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    admin_headers: dict[str, str],
    ids: dict[str, str],
) -> None:

    overview = await get(client, "overview", user_headers)
    assert overview["scope"] == "own" and overview["agent_id"] is None
    assert (overview["calls"], overview["ok"], overview["errors"], overview["cancelled"]) == (
        7,
        6,
        1,
        0,
    )
    assert overview["error_rate"] == pytest.approx(1 / 7)
    assert overview["tokens"] == TOKENS
    assert overview["active_agents"] == 2 and overview["percentile_sample"] == 7
    assert overview["latency_ms"]["p50"] <= overview["latency_ms"]["p95"]
    assert overview["ttft_ms"]["avg"] is not None
    alpha_only = await get(client, "overview", user_headers, agent_id=ids["alpha"])
    assert alpha_only["calls"] == 4 and alpha_only["active_agents"] == 1
    assert alpha_only["tokens"] == {"prompt": 56, "completion": 14, "reasoning": 2, "total": 70}

    calls = await get(client, "llm-calls", user_headers)
    assert calls["total"] == 7 and len(calls["items"]) == 7
    stamps = [c["created_at"] for c in calls["items"]]
    assert stamps == sorted(stamps, reverse=True)
    assert calls["by_model"] == [
        {
            "model": "fake-model",
            "calls": 7,
            "errors": 1,
            "tokens": TOKENS,
            "avg_latency_ms": pytest.approx(calls["by_model"][0]["avg_latency_ms"]),
            "avg_ttft_ms": pytest.approx(calls["by_model"][0]["avg_ttft_ms"]),
        }
    ]
    failed = await get(client, "llm-calls", user_headers, outcome="error")
    assert failed["total"] == 1
    assert failed["items"][0]["agent_id"] == ids["beta"]
    assert failed["items"][0]["agent_name"] == "beta" and failed["items"][0]["error_code"]
    assert failed["by_model"][0]["errors"] == 1
    alpha_calls = await get(client, "llm-calls", user_headers, agent_id=ids["alpha"], page_size=3)
    assert alpha_calls["total"] == 4 and len(alpha_calls["items"]) == 3
    page2 = await get(client, "llm-calls", user_headers, agent_id=ids["alpha"], page_size=3, page=2)
    assert len(page2["items"]) == 1 and page2["page"] == 2
    assert (await get(client, "llm-calls", user_headers, model="bob-model"))["total"] == 0
    bobs = await get(client, "llm-calls", other_headers)
    assert bobs["total"] == 1 and bobs["by_model"][0]["model"] == "bob-model"
    assert bobs["by_model"][0]["tokens"] == {
        "prompt": 100,
        "completion": 50,
        "reasoning": 0,
        "total": 150,
    }
    everyone = await get(client, "llm-calls", admin_headers, scope="all")
    assert everyone["total"] == 8
    assert [m["model"] for m in everyone["by_model"]] == ["fake-model", "bob-model"]

    stats = await get(client, "agents-stats", user_headers)
    assert stats["total"] == 3
    assert [a["name"] for a in stats["items"]] == ["alpha", "beta", "gamma"]
    alpha, beta, gamma = stats["items"]
    assert (alpha["calls"], alpha["errors"], alpha["conversations"], alpha["messages"]) == (
        4,
        0,
        1,
        2,
    )
    assert alpha["tokens"] == alpha_only["tokens"] and alpha["avg_latency_ms"] is not None
    assert (beta["calls"], beta["errors"], beta["conversations"], beta["messages"]) == (2, 1, 2, 4)
    assert beta["tokens"]["total"] == 10
    assert alpha["last_active_at"] and beta["last_active_at"]
    assert gamma == {
        "agent_id": ids["gamma"],
        "name": "gamma",
        "status": "draft",
        "calls": 0,
        "errors": 0,
        "tokens": {"prompt": 0, "completion": 0, "reasoning": 0, "total": 0},
        "avg_latency_ms": None,
        "conversations": 0,
        "messages": 0,
        "last_active_at": None,
    }
    second = await get(client, "agents-stats", user_headers, page=2, page_size=1)
    assert [a["name"] for a in second["items"]] == ["beta"] and second["total"] == 3
    bob_stats = await get(client, "agents-stats", other_headers)
    assert [(a["name"], a["calls"]) for a in bob_stats["items"]] == [("dora", 1)]
    all_stats = await get(client, "agents-stats", admin_headers, scope="all")
    assert all_stats["total"] == 4
    assert [a["name"] for a in all_stats["items"]] == ["alpha", "beta", "dora", "gamma"]

    # The day's trend matches the totals.
    trend = await get(client, "daily-trend", user_headers)
    today = trend["items"][-1]
    assert today["date"] == utcnow().date().isoformat() and len(trend["items"]) == 7
    assert (today["calls"], today["errors"], today["tokens"]) == (7, 1, TOKENS)

    # Another user's agent is not found on every endpoint that filters by agent.
    for path in ("overview", "llm-calls", "tool-usage", "daily-trend"):
        for headers, agent_id in ((other_headers, ids["alpha"]), (user_headers, ids["dora"])):
            response = await client.get(
                f"{MON}/{path}", params={"agent_id": agent_id}, headers=headers
            )
            assert response.status_code == 404, f"{path}: {response.text}"
            assert response.json()["error"] == "AGENT_NOT_FOUND"
        as_admin = await client.get(
            f"{MON}/{path}",
            params={"scope": "all", "agent_id": ids["alpha"]},
            headers=admin_headers,
        )
        assert as_admin.status_code == 200, f"{path}: {as_admin.text}"
    admin_calls = await get(client, "llm-calls", admin_headers, scope="all", agent_id=ids["alpha"])
    assert admin_calls["total"] == 4


async def test_tool_usage_counts_chat_calls_workflow_nodes_and_approvals(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    admin_headers: dict[str, str],
    ids: dict[str, str],
) -> None:
    wf = await post(
        client, "/workflows", {"name": "tools", "definition": tools_graph()}, user_headers
    )
    body = {"mode": "sync", "timeout_s": 20}
    run = await post(client, f"/workflows/{wf['id']}/execute", body, user_headers)
    assert run["status"] == "succeeded", run
    alice, bob = await user_id(client, user_headers), await user_id(client, other_headers)
    async with session_factory()() as session:
        session.add_all(
            [
                ToolApproval(user_id=alice, tool_name="double", status="approved"),
                ToolApproval(user_id=alice, tool_name="double", status="rejected"),
                ToolApproval(user_id=alice, agent_id=ids["alpha"], tool_name="math_eval"),
                ToolApproval(user_id=bob, tool_name="math_eval", status="approved"),
            ]
        )
        await session.commit()

    usage_all = await get(client, "tool-usage", user_headers)
    # Only alpha's answer called tools: the other assistant messages are not read.
    assert usage_all["messages_scanned"] == 1 and usage_all["truncated"] is False
    items = {item["name"]: item for item in usage_all["items"]}
    assert [i["name"] for i in usage_all["items"]] == ["math_eval", "text_case", "double"]
    math = items["math_eval"]
    assert (math["calls"], math["failed"], math["chat_calls"], math["workflow_calls"]) == (
        3,
        1,
        2,
        1,
    )
    assert math["approvals"] == {"pending": 1} and math["avg_duration_ms"] is not None
    assert items["text_case"] == {**items["text_case"], "calls": 1, "failed": 0, "approvals": {}}
    assert items["double"] == {
        "name": "double",
        "calls": 0,
        "failed": 0,
        "avg_duration_ms": None,
        "chat_calls": 0,
        "workflow_calls": 0,
        "approvals": {"approved": 1, "rejected": 1},
    }

    alpha = await get(client, "tool-usage", user_headers, agent_id=ids["alpha"])
    assert {i["name"]: (i["calls"], i["workflow_calls"]) for i in alpha["items"]} == {
        "math_eval": (2, 0),
        "text_case": (1, 0),
    }
    beta = await get(client, "tool-usage", user_headers, agent_id=ids["beta"])
    assert beta["items"] == [] and beta["messages_scanned"] == 0
    bobs = await get(client, "tool-usage", other_headers)
    assert [(i["name"], i["calls"], i["approvals"]) for i in bobs["items"]] == [
        ("math_eval", 0, {"approved": 1})
    ]
    everyone = await get(client, "tool-usage", admin_headers, scope="all")
    assert {i["name"]: i["approvals"] for i in everyone["items"]}["math_eval"] == {
        "pending": 1,
        "approved": 1,
    }


async def test_percentiles_and_daily_trend_over_inserted_calls(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    alice, bob = await user_id(client, user_headers), await user_id(client, other_headers)
    now = utcnow()
    three_days_ago = now - timedelta(days=3)
    await add_calls(
        *(
            {"user_id": alice, "latency_ms": 100.0 * n, "ttft_ms": 10.0 * n, "created_at": now}
            for n in range(1, 11)
        ),
        {"user_id": alice, "latency_ms": 5000, "outcome": "error", "created_at": three_days_ago},
        {"user_id": alice, "latency_ms": 9999, "created_at": now - timedelta(days=10)},
        {"user_id": bob, "latency_ms": 7777, "ttft_ms": 1, "created_at": now},
    )
    week = await get(client, "overview", user_headers)
    assert week["calls"] == 11 and week["errors"] == 1 and week["percentile_sample"] == 11
    # Nearest rank over 100..1000 and 5000.
    assert week["latency_ms"] == {"avg": pytest.approx(10500 / 11), "p50": 600, "p95": 5000}
    # The failed call has no time to first token: 10..100.
    assert week["ttft_ms"] == {"avg": pytest.approx(55), "p50": 50, "p95": 100}
    assert week["active_agents"] == 0
    today = await get(client, "overview", user_headers, days=1)
    assert today["calls"] == 10 and today["latency_ms"]["p95"] == 1000

    trend = await get(client, "daily-trend", user_headers, days=5)
    assert [d["date"] for d in trend["items"]] == [
        (now - timedelta(days=back)).date().isoformat() for back in range(4, -1, -1)
    ]
    by_day = {d["date"]: d for d in trend["items"]}
    assert by_day[now.date().isoformat()]["calls"] == 10
    assert by_day[now.date().isoformat()]["avg_latency_ms"] == pytest.approx(550)
    earlier = by_day[three_days_ago.date().isoformat()]
    assert (earlier["calls"], earlier["errors"], earlier["avg_latency_ms"]) == (1, 1, 5000)
    assert sum(d["calls"] for d in trend["items"]) == 11
    quiet = [d for d in trend["items"] if d["calls"] == 0]
    assert len(quiet) == 3 and all(d["avg_latency_ms"] is None for d in quiet)

    month = await get(client, "daily-trend", user_headers, days=30)
    assert sum(d["calls"] for d in month["items"]) == 12


async def test_empty_figures_have_no_rates(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    overview = await get(client, "overview", user_headers)
    assert overview["calls"] == 0 and overview["error_rate"] is None
    assert overview["latency_ms"] == {"avg": None, "p50": None, "p95": None}
    calls = await get(client, "llm-calls", user_headers)
    assert calls == {"items": [], "total": 0, "page": 1, "page_size": 20, "by_model": []}
    stats = await get(client, "agents-stats", user_headers)
    assert stats["items"] == [] and stats["total"] == 0
    tools = await get(client, "tool-usage", user_headers)
    assert tools["items"] == [] and tools["messages_scanned"] == 0
