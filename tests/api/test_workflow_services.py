"""The platform services behind workflow nodes: knowledge_retrieval over the owner's knowledge
bases, sub_workflow as linked child runs (ownership, failure, depth, crash safety), and the
conversation an agent node's turn was saved in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.api.test_workflows import API, EXEC, create, wait_for
from tiangong.conversations.models import Conversation
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.knowledge import jobs
from tiangong.workflows import runner, subruns
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

KB = "/api/v1/knowledge-bases"
WEATHER = "# Weather\n\nThe weather in Hangzhou is mild in spring, with frequent rain.\n"
RETRIEVAL = (
    "# 信息检索\n\n信息检索系统帮助用户从大量文档中找到需要的内容。检索的质量取决于分词和排序。\n"
)


@pytest.fixture(autouse=True)
async def jobs_settled() -> AsyncIterator[None]:
    yield
    await asyncio.wait_for(jobs.runner().idle(), timeout=60)


async def _kb_with(client: httpx.AsyncClient, headers: dict[str, str], *texts: str) -> str:
    response = await client.post(KB, json={"name": "docs"}, headers=headers)
    assert response.status_code == 201, response.text
    kb_id = str(response.json()["id"])
    for index, text in enumerate(texts):
        body = {"text": text, "name": f"doc{index}.md"}
        response = await client.post(f"{KB}/{kb_id}/documents", json=body, headers=headers)
        assert response.status_code == 202, response.text
    await asyncio.wait_for(jobs.runner().idle(), timeout=60)
    listed = (await client.get(f"{KB}/{kb_id}/documents", headers=headers)).json()
    assert [doc["status"] for doc in listed["items"]] == ["ready"] * len(texts), listed
    return kb_id


def _retrieval_graph(kb_id: str, query: str) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {
                "id": "kr",
                "type": "knowledge_retrieval",
                "config": {"knowledge_base_ids": [kb_id], "query": query, "top_k": 1},
            },
            {
                "id": "end",
                "type": "end",
                "config": {"outputs": {"hits": "{{kr.results}}", "context": "{{kr.context}}"}},
            },
        ],
        "edges": [{"source": "start", "target": "kr"}, {"source": "kr", "target": "end"}],
    }


async def _execute(
    client: httpx.AsyncClient, headers: dict[str, str], wf_id: str, **inputs: Any
) -> dict[str, Any]:
    body = {"inputs": inputs, "timeout_s": 60}
    response = await client.post(f"{API}/{wf_id}/execute", json=body, headers=headers)
    assert response.status_code == 200, response.text
    run = dict(response.json())
    if run["status"] not in ("succeeded", "failed"):
        run = await wait_for(client, headers, run["id"], "succeeded", "failed")
    return run


def _node(run: dict[str, Any], node_id: str) -> dict[str, Any]:
    return dict(next(n for n in run["nodes"] if n["node_id"] == node_id))


async def test_knowledge_retrieval_node_finds_the_right_chunk(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb_with(client, user_headers, WEATHER, RETRIEVAL)
    wf = await create(client, user_headers, _retrieval_graph(kb_id, "weather in Hangzhou"))
    run = await _execute(client, user_headers, wf["id"])
    assert run["status"] == "succeeded", run
    [hit] = run["outputs"]["hits"]
    assert "Hangzhou" in hit["content"] and hit["document_name"] == "doc0.md"
    assert hit["knowledge_base_id"] == kb_id and hit["position"] == 0
    assert isinstance(hit["score"], float) and hit["chunk_id"] and hit["document_id"]
    assert run["outputs"]["context"] == hit["content"]


async def test_knowledge_retrieval_of_another_users_kb_fails_the_node(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    kb_id = await _kb_with(client, other_headers, WEATHER)
    wf = await create(client, user_headers, _retrieval_graph(kb_id, "weather"))
    run = await _execute(client, user_headers, wf["id"])
    assert run["status"] == "failed", run
    error = _node(run, "kr")["error"]
    assert error["code"] == "KNOWLEDGE_BASE_NOT_FOUND" and _node(run, "kr")["attempts"] == 1


def _child_graph() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {"inputs": [{"name": "x"}]}},
            {"id": "end", "type": "end", "config": {"outputs": {"echo": "got {{start.x}}"}}},
        ],
        "edges": [{"source": "start", "target": "end"}],
    }


def _parent_graph(child_id: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {"inputs": [{"name": "v"}]}},
            {
                "id": "sub",
                "type": "sub_workflow",
                "config": {"workflow_id": child_id, "inputs": inputs or {"x": "{{start.v}}"}},
            },
            {"id": "end", "type": "end", "config": {"outputs": {"result": "{{sub.echo}}"}}},
        ],
        "edges": [{"source": "start", "target": "sub"}, {"source": "sub", "target": "end"}],
    }


async def _runs_of(workflow_id: str) -> list[WorkflowRun]:
    async with session_factory()() as session:
        stmt = select(WorkflowRun).where(WorkflowRun.workflow_id == workflow_id)
        return list((await session.execute(stmt)).scalars())


async def test_sub_workflow_runs_a_linked_child_and_returns_its_outputs(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    child = await create(client, user_headers, _child_graph(), name="child")
    await client.put(f"{API}/{child['id']}", json={"name": "child v2"}, headers=user_headers)
    parent = await create(client, user_headers, _parent_graph(child["id"]), name="parent")
    run = await _execute(client, user_headers, parent["id"], v="7")
    assert run["status"] == "succeeded", run
    assert run["outputs"] == {"result": "got 7"}
    [child_run] = await _runs_of(child["id"])
    assert child_run.trigger == "sub_workflow" and child_run.status == "succeeded"
    assert child_run.parent_run_id == run["id"] and child_run.parent_node_id == "sub"
    assert child_run.version == 2 and child_run.inputs == {"x": "7"}


async def test_sub_workflow_of_another_user_is_not_found(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    theirs = await create(client, other_headers, _child_graph(), name="theirs")
    parent = await create(client, user_headers, _parent_graph(theirs["id"]), name="parent")
    run = await _execute(client, user_headers, parent["id"], v="1")
    assert run["status"] == "failed"
    assert _node(run, "sub")["error"]["code"] == "WORKFLOW_NOT_FOUND"
    assert await _runs_of(theirs["id"]) == []


async def test_sub_workflow_failure_carries_the_childs_error_and_a_retry_makes_a_new_child(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    child = await create(client, user_headers, _child_graph(), name="child")
    graph = _parent_graph(child["id"], inputs={"y": "no x given"})
    graph["nodes"][1]["retry"] = {"max_attempts": 2}
    parent = await create(client, user_headers, graph, name="parent")
    run = await _execute(client, user_headers, parent["id"], v="1")
    assert run["status"] == "failed", run
    error = _node(run, "sub")["error"]
    assert error["code"] == "SUB_WORKFLOW_FAILED"
    children = await _runs_of(child["id"])
    assert len(children) == 2 and {c.status for c in children} == {"failed"}
    assert any(c.id in error["message"] for c in children)
    child_error = children[0].error or {}
    assert child_error["code"] in error["message"]
    # Only the latest attempt holds the idempotency key.
    assert sorted(c.idempotency_key is None for c in children) == [False, True]


async def test_sub_workflow_nesting_stops_at_the_depth_limit(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, _child_graph(), name="recursive")
    graph = _parent_graph(wf["id"], inputs={"v": "{{start.v}}"})
    response = await client.put(
        f"{API}/{wf['id']}", json={"definition": graph}, headers=user_headers
    )
    assert response.status_code == 200, response.text
    run = await _execute(client, user_headers, wf["id"], v="1")
    assert run["status"] == "failed"
    runs = await _runs_of(wf["id"])
    # The top run and MAX_DEPTH nested children; the deepest could not start another.
    assert len(runs) == subruns.MAX_DEPTH + 1
    deepest = next(r for r in runs if r.id not in {x.parent_run_id for x in runs})
    async with session_factory()() as session:
        stmt = select(WorkflowNodeRun).where(
            WorkflowNodeRun.run_id == deepest.id, WorkflowNodeRun.node_id == "sub"
        )
        node = (await session.execute(stmt)).scalars().one()
    assert node.error is not None and node.error["code"] == "SUB_WORKFLOW_DEPTH"
    assert "SUB_WORKFLOW_DEPTH" in _node(run, "sub")["error"]["message"]


async def _crashed_parent(
    parent_wf: dict[str, Any], child_wf: dict[str, Any], child_status: str
) -> tuple[str, str]:
    """A parent run whose process died while its sub node waited for a child run."""
    stale = utcnow() - timedelta(minutes=10)
    async with session_factory()() as session:
        parent = WorkflowRun(
            workflow_id=parent_wf["id"],
            version=1,
            owner_id=parent_wf["owner_id"],
            status="running",
            inputs={"v": "5"},
            heartbeat_at=stale,
        )
        session.add(parent)
        await session.flush()
        session.add_all(
            [
                WorkflowNodeRun(
                    run_id=parent.id,
                    node_id="start",
                    node_type="start",
                    status="succeeded",
                    attempts=1,
                    inputs={},
                    outputs={"v": "5"},
                ),
                WorkflowNodeRun(
                    run_id=parent.id,
                    node_id="sub",
                    node_type="sub_workflow",
                    status="running",
                    attempts=1,
                    inputs={},
                ),
            ]
        )
        done = child_status == "succeeded"
        child = WorkflowRun(
            workflow_id=child_wf["id"],
            version=1,
            owner_id=child_wf["owner_id"],
            status=child_status,
            inputs={"x": "5"},
            # A finished child's outputs say which run they came from.
            outputs={"echo": "from the first child"} if done else None,
            idempotency_key=subruns.child_key(parent.id, "sub", child_wf["id"], {"x": "5"}),
            trigger="sub_workflow",
            parent_run_id=parent.id,
            parent_node_id="sub",
            heartbeat_at=stale,
        )
        session.add(child)
        await session.commit()
        return parent.id, child.id


@pytest.mark.parametrize("child_status", ["succeeded", "running"])
async def test_a_resumed_parent_attaches_to_the_same_child_run(
    client: httpx.AsyncClient, user_headers: dict[str, str], child_status: str
) -> None:
    child_wf = await create(client, user_headers, _child_graph(), name="child")
    parent_wf = await create(client, user_headers, _parent_graph(child_wf["id"]), name="parent")
    parent_id, child_id = await _crashed_parent(parent_wf, child_wf, child_status)
    resumed = await runner.recover()
    assert parent_id in resumed
    run = await wait_for(client, user_headers, parent_id, "succeeded", "failed")
    assert run["status"] == "succeeded", run
    expected = "from the first child" if child_status == "succeeded" else "got 5"
    assert run["outputs"] == {"result": expected}
    # No second child: the resumed node took (or waited for) the one it had started.
    children = await _runs_of(child_wf["id"])
    assert [c.id for c in children] == [child_id] and children[0].status == "succeeded"


async def test_agent_node_outputs_name_the_conversation(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    fake_llm.script([{"content": "agent says hi"}])
    body = {"name": "helper", "system_prompt": "Be brief.", "iteration_limit": 2}
    response = await client.post("/api/v1/agents", json=body, headers=user_headers)
    assert response.status_code == 201, response.text
    agent_id = response.json()["id"]
    graph = {
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "ag", "type": "agent", "config": {"agent_id": agent_id, "message": "hi"}},
            {
                "id": "end",
                "type": "end",
                "config": {"outputs": {"text": "{{ag.text}}", "conv": "{{ag.conversation_id}}"}},
            },
        ],
        "edges": [{"source": "start", "target": "ag"}, {"source": "ag", "target": "end"}],
    }
    wf = await create(client, user_headers, graph)
    run = await _execute(client, user_headers, wf["id"])
    assert run["status"] == "succeeded", run
    assert run["outputs"]["text"] == "agent says hi"
    async with session_factory()() as session:
        conversation = await session.get(Conversation, run["outputs"]["conv"])
    assert conversation is not None and conversation.source == "workflow"
    assert conversation.user_id == wf["owner_id"]


async def test_execution_endpoints_need_a_token_and_hide_other_users_runs(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    child = await create(client, user_headers, _child_graph(), name="child")
    parent = await create(client, user_headers, _parent_graph(child["id"]), name="parent")
    assert (await client.post(f"{API}/{parent['id']}/execute", json={})).status_code == 401
    run = await _execute(client, user_headers, parent["id"], v="2")
    [child_run] = await _runs_of(child["id"])
    for run_id in (run["id"], child_run.id):
        response = await client.get(f"{EXEC}/{run_id}", headers=other_headers)
        assert response.status_code == 404 and response.json()["error"] == "WORKFLOW_RUN_NOT_FOUND"
    bad = await client.post(
        f"{API}/{parent['id']}/execute", json={"inputs": [], "mode": "x"}, headers=user_headers
    )
    assert bad.status_code == 422 and "error" in bad.json()


async def test_cancelling_the_parent_cancels_its_running_child(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    slow = {
        "nodes": [
            {"id": "start", "type": "start", "config": {"inputs": [{"name": "x"}]}},
            {"id": "wait", "type": "delay", "config": {"seconds": 30}},
            {"id": "end", "type": "end", "config": {"outputs": {"echo": "{{start.x}}"}}},
        ],
        "edges": [{"source": "start", "target": "wait"}, {"source": "wait", "target": "end"}],
    }
    child = await create(client, user_headers, slow, name="slow child")
    parent = await create(client, user_headers, _parent_graph(child["id"]), name="parent")
    body = {"inputs": {"v": "1"}, "mode": "async"}
    response = await client.post(f"{API}/{parent['id']}/execute", json=body, headers=user_headers)
    assert response.status_code in (200, 202), response.text
    run_id = response.json()["id"]
    for _ in range(100):
        children = await _runs_of(child["id"])
        if children and children[0].status == "running":
            break
        await asyncio.sleep(0.05)
    [child_run] = children
    assert child_run.status == "running"
    response = await client.post(f"{EXEC}/{run_id}/cancel", headers=user_headers)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    for _ in range(100):
        [child_run] = await _runs_of(child["id"])
        if child_run.status != "running" and runner.task_of(child_run.id) is None:
            break
        await asyncio.sleep(0.05)
    assert child_run.status == "cancelled" and runner.task_of(child_run.id) is None
