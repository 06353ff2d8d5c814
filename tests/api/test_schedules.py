"""Agent and workflow schedules: CRUD with cron and time zone checks, previews, manual runs,
run history, deletion with the target, and exactly-once firing under concurrent schedulers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from tiangong.db.engine import session_factory
from tiangong.schedules import scheduler
from tiangong.schedules.models import AgentSchedule, ScheduleRun
from tiangong.workflows.models import WorkflowRun

API = "/api/v1/agent-schedules"
# Far beyond the real clock, so the app's own scheduler loop never finds these times due.
FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def noop_graph() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {"inputs": [{"name": "n"}]}},
            {"id": "end", "type": "end", "config": {"outputs": {"n": "{{start.n}}"}}},
        ],
        "edges": [{"source": "start", "target": "end"}],
    }


async def make_workflow(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    body = {"name": "nightly", "definition": noop_graph()}
    response = await client.post("/api/v1/workflows", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def make_agent(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    body = {"name": "reporter", "system_prompt": "Report.", "iteration_limit": 2}
    response = await client.post("/api/v1/agents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def make_schedule(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post(
        API, json={"name": "s", "cron": "0 9 * * *", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def workflow_schedule(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    wf = await make_workflow(client, headers)
    payload = {"inputs": {"n": "7"}}
    return await make_schedule(
        client, headers, target_type="workflow", target_id=wf, payload=payload, **body
    )


async def set_due(schedule_id: str, when: datetime) -> None:
    async with session_factory()() as session:
        await session.execute(
            update(AgentSchedule).where(AgentSchedule.id == schedule_id).values(next_run_at=when)
        )
        await session.commit()


async def counts(schedule_id: str, workflow_id: str) -> tuple[int, int]:
    async with session_factory()() as session:
        runs = await session.execute(
            select(func.count()).where(ScheduleRun.schedule_id == schedule_id)
        )
        wf_runs = await session.execute(
            select(func.count()).where(
                WorkflowRun.workflow_id == workflow_id, WorkflowRun.trigger == "schedule"
            )
        )
        return int(runs.scalar_one()), int(wf_runs.scalar_one())


async def test_create_computes_next_run_in_the_time_zone_and_previews_five(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    schedule = await workflow_schedule(client, user_headers, timezone="Asia/Shanghai")
    # 09:00 in Shanghai is 01:00 UTC.
    next_run = datetime.fromisoformat(schedule["next_run_at"])
    assert next_run.astimezone(UTC).hour == 1 and next_run > datetime.now(UTC)
    assert len(schedule["next_runs"]) == 5
    assert all(t.endswith("+08:00") and "T09:00:00" in t for t in schedule["next_runs"])
    got = await client.get(f"{API}/{schedule['id']}", headers=user_headers)
    assert got.status_code == 200 and got.json()["next_runs"] == schedule["next_runs"]
    listed = await client.get(API, params={"target_type": "workflow"}, headers=user_headers)
    assert listed.json()["total"] == 1
    listed = await client.get(API, params={"enabled": "false"}, headers=user_headers)
    assert listed.json()["total"] == 0
    listed = await client.get(
        API, params={"target_id": schedule["target_id"]}, headers=user_headers
    )
    assert [s["id"] for s in listed.json()["items"]] == [schedule["id"]]


async def test_update_recomputes_and_disabling_clears_next_run(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    schedule = await workflow_schedule(client, user_headers)
    url = f"{API}/{schedule['id']}"
    response = await client.put(
        url, json={"cron": "30 6 * * 1", "name": "weekly"}, headers=user_headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "weekly"
    assert datetime.fromisoformat(body["next_run_at"]).weekday() == 0
    response = await client.put(url, json={"enabled": False}, headers=user_headers)
    assert response.json()["next_run_at"] is None
    response = await client.put(url, json={"enabled": True}, headers=user_headers)
    assert response.json()["next_run_at"] is not None
    response = await client.put(url, json={"payload": {"message": "x"}}, headers=user_headers)
    assert response.status_code == 422
    response = await client.put(url, json={"target_type": "agent"}, headers=user_headers)
    assert response.status_code == 422


async def test_bad_cron_time_zone_and_payload_are_422(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    base = {"name": "s", "target_type": "workflow", "target_id": wf, "cron": "0 9 * * *"}
    for bad in (
        {"cron": "every day"},
        {"cron": "* * *"},
        {"cron": "0 0 31 2 *"},
        {"cron": "*/5 * * * * *"},
        {"timezone": "Mars/Olympus"},
        {"timezone": "../../etc/passwd"},
        {"payload": {"message": "agents only"}},
        {"payload": {"inputs": "not a dict"}},
        {"target_type": "team"},
        {"name": ""},
    ):
        response = await client.post(API, json={**base, **bad}, headers=user_headers)
        assert response.status_code == 422, (bad, response.text)
        assert "error" in response.json() and "message" in response.json()
    agent = await make_agent(client, user_headers)
    response = await client.post(
        API, json={**base, "target_type": "agent", "target_id": agent}, headers=user_headers
    )
    assert response.status_code == 422  # an agent schedule needs payload.message


async def test_preview_without_saving(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    body = {"cron": "0 */6 * * *", "timezone": "Europe/Berlin", "count": 8}
    response = await client.post(f"{API}/preview", json=body, headers=user_headers)
    assert response.status_code == 200, response.text
    times = [datetime.fromisoformat(t) for t in response.json()["next_runs"]]
    assert len(times) == 8 and times == sorted(times)
    assert all(t.hour % 6 == 0 and t.minute == 0 for t in times)
    response = await client.post(f"{API}/preview", json={"cron": "nope"}, headers=user_headers)
    assert response.status_code == 422
    response = await client.post(
        f"{API}/preview", json={"cron": "* * * * *", "count": 1000}, headers=user_headers
    )
    assert response.status_code == 422
    assert (await client.post(f"{API}/preview", json=body)).status_code == 401
    assert (await client.get(API, headers=user_headers)).json()["total"] == 0


async def test_target_must_exist_and_be_owned(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    theirs = await make_workflow(client, other_headers)
    their_agent = await make_agent(client, other_headers)
    for target_type, target_id, payload in (
        ("workflow", theirs, {}),
        ("agent", their_agent, {"message": "hi"}),
        ("workflow", "00000000-0000-0000-0000-000000000000", {}),
    ):
        body = {
            "name": "s",
            "target_type": target_type,
            "target_id": target_id,
            "cron": "0 9 * * *",
            "payload": payload,
        }
        response = await client.post(API, json=body, headers=user_headers)
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "SCHEDULE_TARGET_NOT_FOUND"


async def test_no_token_and_another_users_schedule(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    schedule = await workflow_schedule(client, user_headers)
    url = f"{API}/{schedule['id']}"
    calls = [
        ("get", url, None),
        ("put", url, {"name": "mine now"}),
        ("delete", url, None),
        ("post", f"{url}/trigger", None),
        ("get", f"{url}/runs", None),
    ]
    for method, path, body in calls:
        response = await client.request(method, path, json=body, headers=other_headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "SCHEDULE_NOT_FOUND"
        assert (await client.request(method, path, json=body)).status_code == 401
    assert (await client.get(API)).status_code == 401
    assert (await client.get(API, headers=other_headers)).json()["total"] == 0
    assert (await client.get(url, headers=user_headers)).json()["name"] == "s"


async def test_manual_trigger_runs_the_workflow_and_history_shows_its_outcome(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    schedule = await workflow_schedule(client, user_headers)
    response = await client.post(f"{API}/{schedule['id']}/trigger", headers=user_headers)
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["trigger"] == "manual" and run["result_id"]
    execution = await client.get(f"/api/v1/executions/{run['result_id']}", headers=user_headers)
    assert execution.json()["inputs"] == {"n": "7"}
    for _ in range(100):
        history = (await client.get(f"{API}/{schedule['id']}/runs", headers=user_headers)).json()
        if history["items"][0]["status"] == "succeeded":
            break
        await asyncio.sleep(0.05)
    assert history["total"] == 1 and history["items"][0]["status"] == "succeeded"
    assert history["items"][0]["finished_at"] is not None
    # Manual runs leave the cron times alone.
    got = (await client.get(f"{API}/{schedule['id']}", headers=user_headers)).json()
    assert got["next_run_at"] == schedule["next_run_at"]


async def test_agent_schedule_starts_a_chat_turn(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script([{"content": "daily report: all good"}])
    agent = await make_agent(client, user_headers)
    schedule = await make_schedule(
        client,
        user_headers,
        target_type="agent",
        target_id=agent,
        payload={"message": "write the daily report"},
    )
    response = await client.post(f"{API}/{schedule['id']}/trigger", headers=user_headers)
    assert response.status_code == 202, response.text
    conversation_id = response.json()["result_id"]
    assert conversation_id
    for _ in range(200):
        history = (await client.get(f"{API}/{schedule['id']}/runs", headers=user_headers)).json()
        if history["items"][0]["status"] != "running":
            break
        await asyncio.sleep(0.05)
    assert history["items"][0]["status"] == "succeeded", history
    assert fake_llm.requests[-1]["messages"][-1]["content"] == "write the daily report"


async def test_a_failing_target_is_recorded_as_failed(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    agent = await make_agent(client, user_headers)
    schedule = await make_schedule(
        client, user_headers, target_type="agent", target_id=agent, payload={"message": "hi"}
    )
    # No model is configured for this user, so the turn cannot start.
    response = await client.post(f"{API}/{schedule['id']}/trigger", headers=user_headers)
    assert response.status_code == 202
    assert response.json()["status"] == "failed" and response.json()["error"]["code"]


async def test_deleting_the_target_deletes_its_schedules(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    schedule = await workflow_schedule(client, user_headers)
    await client.post(f"{API}/{schedule['id']}/trigger", headers=user_headers)
    agent = await make_agent(client, user_headers)
    agent_schedule = await make_schedule(
        client, user_headers, target_type="agent", target_id=agent, payload={"message": "hi"}
    )
    response = await client.delete(
        f"/api/v1/workflows/{schedule['target_id']}", headers=user_headers
    )
    assert response.status_code == 204
    assert (await client.get(f"{API}/{schedule['id']}", headers=user_headers)).status_code == 404
    assert (await client.delete(f"/api/v1/agents/{agent}", headers=user_headers)).status_code == 204
    response = await client.get(f"{API}/{agent_schedule['id']}", headers=user_headers)
    assert response.status_code == 404
    async with session_factory()() as session:
        left = await session.execute(select(func.count()).select_from(ScheduleRun))
        assert left.scalar_one() == 0


async def test_delete_schedule(client: httpx.AsyncClient, user_headers: dict[str, str]) -> None:
    schedule = await workflow_schedule(client, user_headers)
    assert (await client.delete(f"{API}/{schedule['id']}", headers=user_headers)).status_code == 204
    assert (await client.get(f"{API}/{schedule['id']}", headers=user_headers)).status_code == 404
    assert (await client.delete(f"{API}/{schedule['id']}", headers=user_headers)).status_code == 404


async def test_missed_times_fire_once_then_continue_from_now(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    schedule = await workflow_schedule(client, user_headers, cron="*/10 * * * *")
    now = FUTURE + timedelta(hours=5, minutes=3)
    await set_due(schedule["id"], FUTURE)  # five hours of missed times
    fired = await scheduler.tick(now)
    assert len(fired) == 1
    assert await scheduler.tick(now) == []
    got = (await client.get(f"{API}/{schedule['id']}", headers=user_headers)).json()
    assert datetime.fromisoformat(got["next_run_at"]) == FUTURE + timedelta(hours=5, minutes=10)
    history = (await client.get(f"{API}/{schedule['id']}/runs", headers=user_headers)).json()
    assert [datetime.fromisoformat(r["due_at"]) for r in history["items"]] == [FUTURE]
    assert history["items"][0]["trigger"] == "cron"


async def test_concurrent_ticks_fire_a_due_schedule_exactly_once(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    schedule = await workflow_schedule(client, user_headers, cron="* * * * *")
    await set_due(schedule["id"], FUTURE)
    results = await asyncio.gather(*(scheduler.tick(FUTURE) for _ in range(5)))
    assert sum(len(fired) for fired in results) == 1
    assert await counts(schedule["id"], schedule["target_id"]) == (1, 1)
    # Disabled schedules are not due.
    await client.put(f"{API}/{schedule['id']}", json={"enabled": False}, headers=user_headers)
    assert await scheduler.tick(FUTURE + timedelta(days=1)) == []


async def test_two_scheduler_loops_fire_each_due_time_once(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    schedules = [await workflow_schedule(client, user_headers, cron="* * * * *") for _ in range(2)]
    clock = {"now": FUTURE}
    for schedule in schedules:
        await set_due(schedule["id"], FUTURE)
    loops = [scheduler.Scheduler(0.01, clock=lambda: clock["now"]) for _ in range(2)]
    for loop in loops:
        loop.start()
    try:
        for minute in range(1, 4):
            await asyncio.sleep(0.4)
            clock["now"] = FUTURE + timedelta(minutes=minute)
        await asyncio.sleep(0.4)
    finally:
        for loop in loops:
            await loop.stop()
    expected = [FUTURE + timedelta(minutes=m) for m in range(4)]
    for schedule in schedules:
        assert await counts(schedule["id"], schedule["target_id"]) == (4, 4)
        history = (await client.get(f"{API}/{schedule['id']}/runs", headers=user_headers)).json()
        assert sorted(datetime.fromisoformat(r["due_at"]) for r in history["items"]) == expected
