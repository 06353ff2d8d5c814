from __future__ import annotations

import asyncio
from typing import Any

import httpx

GOALS = "/api/v1/goals"
TASKS = "/api/v1/tasks"


async def _goal(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(GOALS, json={"title": "Ship v2"}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _task(
    client: httpx.AsyncClient, headers: dict[str, str], goal_id: str, title: str, **fields: Any
) -> dict[str, Any]:
    body = {"goal_id": goal_id, "title": title, **fields}
    response = await client.post(TASKS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _post(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str, action: str, **body: Any
) -> httpx.Response:
    return await client.post(f"{TASKS}/{task_id}/{action}", json=body or None, headers=headers)


async def test_task_crud_and_list(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    goal_id = await _goal(client, user_headers)
    a = await _task(client, user_headers, goal_id, "Design", priority=3, order=1)
    assert a["status"] == "pending" and a["attempts"] == 0 and a["depends_on"] == []
    assert (a["priority"], a["order"]) == (3, 1)
    b = await _task(client, user_headers, goal_id, "Build", depends_on=[a["id"], a["id"]])
    assert b["depends_on"] == [a["id"]]
    child = await _task(client, user_headers, goal_id, "Sketch", parent_id=a["id"])
    listed = (await client.get(TASKS, params={"goal_id": goal_id}, headers=user_headers)).json()
    assert listed["total"] == 3
    pending = await client.get(TASKS, params={"status": "pending"}, headers=user_headers)
    assert pending.json()["total"] == 3
    assert (await client.get(TASKS, headers=other_headers)).json()["total"] == 0

    url = f"{TASKS}/{b['id']}"
    updated = await client.put(
        url, json={"title": "Build it", "requires_approval": True}, headers=user_headers
    )
    assert updated.json()["title"] == "Build it" and updated.json()["requires_approval"] is True
    assert updated.json()["depends_on"] == [a["id"]]
    # Deleting a task deletes its subtasks and frees the tasks that depended on it.
    assert (await client.delete(f"{TASKS}/{a['id']}", headers=user_headers)).status_code == 204
    assert (await client.get(f"{TASKS}/{child['id']}", headers=user_headers)).status_code == 404
    assert (await client.get(url, headers=user_headers)).json()["depends_on"] == []


async def test_task_links_must_stay_in_the_goal_and_acyclic(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    goal_id = await _goal(client, user_headers)
    other_goal = await _goal(client, user_headers)
    a = await _task(client, user_headers, goal_id, "A")
    b = await _task(client, user_headers, goal_id, "B", depends_on=[a["id"]])
    foreign = await _task(client, user_headers, other_goal, "F")

    async def create(**fields: Any) -> httpx.Response:
        return await client.post(
            TASKS, json={"goal_id": goal_id, "title": "x", **fields}, headers=user_headers
        )

    for fields, code in [
        ({"depends_on": [foreign["id"]]}, "TASK_INVALID_DEPENDENCY"),
        ({"depends_on": ["missing"]}, "TASK_INVALID_DEPENDENCY"),
        ({"parent_id": foreign["id"]}, "TASK_INVALID_PARENT"),
    ]:
        response = await create(**fields)
        assert response.status_code == 400 and response.json()["error"] == code
    cycle = await client.put(
        f"{TASKS}/{a['id']}", json={"depends_on": [b["id"]]}, headers=user_headers
    )
    assert cycle.status_code == 400 and cycle.json()["error"] == "TASK_DEPENDENCY_CYCLE"
    itself = await client.put(
        f"{TASKS}/{a['id']}", json={"depends_on": [a["id"]]}, headers=user_headers
    )
    assert itself.status_code == 400 and itself.json()["error"] == "TASK_INVALID_DEPENDENCY"
    await client.put(f"{TASKS}/{b['id']}", json={"parent_id": a["id"]}, headers=user_headers)
    loop = await client.put(f"{TASKS}/{a['id']}", json={"parent_id": b["id"]}, headers=user_headers)
    assert loop.status_code == 400 and loop.json()["error"] == "TASK_INVALID_PARENT"
    # Nesting is bounded.
    parent = a["id"]
    for depth in range(12):
        response = await create(parent_id=parent)
        if response.status_code != 201:
            assert response.json()["error"] == "TASK_INVALID_PARENT" and depth >= 8
            break
        parent = response.json()["id"]
    else:
        raise AssertionError("nesting was not bounded")
    missing_goal = await client.post(
        TASKS, json={"goal_id": "nope", "title": "x"}, headers=user_headers
    )
    assert missing_goal.status_code == 404 and missing_goal.json()["error"] == "GOAL_NOT_FOUND"
    for body in (
        {"goal_id": goal_id},
        {"goal_id": goal_id, "title": "x", "priority": 10**6},
        {"goal_id": goal_id, "title": "x", "depends_on": ["a"] * 51},
        {"goal_id": goal_id, "title": "x", "status": "completed"},
    ):
        assert (await client.post(TASKS, json=body, headers=user_headers)).status_code == 422


async def test_tasks_need_a_token_and_are_private(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    goal_id = await _goal(client, user_headers)
    task = await _task(client, user_headers, goal_id, "Mine")
    url = f"{TASKS}/{task['id']}"
    assert (await client.get(url)).status_code == 401
    assert (await client.post(f"{url}/claim")).status_code == 401
    for method, path in [
        ("GET", ""),
        ("PUT", ""),
        ("DELETE", ""),
        ("POST", "/execute"),
        ("POST", "/retry"),
        ("POST", "/claim"),
        ("POST", "/release"),
        ("POST", "/complete"),
        ("POST", "/fail"),
        ("POST", "/approve"),
        ("POST", "/reject"),
        ("GET", "/blockers"),
    ]:
        body = {"error": "x"} if path == "/fail" else {}
        response = await client.request(
            method, url + path, json=body if method != "GET" else None, headers=other_headers
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == "TASK_NOT_FOUND"
    available = await client.get(f"{TASKS}/available/{goal_id}", headers=other_headers)
    assert available.status_code == 404 and available.json()["error"] == "GOAL_NOT_FOUND"
    into = await client.post(TASKS, json={"goal_id": goal_id, "title": "x"}, headers=other_headers)
    assert into.status_code == 404
    assert (await client.get(url, headers=user_headers)).json()["status"] == "pending"


async def test_claim_release_complete_and_fail(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    goal_id = await _goal(client, user_headers)
    a = await _task(client, user_headers, goal_id, "A")
    b = await _task(client, user_headers, goal_id, "B", depends_on=[a["id"]])
    blocked = await _post(client, user_headers, b["id"], "claim")
    assert blocked.status_code == 409 and blocked.json()["error"] == "TASK_BLOCKED"
    blockers = (await client.get(f"{TASKS}/{b['id']}/blockers", headers=user_headers)).json()
    assert blockers["blocked"] is True and [t["id"] for t in blockers["blockers"]] == [a["id"]]

    claimed = await _post(client, user_headers, a["id"], "claim", claimer="agent:writer")
    assert claimed.json()["status"] == "claimed" and claimed.json()["claimed_by"] == "agent:writer"
    assert claimed.json()["attempts"] == 1
    other = await _post(client, user_headers, a["id"], "release", claimer="agent:other")
    assert other.status_code == 409 and other.json()["error"] == "TASK_CLAIMED_BY_OTHER"
    released = await _post(client, user_headers, a["id"], "release", claimer="agent:writer")
    assert released.json()["status"] == "pending" and released.json()["claimed_by"] is None
    again = await _post(client, user_headers, a["id"], "release")
    assert again.status_code == 409 and again.json()["error"] == "TASK_INVALID_TRANSITION"

    await _post(client, user_headers, a["id"], "claim")
    done = await _post(client, user_headers, a["id"], "complete", result="designed")
    assert done.json()["status"] == "completed" and done.json()["result"] == "designed"
    assert (await _post(client, user_headers, a["id"], "complete")).status_code == 409
    unblocked = (await client.get(f"{TASKS}/{b['id']}/blockers", headers=user_headers)).json()
    assert unblocked == {"task_id": b["id"], "blocked": False, "blockers": []}

    failed = await _post(client, user_headers, b["id"], "fail", error="out of disk")
    assert failed.json()["status"] == "failed" and failed.json()["error"] == "out of disk"
    assert (await _post(client, user_headers, b["id"], "fail", error="x")).status_code == 409
    assert (await _post(client, user_headers, b["id"], "fail")).status_code == 422
    retried = await _post(client, user_headers, b["id"], "retry")
    assert retried.json()["status"] == "pending" and retried.json()["error"] is None
    assert (await _post(client, user_headers, b["id"], "retry")).status_code == 409


async def test_concurrent_claims_have_exactly_one_winner(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    goal_id = await _goal(client, user_headers)
    task = await _task(client, user_headers, goal_id, "Contested")
    responses = await asyncio.gather(
        *(_post(client, user_headers, task["id"], "claim", claimer=f"worker-{i}") for i in range(6))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409, 409, 409, 409, 409], [r.text for r in responses]
    assert all(
        r.json()["error"] == "TASK_ALREADY_CLAIMED" for r in responses if r.status_code == 409
    )
    winner = next(r.json()["claimed_by"] for r in responses if r.status_code == 200)
    stored = (await client.get(f"{TASKS}/{task['id']}", headers=user_headers)).json()
    assert stored["claimed_by"] == winner and stored["attempts"] == 1


async def test_approval_flow(client: httpx.AsyncClient, user_headers: dict[str, str]) -> None:
    goal_id = await _goal(client, user_headers)
    task = await _task(client, user_headers, goal_id, "Contract", requires_approval=True)
    waiting = await _post(client, user_headers, task["id"], "complete", result="v1")
    assert waiting.json()["status"] == "awaiting_approval"
    rejected = await _post(client, user_headers, task["id"], "reject", reason="too long")
    assert (
        rejected.json()["status"] == "failed" and rejected.json()["error"] == "REJECTED: too long"
    )
    assert (await _post(client, user_headers, task["id"], "approve")).status_code == 409
    await _post(client, user_headers, task["id"], "retry")
    await _post(client, user_headers, task["id"], "complete", result="v2")
    approved = await _post(client, user_headers, task["id"], "approve")
    assert approved.json()["status"] == "completed" and approved.json()["result"] == "v2"
    assert (await _post(client, user_headers, task["id"], "reject")).status_code == 409
    long_reason = await _post(client, user_headers, task["id"], "reject", reason="x" * 10_001)
    assert long_reason.status_code == 422


async def test_completing_every_task_of_a_running_goal_completes_it(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    goal_id = await _goal(client, user_headers)
    a = await _task(client, user_headers, goal_id, "A")
    b = await _task(client, user_headers, goal_id, "B")
    await client.post(f"{GOALS}/{goal_id}/start", headers=user_headers)
    await _post(client, user_headers, a["id"], "complete")
    goal = (await client.get(f"{GOALS}/{goal_id}", headers=user_headers)).json()
    assert goal["status"] == "running" and goal["progress"]["percent"] == 50.0
    cancelled = await client.put(
        f"{TASKS}/{b['id']}", json={"status": "cancelled"}, headers=user_headers
    )
    assert cancelled.json()["status"] == "cancelled"
    goal = (await client.get(f"{GOALS}/{goal_id}", headers=user_headers)).json()
    assert goal["status"] == "completed" and goal["progress"]["percent"] == 100.0
    again = await client.put(
        f"{TASKS}/{a['id']}", json={"status": "cancelled"}, headers=user_headers
    )
    assert again.status_code == 409 and again.json()["error"] == "TASK_INVALID_TRANSITION"


async def test_available_lists_ready_unclaimed_tasks_most_urgent_first(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    goal_id = await _goal(client, user_headers)
    a = await _task(client, user_headers, goal_id, "A", order=0)
    b = await _task(client, user_headers, goal_id, "B", depends_on=[a["id"]])
    c = await _task(client, user_headers, goal_id, "C", priority=9, order=5)
    d = await _task(client, user_headers, goal_id, "D", order=6)
    await _post(client, user_headers, d["id"], "claim")
    url = f"{TASKS}/available/{goal_id}"
    assert [t["title"] for t in (await client.get(url, headers=user_headers)).json()] == ["C", "A"]
    await _post(client, user_headers, a["id"], "complete")
    ready = [t["id"] for t in (await client.get(url, headers=user_headers)).json()]
    assert ready == [c["id"], b["id"]]
    missing = await client.get(f"{TASKS}/available/nope", headers=user_headers)
    assert missing.status_code == 404


async def test_execute_runs_the_task_with_the_agent_and_stores_the_result(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent = await client.post(
        "/api/v1/agents", json={"name": "doer", "system_prompt": "Do it."}, headers=user_headers
    )
    goal_id = await _goal(client, user_headers)
    a = await _task(client, user_headers, goal_id, "Research")
    b = await _task(
        client,
        user_headers,
        goal_id,
        "Summarise",
        description="One paragraph",
        depends_on=[a["id"]],
        agent_id=agent.json()["id"],
    )
    blocked = await _post(client, user_headers, b["id"], "execute")
    assert blocked.status_code == 409 and blocked.json()["error"] == "TASK_BLOCKED"
    fake_llm.script([{"content": "three facts"}, {"content": "a summary"}])
    first = await _post(client, user_headers, a["id"], "execute")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "completed" and first.json()["result"] == "three facts"
    assert first.json()["attempts"] == 1 and first.json()["session_id"]
    second = (await _post(client, user_headers, b["id"], "execute")).json()
    assert second["status"] == "completed" and second["result"] == "a summary"
    sent = fake_llm.requests[-1]["messages"]
    assert sent[0]["content"].startswith("Do it.")
    assert "three facts" in sent[-1]["content"] and "Summarise" in sent[-1]["content"]
    # The exchange is a conversation of the caller's with the agent.
    history = await client.get(
        f"/api/v1/agents/{agent.json()['id']}/preview-chat-history",
        params={"session_id": second["session_id"]},
        headers=user_headers,
    )
    assert history.status_code == 200, history.text
    assert [m["content"] for m in history.json()["messages"]][-1] == "a summary"
    again = await _post(client, user_headers, b["id"], "execute")
    assert again.status_code == 409 and again.json()["error"] == "TASK_INVALID_TRANSITION"


async def test_execute_failure_and_approval(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    goal_id = await _goal(client, user_headers)
    task = await _task(client, user_headers, goal_id, "Email", requires_approval=True)
    fake_llm.script([{"fault": "500", "times": 5}])
    failed = (await _post(client, user_headers, task["id"], "execute")).json()
    assert failed["status"] == "failed" and failed["error"] and failed["attempts"] == 1
    await _post(client, user_headers, task["id"], "retry")
    fake_llm.script([{"content": "Dear team"}])
    waiting = (await _post(client, user_headers, task["id"], "execute")).json()
    assert waiting["status"] == "awaiting_approval" and waiting["result"] == "Dear team"
    assert waiting["attempts"] == 2
    approved = (await _post(client, user_headers, task["id"], "approve")).json()
    assert approved["status"] == "completed"


async def test_execute_without_a_model_fails_the_task_clearly(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    goal_id = await _goal(client, user_headers)
    task = await _task(client, user_headers, goal_id, "Anything")
    result = (await _post(client, user_headers, task["id"], "execute")).json()
    assert result["status"] == "failed" and result["error"].startswith("NO_MODEL_CONFIGURED")


async def test_a_hand_run_task_whose_process_died_fails_on_recovery(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from tiangong.db.base import utcnow
    from tiangong.db.engine import session_factory
    from tiangong.goals import jobs
    from tiangong.goals.models import GoalTask

    goal_id = await _goal(client, user_headers)
    dead = await _task(client, user_headers, goal_id, "dead")
    alive = await _task(client, user_headers, goal_id, "alive")
    long_ago = utcnow() - timedelta(seconds=jobs.STALE_S * 4)
    async with session_factory()() as session:
        for task_id, beat in ((dead["id"], long_ago), (alive["id"], utcnow())):
            await session.execute(
                update(GoalTask)
                .where(GoalTask.id == task_id)
                .values(status="in_progress", run_lease=None, updated_at=beat)
            )
        await session.commit()
    await jobs.runner().recover()
    dead = (await client.get(f"{TASKS}/{dead['id']}", headers=user_headers)).json()
    assert dead["status"] == "failed" and dead["error"].startswith("TASK_INTERRUPTED")
    alive = (await client.get(f"{TASKS}/{alive['id']}", headers=user_headers)).json()
    assert alive["status"] == "in_progress"
    retried = await client.post(f"{TASKS}/{dead['id']}/retry", headers=user_headers)
    assert retried.status_code == 200 and retried.json()["status"] == "pending", retried.text


async def test_a_task_run_by_hand_beats_while_it_runs(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    monkeypatch: Any,
) -> None:
    from tiangong.goals import execution

    monkeypatch.setattr(execution, "HEARTBEAT_S", 0.05)
    goal_id = await _goal(client, user_headers)
    task = await _task(client, user_headers, goal_id, "slow")
    fake_llm.script([{"content": "done", "first_token_delay_ms": 400}])
    running = asyncio.create_task(
        client.post(f"{TASKS}/{task['id']}/execute", headers=user_headers)
    )
    await asyncio.sleep(0.15)
    first = (await client.get(f"{TASKS}/{task['id']}", headers=user_headers)).json()
    await asyncio.sleep(0.15)
    second = (await client.get(f"{TASKS}/{task['id']}", headers=user_headers)).json()
    assert first["status"] == second["status"] == "in_progress"
    assert second["updated_at"] > first["updated_at"]
    finished = await running
    assert finished.json()["status"] == "completed", finished.text
