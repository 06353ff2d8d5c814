from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

GOALS = "/api/v1/goals"
TASKS = "/api/v1/tasks"


async def make_goal(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"title": "Launch the blog", "description": "A small tech blog", **fields}
    response = await client.post(GOALS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def plan_reply(*tasks: dict[str, Any]) -> str:
    return json.dumps({"tasks": list(tasks)})


PLAN = plan_reply(
    {"key": "a", "title": "Pick a name"},
    {"key": "b", "title": "Write the first post", "depends_on": ["a"]},
    {"key": "b1", "title": "Outline", "parent": "b"},
    {"key": "c", "title": "Publish", "depends_on": ["b"], "priority": 5},
)


async def test_goal_crud_and_list(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    goal = await make_goal(client, user_headers)
    assert goal["status"] == "draft" and goal["agent_id"] is None
    assert goal["progress"] == {
        "total": 0,
        "completed": 0,
        "failed": 0,
        "percent": 0.0,
        "by_status": {},
    }
    await make_goal(client, user_headers, title="Second goal")
    listed = (await client.get(GOALS, params={"page_size": 1}, headers=user_headers)).json()
    assert listed["total"] == 2 and len(listed["items"]) == 1
    found = (await client.get(GOALS, params={"q": "second"}, headers=user_headers)).json()
    assert [g["title"] for g in found["items"]] == ["Second goal"]
    assert (await client.get(GOALS, headers=other_headers)).json()["total"] == 0

    url = f"{GOALS}/{goal['id']}"
    updated = await client.put(url, json={"title": "Relaunch"}, headers=user_headers)
    assert updated.status_code == 200 and updated.json()["title"] == "Relaunch"
    assert updated.json()["description"] == "A small tech blog"
    assert (await client.get(url, headers=user_headers)).json()["title"] == "Relaunch"
    assert (await client.delete(url, headers=user_headers)).status_code == 204
    gone = await client.get(url, headers=user_headers)
    assert gone.status_code == 404 and gone.json()["error"] == "GOAL_NOT_FOUND"


async def test_goal_input_is_validated(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for body in ({}, {"title": ""}, {"title": "x" * 201}, {"title": "t", "extra": 1}):
        response = await client.post(GOALS, json=body, headers=user_headers)
        assert response.status_code == 422, body
        assert response.json()["error"] == "VALIDATION_ERROR"
    missing_agent = await client.post(
        GOALS, json={"title": "t", "agent_id": "nope"}, headers=user_headers
    )
    assert missing_agent.status_code == 404 and missing_agent.json()["error"] == "AGENT_NOT_FOUND"
    bad_status = await client.get(GOALS, params={"status": "asleep"}, headers=user_headers)
    assert bad_status.status_code == 422


async def test_goals_need_a_token_and_are_private(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    goal = await make_goal(client, user_headers)
    url = f"{GOALS}/{goal['id']}"
    assert (await client.get(GOALS)).status_code == 401
    assert (await client.get(url)).status_code == 401
    for method, path in [
        ("GET", ""),
        ("PUT", ""),
        ("DELETE", ""),
        ("POST", "/start"),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/decompose"),
        ("POST", "/replan"),
        ("POST", "/execute-async"),
        ("POST", "/interact"),
        ("GET", "/tasks"),
    ]:
        body = {"message": "hi"} if path == "/interact" else {}
        response = await client.request(
            method, url + path, json=body if method != "GET" else None, headers=other_headers
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == "GOAL_NOT_FOUND"
    assert (await client.get(url, headers=user_headers)).status_code == 200


async def test_status_machine_allows_only_legal_moves(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    goal = await make_goal(client, user_headers)
    url = f"{GOALS}/{goal['id']}"

    async def act(action: str) -> httpx.Response:
        return await client.post(f"{url}/{action}", headers=user_headers)

    for illegal in ("pause", "resume"):
        response = await act(illegal)
        assert response.status_code == 409
        assert response.json()["error"] == "GOAL_INVALID_TRANSITION"
        assert "draft" in response.json()["message"]
    assert (await act("start")).json()["status"] == "running"
    assert (await act("start")).status_code == 409
    assert (await act("resume")).status_code == 409
    assert (await act("pause")).json()["status"] == "paused"
    assert (await act("pause")).status_code == 409
    assert (await act("resume")).json()["status"] == "running"


async def test_decompose_stores_the_models_plan_as_a_tree(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    goal = await make_goal(client, user_headers)
    fake_llm.script([{"content": f"Here is the plan:\n```json\n{PLAN}\n```"}])
    response = await client.post(
        f"{GOALS}/{goal['id']}/decompose",
        json={"max_tasks": 10, "instructions": "keep it short"},
        headers=user_headers,
    )
    assert response.status_code == 200, response.text
    tree = response.json()
    assert [t["title"] for t in tree["tasks"]] == ["Pick a name", "Write the first post", "Publish"]
    a, b, c = tree["tasks"]
    assert [child["title"] for child in b["children"]] == ["Outline"]
    assert b["children"][0]["parent_id"] == b["id"]
    assert b["depends_on"] == [a["id"]] and c["depends_on"] == [b["id"]]
    assert tree["progress"]["total"] == 4 and tree["progress"]["by_status"] == {"pending": 4}
    prompt = fake_llm.requests[-1]["messages"]
    assert "Launch the blog" in prompt[-1]["content"] and "keep it short" in prompt[-1]["content"]
    assert (await client.get(f"{GOALS}/{goal['id']}/tasks", headers=user_headers)).json() == tree
    again = await client.post(f"{GOALS}/{goal['id']}/decompose", headers=user_headers)
    assert again.status_code == 409 and again.json()["error"] == "GOAL_ALREADY_PLANNED"


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("Sure! First pick a name, then write.", "not valid JSON"),
        ('{"tasks": [{"key": "a"}]}', "bad field"),
        ('{"tasks": []}', "bad field"),
        (
            plan_reply(
                {"key": "a", "title": "A", "depends_on": ["b"]},
                {"key": "b", "title": "B", "depends_on": ["a"]},
            ),
            "cycle",
        ),
        (plan_reply({"key": "a", "title": "A", "depends_on": ["zzz"]}), "unknown"),
        (plan_reply({"key": "a", "title": "A"}, {"key": "a", "title": "B"}), "repeats"),
        (plan_reply(*({"key": f"k{i}", "title": "T"} for i in range(4))), "at most 3"),
        (
            plan_reply(
                {"key": "a", "title": "A", "parent": "b"}, {"key": "b", "title": "B", "parent": "a"}
            ),
            "not a tree",
        ),
    ],
)
async def test_decompose_refuses_a_bad_plan_and_writes_nothing(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    reply: str,
    why: str,
) -> None:
    goal = await make_goal(client, user_headers)
    fake_llm.script([{"content": reply}])
    response = await client.post(
        f"{GOALS}/{goal['id']}/decompose", json={"max_tasks": 3}, headers=user_headers
    )
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "GOAL_PLAN_INVALID"
    assert why in response.json()["message"]
    tree = (await client.get(f"{GOALS}/{goal['id']}/tasks", headers=user_headers)).json()
    assert tree["tasks"] == []


async def test_decompose_reports_model_failures_and_bad_input(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    goal = await make_goal(client, user_headers)
    url = f"{GOALS}/{goal['id']}/decompose"
    fake_llm.script([{"fault": "500", "times": 5}])
    failed = await client.post(url, headers=user_headers)
    assert failed.status_code == 502 and failed.json()["error"].startswith("LLM_")
    for body in ({"max_tasks": 0}, {"max_tasks": 51}, {"instructions": "x" * 4001}, {"x": 1}):
        assert (await client.post(url, json=body, headers=user_headers)).status_code == 422


async def test_decompose_without_a_model_is_a_clear_error(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    goal = await make_goal(client, user_headers)
    response = await client.post(f"{GOALS}/{goal['id']}/decompose", headers=user_headers)
    assert response.status_code == 400 and response.json()["error"] == "NO_MODEL_CONFIGURED"


async def test_decompose_uses_the_goals_agent(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent = await client.post(
        "/api/v1/agents",
        json={"name": "planner", "system_prompt": "Plan.", "model_config": {"model": "worker"}},
        headers=user_headers,
    )
    assert agent.status_code == 201, agent.text
    goal = await make_goal(client, user_headers, agent_id=agent.json()["id"])
    assert goal["agent_id"] == agent.json()["id"]
    fake_llm.script([{"content": plan_reply({"key": "a", "title": "Only"})}])
    response = await client.post(f"{GOALS}/{goal['id']}/decompose", headers=user_headers)
    assert response.status_code == 200, response.text
    assert fake_llm.requests[-1]["model"] == "fake-model"


async def _planned(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: Any, reply: str = PLAN
) -> tuple[str, dict[str, dict[str, Any]]]:
    goal = await make_goal(client, headers)
    fake_llm.script([{"content": reply}])
    tree = await client.post(f"{GOALS}/{goal['id']}/decompose", headers=headers)
    assert tree.status_code == 200, tree.text
    listed = await client.get(TASKS, params={"goal_id": goal["id"]}, headers=headers)
    return goal["id"], {t["title"]: t for t in listed.json()["items"]}


async def test_replan_keeps_completed_tasks_and_replaces_the_rest(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    goal_id, tasks = await _planned(client, user_headers, fake_llm)
    done = tasks["Pick a name"]
    completed = await client.post(
        f"{TASKS}/{done['id']}/complete", json={"result": "TechNotes"}, headers=user_headers
    )
    assert completed.json()["status"] == "completed"
    fake_llm.script(
        [
            {
                "content": plan_reply(
                    {"key": "x", "title": "Set up hosting", "depends_on": [done["id"]]},
                    {"key": "y", "title": "Go live", "depends_on": ["x"]},
                )
            }
        ]
    )
    response = await client.post(f"{GOALS}/{goal_id}/replan", headers=user_headers)
    assert response.status_code == 200, response.text
    titles = [t["title"] for t in response.json()["tasks"]]
    assert titles == ["Pick a name", "Set up hosting", "Go live"]
    hosting = response.json()["tasks"][1]
    assert hosting["depends_on"] == [done["id"]]
    prompt = fake_llm.requests[-1]["messages"][-1]["content"]
    assert "TechNotes" in prompt and done["id"] in prompt
    assert (
        await client.get(f"{TASKS}/{tasks['Publish']['id']}", headers=user_headers)
    ).status_code == 404


async def test_replan_refuses_while_tasks_are_in_progress(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    goal_id, tasks = await _planned(client, user_headers, fake_llm)
    await client.post(f"{TASKS}/{tasks['Pick a name']['id']}/claim", headers=user_headers)
    calls = len(fake_llm.requests)
    response = await client.post(f"{GOALS}/{goal_id}/replan", headers=user_headers)
    assert response.status_code == 409 and response.json()["error"] == "GOAL_TASKS_IN_PROGRESS"
    assert len(fake_llm.requests) == calls  # refused before asking the model


async def test_interact_answers_with_the_goal_as_context_and_keeps_history(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    goal_id, _ = await _planned(client, user_headers, fake_llm)
    url = f"{GOALS}/{goal_id}/interact"
    fake_llm.script([{"content": "Start with the name."}, {"content": "Then write."}])
    first = await client.post(url, json={"message": "What first?"}, headers=user_headers)
    assert first.status_code == 200, first.text
    assert first.json()["reply"] == "Start with the name."
    system = fake_llm.requests[-1]["messages"][0]["content"]
    assert "Launch the blog" in system and "Write the first post" in system
    second = (await client.post(url, json={"message": "And then?"}, headers=user_headers)).json()
    assert [(h["role"], h["content"]) for h in second["history"]] == [
        ("user", "What first?"),
        ("assistant", "Start with the name."),
        ("user", "And then?"),
        ("assistant", "Then write."),
    ]
    sent = [m["content"] for m in fake_llm.requests[-1]["messages"][1:]]
    assert sent == ["What first?", "Start with the name.", "And then?"]
    for body in ({}, {"message": ""}, {"message": "x" * 8001}):
        assert (await client.post(url, json=body, headers=user_headers)).status_code == 422


async def test_concurrent_interactions_both_land_in_the_history(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    goal_id, _ = await _planned(client, user_headers, fake_llm)
    url = f"{GOALS}/{goal_id}/interact"
    # Both answers arrive together, so both turns write the history at the same moment.
    fake_llm.script([{"content": "one", "first_token_delay_ms": 200}] * 2)
    replies = await asyncio.gather(
        client.post(url, json={"message": "a"}, headers=user_headers),
        client.post(url, json={"message": "b"}, headers=user_headers),
    )
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    # The history comes back with each reply; a third turn shows all that came before.
    fake_llm.script([{"content": "three"}])
    again = await client.post(url, json={"message": "c"}, headers=user_headers)
    history = again.json()["history"][:-2]
    contents = sorted(h["content"] for h in history)
    assert contents == ["a", "b", "one", "one"], history


async def test_execute_async_runs_tasks_in_dependency_order(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    from tiangong.goals import jobs

    goal_id, _ = await _planned(client, user_headers, fake_llm)
    fake_llm.script([{"content": "done: name"}, {"content": "done: outline"}])
    fake_llm.script([{"content": "done: post"}, {"content": "done: publish"}], append=True)
    response = await client.post(f"{GOALS}/{goal_id}/execute-async", headers=user_headers)
    assert response.status_code == 202, response.text
    handle = response.json()
    assert handle["status"] == "queued" and handle["goal_status"] == "running"
    await jobs.runner().idle()
    goal = (await client.get(f"{GOALS}/{goal_id}", headers=user_headers)).json()
    assert goal["status"] == "completed" and goal["run_id"] == handle["run_id"]
    assert goal["progress"]["percent"] == 100.0 and goal["run_active"] is False
    tasks = (await client.get(TASKS, params={"goal_id": goal_id}, headers=user_headers)).json()
    by_title = {t["title"]: t for t in tasks["items"]}
    assert all(t["status"] == "completed" and t["attempts"] == 1 for t in tasks["items"])
    order = sorted(by_title.values(), key=lambda t: t["started_at"])
    names = [t["title"] for t in order]
    assert names.index("Pick a name") < names.index("Write the first post") < names.index("Publish")
    assert by_title["Write the first post"]["session_id"]
    publish_prompt = [
        r for r in fake_llm.requests if "Your task: Publish" in r["messages"][-1]["content"]
    ]
    assert (
        publish_prompt
        and by_title["Write the first post"]["result"]
        in (publish_prompt[0]["messages"][-1]["content"])
    )


async def test_execute_async_needs_tasks_and_a_runnable_status(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    empty = await make_goal(client, user_headers)
    response = await client.post(f"{GOALS}/{empty['id']}/execute-async", headers=user_headers)
    assert response.status_code == 409 and response.json()["error"] == "GOAL_NOT_PLANNED"
    goal_id, _ = await _planned(client, user_headers, fake_llm)
    await client.post(f"{GOALS}/{goal_id}/start", headers=user_headers)
    await client.post(f"{GOALS}/{goal_id}/pause", headers=user_headers)
    paused = await client.post(f"{GOALS}/{goal_id}/execute-async", headers=user_headers)
    assert paused.status_code == 409 and "resume" in paused.json()["message"]


async def test_pausing_stops_picking_tasks_and_resume_carries_on(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    from tiangong.goals import jobs

    goal_id, tasks = await _planned(client, user_headers, fake_llm)
    # The first task answers slowly; the goal is paused meanwhile.
    fake_llm.script([{"content": "slow name", "delay_ms": 300}, {"content": "ok", "times": 5}])
    await client.post(f"{GOALS}/{goal_id}/execute-async", headers=user_headers)
    first = f"{TASKS}/{tasks['Pick a name']['id']}"
    for _ in range(200):
        if (await client.get(first, headers=user_headers)).json()["status"] == "in_progress":
            break
        await asyncio.sleep(0.01)
    paused = await client.post(f"{GOALS}/{goal_id}/pause", headers=user_headers)
    assert paused.json()["status"] == "paused"
    await jobs.runner().idle()
    listed = (await client.get(TASKS, params={"goal_id": goal_id}, headers=user_headers)).json()
    statuses = {t["title"]: t["status"] for t in listed["items"]}
    assert statuses["Pick a name"] == "completed"
    assert list(statuses.values()).count("completed") == 1
    resumed = await client.post(f"{GOALS}/{goal_id}/resume", headers=user_headers)
    assert resumed.json()["status"] == "running"
    await jobs.runner().idle()
    goal = (await client.get(f"{GOALS}/{goal_id}", headers=user_headers)).json()
    assert goal["status"] == "completed", goal


async def test_a_failed_task_fails_the_run_and_approval_waits(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    from tiangong.goals import jobs

    reply = plan_reply(
        {"key": "a", "title": "Draft", "requires_approval": True},
        {"key": "b", "title": "Send", "depends_on": ["a"]},
    )
    goal_id, tasks = await _planned(client, user_headers, fake_llm, reply)
    fake_llm.script([{"content": "the draft"}])
    await client.post(f"{GOALS}/{goal_id}/execute-async", headers=user_headers)
    await jobs.runner().idle()
    draft = (await client.get(f"{TASKS}/{tasks['Draft']['id']}", headers=user_headers)).json()
    assert draft["status"] == "awaiting_approval" and draft["result"] == "the draft"
    goal = (await client.get(f"{GOALS}/{goal_id}", headers=user_headers)).json()
    assert goal["status"] == "running"
    # Approving lets the run carry on; the next task fails at the model, so the goal fails.
    fake_llm.script([{"fault": "500", "times": 5}])
    approved = await client.post(f"{TASKS}/{draft['id']}/approve", headers=user_headers)
    assert approved.json()["status"] == "completed"
    await jobs.runner().idle()
    send = (await client.get(f"{TASKS}/{tasks['Send']['id']}", headers=user_headers)).json()
    assert send["status"] == "failed" and send["error"]
    goal = (await client.get(f"{GOALS}/{goal_id}", headers=user_headers)).json()
    assert goal["status"] == "failed" and goal["run_error"].startswith("GOAL_STUCK")
    # Retry the task, start the goal again, and the run finishes.
    assert (await client.post(f"{TASKS}/{send['id']}/retry", headers=user_headers)).json()[
        "status"
    ] == "pending"
    fake_llm.script([{"content": "sent"}])
    restarted = await client.post(f"{GOALS}/{goal_id}/start", headers=user_headers)
    assert restarted.json()["status"] == "running"
    await jobs.runner().idle()
    goal = (await client.get(f"{GOALS}/{goal_id}", headers=user_headers)).json()
    assert goal["status"] == "completed"
    send = (await client.get(f"{TASKS}/{send['id']}", headers=user_headers)).json()
    assert send["attempts"] == 2 and send["result"] == "sent"


async def test_a_redelivered_run_takes_over_a_dead_one_without_rerunning_done_tasks(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from tiangong.db.base import utcnow
    from tiangong.db.engine import session_factory
    from tiangong.goals.models import Goal, GoalTask
    from tiangong.goals.runner import run_goal

    reply = plan_reply({"key": "a", "title": "One"}, {"key": "b", "title": "Two"})
    goal_id, tasks = await _planned(client, user_headers, fake_llm, reply)
    one, two = tasks["One"], tasks["Two"]
    await client.post(f"{TASKS}/{one['id']}/complete", json={"result": "r1"}, headers=user_headers)
    # A worker died while running task Two: its lease is stale, the task left in progress.
    long_ago = utcnow() - timedelta(minutes=5)
    async with session_factory()() as session:
        await session.execute(
            update(Goal)
            .where(Goal.id == goal_id)
            .values(status="running", run_id="run-1", run_lease="dead", run_heartbeat_at=long_ago)
        )
        await session.execute(
            update(GoalTask)
            .where(GoalTask.id == two["id"])
            .values(status="in_progress", run_lease="dead", attempts=1)
        )
        await session.commit()
    fake_llm.reset()
    fake_llm.script([{"content": "r2"}])
    await run_goal(goal_id)  # the queue's redelivery of the same job
    prompts = [r["messages"][-1]["content"] for r in fake_llm.requests]
    assert len(prompts) == 1 and "Your task: Two" in prompts[0]
    two_now = (await client.get(f"{TASKS}/{two['id']}", headers=user_headers)).json()
    assert two_now["status"] == "completed" and two_now["attempts"] == 2
    goal = (await client.get(f"{GOALS}/{goal_id}", headers=user_headers)).json()
    assert goal["status"] == "completed"
    # Delivered once more after it is all done: nothing runs again.
    await run_goal(goal_id)
    assert len(fake_llm.requests) == 1


async def test_a_live_run_is_not_taken_over(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    from sqlalchemy import update

    from tiangong.db.base import utcnow
    from tiangong.db.engine import session_factory
    from tiangong.goals.models import Goal
    from tiangong.goals.runner import run_goal

    goal_id, _ = await _planned(client, user_headers, fake_llm)
    async with session_factory()() as session:
        await session.execute(
            update(Goal)
            .where(Goal.id == goal_id)
            .values(status="running", run_id="r", run_lease="alive", run_heartbeat_at=utcnow())
        )
        await session.commit()
    before = len(fake_llm.requests)
    await run_goal(goal_id)
    assert len(fake_llm.requests) == before


async def test_deleting_an_agent_unbinds_its_goals_and_tasks(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    agent = await client.post(
        "/api/v1/agents", json={"name": "doer", "system_prompt": "Do."}, headers=user_headers
    )
    agent_id = agent.json()["id"]
    goal = await make_goal(client, user_headers, agent_id=agent_id)
    task = await client.post(
        TASKS,
        json={"goal_id": goal["id"], "title": "t", "agent_id": agent_id},
        headers=user_headers,
    )
    assert task.status_code == 201 and task.json()["agent_id"] == agent_id
    deleted = await client.delete(f"/api/v1/agents/{agent_id}", headers=user_headers)
    assert deleted.status_code == 204, deleted.text
    goal_now = (await client.get(f"{GOALS}/{goal['id']}", headers=user_headers)).json()
    task_now = (await client.get(f"{TASKS}/{task.json()['id']}", headers=user_headers)).json()
    assert goal_now["agent_id"] is None and task_now["agent_id"] is None


async def test_update_can_bind_and_unbind_an_agent(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    agent = await client.post(
        "/api/v1/agents", json={"name": "a", "system_prompt": "x"}, headers=user_headers
    )
    foreign = await client.post(
        "/api/v1/agents", json={"name": "b", "system_prompt": "x"}, headers=other_headers
    )
    goal = await make_goal(client, user_headers)
    url = f"{GOALS}/{goal['id']}"
    bound = await client.put(url, json={"agent_id": agent.json()["id"]}, headers=user_headers)
    assert bound.json()["agent_id"] == agent.json()["id"]
    refused = await client.put(url, json={"agent_id": foreign.json()["id"]}, headers=user_headers)
    assert refused.status_code == 404 and refused.json()["error"] == "AGENT_NOT_FOUND"
    unbound = await client.put(url, json={"agent_id": None}, headers=user_headers)
    assert unbound.json()["agent_id"] is None
    assert (await client.put(url, json={"title": ""}, headers=user_headers)).status_code == 422
