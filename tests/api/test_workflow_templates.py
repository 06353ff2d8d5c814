"""Workflow templates: list, detail, create-from-template, and every template run end to end
against the fake LLM (and the real sandbox and a loopback HTTP server where they need them)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.loopback import LoopbackServer, allow_loopback
from tiangong.workflows.service import check
from tiangong.workflows.templates.catalogue import definition_of, template_ids

TEMPLATES = "/api/v1/workflows/templates"
WORKFLOWS = "/api/v1/workflows"
EXEC = "/api/v1/executions"


async def from_template(
    client: httpx.AsyncClient, headers: dict[str, str], template_id: str
) -> dict[str, Any]:
    response = await client.post(f"{TEMPLATES}/{template_id}/create", headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def execute(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    template_id: str,
    inputs: dict[str, Any],
) -> dict[str, Any]:
    workflow = await from_template(client, headers, template_id)
    response = await client.post(
        f"{WORKFLOWS}/{workflow['id']}/execute",
        json={"inputs": inputs, "mode": "sync", "timeout_s": 60},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def approve(
    client: httpx.AsyncClient, headers: dict[str, str], run: dict[str, Any], approved: bool
) -> dict[str, Any]:
    assert run["status"] == "paused", run
    [pending] = run["pending_approvals"]
    response = await client.post(
        f"{EXEC}/{run['id']}/resume",
        params={"wait_s": 30},
        json={"decisions": {pending["approval_id"]: {"approved": approved, "comment": "ok"}}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_every_template_validates() -> None:
    assert len(template_ids()) >= 8
    for template_id in template_ids():
        result = check(definition_of(template_id)["definition"])
        assert result.valid, (template_id, result.problems)


async def test_list_filters_and_detail(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.get(TEMPLATES, headers=user_headers)
    assert response.status_code == 200, response.text
    listed = {t["id"]: t for t in response.json()}
    assert set(listed) == set(template_ids())
    review = listed["content_review_loop"]
    assert {"llm", "condition", "loop", "approval", "code"} <= set(review["node_types"])
    assert review["required_inputs"] == ["topic"]
    covered = set().union(*(t["node_types"] for t in listed.values()))
    assert {
        "llm", "tool", "http_request", "code", "condition", "template", "variable_assign",
        "loop", "join", "approval", "delay",
    } <= covered  # fmt: skip

    data = (await client.get(TEMPLATES, params={"category": "Data"}, headers=user_headers)).json()
    assert [t["id"] for t in data] == ["data_cleanup"]
    found = (
        await client.get(TEMPLATES, params={"search": "TRANSLAT"}, headers=user_headers)
    ).json()
    assert [t["id"] for t in found] == ["translate_list"]
    none = (
        await client.get(TEMPLATES, params={"search": "zzz-nothing"}, headers=user_headers)
    ).json()
    assert none == []

    response = await client.get(f"{TEMPLATES}/content_review_loop", headers=user_headers)
    assert response.status_code == 200
    detail = response.json()
    assert detail["definition"] == definition_of("content_review_loop")["definition"]
    schema = detail["input_schema"]
    assert schema["required"] == ["topic"]
    assert schema["properties"]["sections"]["type"] == "array"
    assert schema["properties"]["sections"]["default"] == [
        "Introduction",
        "Main points",
        "Conclusion",
    ]


async def test_errors_and_auth(client: httpx.AsyncClient, user_headers: dict[str, str]) -> None:
    response = await client.get(f"{TEMPLATES}/nope", headers=user_headers)
    assert response.status_code == 404 and response.json()["error"] == "TEMPLATE_NOT_FOUND"
    response = await client.post(f"{TEMPLATES}/nope/create", headers=user_headers)
    assert response.status_code == 404 and response.json()["error"] == "TEMPLATE_NOT_FOUND"
    for body in ({"name": ""}, {"name": "x" * 101}, {"color": "red"}):
        response = await client.post(
            f"{TEMPLATES}/daily_report/create", json=body, headers=user_headers
        )
        assert response.status_code == 422, body
        assert response.json()["error"] == "VALIDATION_ERROR"
    assert (await client.get(TEMPLATES)).status_code == 401
    assert (await client.get(f"{TEMPLATES}/daily_report")).status_code == 401
    assert (await client.post(f"{TEMPLATES}/daily_report/create")).status_code == 401
    assert (await client.get(WORKFLOWS, headers=user_headers)).json()["total"] == 0


async def test_create_gives_a_workflow_of_the_caller_only(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    response = await client.post(
        f"{TEMPLATES}/daily_report/create",
        json={"name": "My report", "description": "mine"},
        headers=user_headers,
    )
    assert response.status_code == 201, response.text
    workflow = response.json()
    assert workflow["name"] == "My report" and workflow["description"] == "mine"
    assert workflow["version"] == 1
    assert workflow["definition"] == definition_of("daily_report")["definition"]
    plain = await from_template(client, user_headers, "daily_report")
    assert plain["name"] == "Daily report"
    assert (
        await client.get(f"{WORKFLOWS}/{workflow['id']}", headers=other_headers)
    ).status_code == 404
    assert (await client.get(WORKFLOWS, headers=other_headers)).json()["total"] == 0
    assert (await client.get(WORKFLOWS, headers=user_headers)).json()["total"] == 2


# --- each template runs ----------------------------------------------------------------------


async def test_customer_support_triage_routes_by_category(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script(
        [
            {"content": " Billing\n", "match": "Customer message"},
            {"content": "We have refunded the double charge.", "match": "billing question"},
        ]
    )
    run = await execute(
        client,
        user_headers,
        "customer_support_triage",
        {"message": "I was charged twice", "customer_name": "Ana"},
    )
    assert run["status"] == "succeeded", run
    assert run["outputs"] == {"category": "billing", "reply": "We have refunded the double charge."}
    statuses = {n["node_id"]: n["status"] for n in run["nodes"]}
    assert statuses["technical_reply"] == statuses["general_reply"] == "skipped"
    assert "Ana" in str(fake_llm.requests[-1]["messages"])

    fake_llm.script([{"content": "weather", "match": "Customer message"}])
    run = await execute(client, user_headers, "customer_support_triage", {"message": "Hi"})
    assert run["status"] == "succeeded", run
    assert run["outputs"]["category"] == "weather"
    assert run["outputs"]["reply"].startswith(
        "echo: Write a short reply to there about this request"
    )


async def test_content_review_loop_pauses_then_publishes(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    # Unscripted, the fake LLM echoes the prompt: deterministic.
    run = await execute(client, user_headers, "content_review_loop", {"topic": "tea"})
    assert run["status"] == "paused", run
    assert len(fake_llm.requests) == 3
    statuses = {n["node_id"]: n["status"] for n in run["nodes"]}
    assert statuses["review"] == "waiting" and statuses["gate"] == "succeeded"
    done = await approve(client, user_headers, run, True)
    assert done["status"] == "succeeded", done
    outputs = done["outputs"]
    assert outputs["status"] == "published" and outputs["comment"] == "ok"
    article = outputs["article"]
    assert article.startswith("# tea\n\n## Introduction\n\necho: Write one short paragraph")
    assert article.index("## Main points") < article.index("## Conclusion")
    assert outputs["word_count"] > 20


async def test_content_review_loop_rejects_blocks_and_skips_empty(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    run = await execute(
        client, user_headers, "content_review_loop", {"topic": "x", "sections": ["A"]}
    )
    done = await approve(client, user_headers, run, False)
    assert done["outputs"] == {"status": "rejected", "comment": "ok"}

    fake_llm.script([{"content": "Buy CheapPills now", "match": "paragraph"}])
    inputs = {"topic": "x", "sections": ["A"], "banned_words": ["cheappills"]}
    run = await execute(client, user_headers, "content_review_loop", inputs)
    assert run["status"] == "succeeded", run
    assert run["outputs"] == {"status": "blocked", "flagged": ["cheappills"]}

    run = await execute(client, user_headers, "content_review_loop", {"topic": "x", "sections": []})
    assert run["status"] == "succeeded" and run["outputs"] == {"status": "empty"}


async def test_summarise_and_publish_posts_after_approval(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    monkeypatch: Any,
) -> None:
    allow_loopback(monkeypatch)
    server = LoopbackServer().start()
    try:
        fake_llm.script([{"content": "Short summary.", "match": "Summarise"}])
        inputs = {"text": "one two three four five", "webhook_url": f"{server.url}/hook"}
        run = await execute(client, user_headers, "summarise_and_publish", inputs)
        done = await approve(client, user_headers, run, True)
    finally:
        server.stop()
    assert done["status"] == "succeeded", done
    assert done["outputs"] == {"published": True, "status": 200, "summary": "Short summary."}
    publish = next(n for n in done["nodes"] if n["node_id"] == "publish")
    echoed = publish["outputs"]["json"]
    assert echoed["method"] == "POST" and echoed["path"] == "/hook"
    sent = json.loads(echoed["body"])
    assert sent == {"title": "Summary", "summary": "Short summary.", "source_words": 5}


async def test_translate_list(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script(
        [
            {"content": "bonjour", "match": "French:\nhello"},
            {"content": "monde ", "match": "French:\nworld"},
        ]
    )
    inputs = {"texts": ["hello", "world"], "target_language": "French"}
    run = await execute(client, user_headers, "translate_list", inputs)
    assert run["status"] == "succeeded", run
    assert run["outputs"] == {
        "translations": [
            {"source": "hello", "translation": "bonjour"},
            {"source": "world", "translation": "monde"},
        ],
        "count": 2,
    }


async def test_parallel_perspectives(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script(
        [
            {"content": "PRO", "match": "case FOR"},
            {"content": "CON", "match": "case AGAINST"},
            {"content": "STEPS", "match": "first steps for"},
            {"content": "Do it carefully.", "match": "Weigh these"},
        ]
    )
    run = await execute(
        client, user_headers, "parallel_perspectives", {"question": "Move to Rust?"}
    )
    assert run["status"] == "succeeded", run
    assert run["outputs"] == {
        "recommendation": "Do it carefully.",
        "for": "PRO",
        "against": "CON",
        "first_steps": "STEPS",
    }
    weigh = str(fake_llm.requests[-1]["messages"])
    assert "PRO" in weigh and "CON" in weigh and "STEPS" in weigh


async def test_delayed_followup(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script([{"content": "  Is everything working now?  "}])
    inputs = {"customer_name": "Bo", "issue": "login fails", "wait_seconds": 0.1}
    run = await execute(client, user_headers, "delayed_followup", inputs)
    assert run["status"] == "succeeded", run
    assert run["outputs"]["email"] == (
        "Subject: Following up on your request\n\nHi Bo,\n\nIs everything working now?"
        "\n\nBest regards,\nSupport team\n"
    )


async def test_data_cleanup(client: httpx.AsyncClient, user_headers: dict[str, str]) -> None:
    records = [
        {"name": "  ada   lovelace ", "email": "ADA@example.com ", "age": 36},
        {"name": "Ada L", "email": "ada@example.com", "age": 99},
        {"name": "", "email": "nobody@example.com"},
        {"name": "Bad Email", "email": "nope"},
        {"name": "grace hopper", "email": "grace@example.com", "age": 40},
        "not a record",
    ]
    run = await execute(client, user_headers, "data_cleanup", {"records": records})
    assert run["status"] == "succeeded", run
    assert run["outputs"]["records"] == [
        {"name": "Ada Lovelace", "email": "ada@example.com", "age": 36},
        {"name": "Grace Hopper", "email": "grace@example.com", "age": 40},
    ]
    assert run["outputs"]["report"] == (
        "Kept 2 records; dropped 3 invalid and 1 duplicate. Age: mean 38.0, min 36.0, max 40.0."
    )

    no_ages = [{"name": "x", "email": "x@y.z"}]
    run = await execute(client, user_headers, "data_cleanup", {"records": no_ages})
    assert run["status"] == "succeeded", run
    assert run["outputs"]["report"] == "Kept 1 records; dropped 0 invalid and 0 duplicate."
    assert {n["node_id"]: n["status"] for n in run["nodes"]}["age_stats"] == "skipped"


async def _users(request: Request) -> JSONResponse:
    users = [
        {"id": 1, "name": "Ada", "email": "ada@example.com"},
        {"id": 2, "name": "Grace", "email": "grace@example.com"},
    ]
    return JSONResponse({"page": 1, "users": users})


async def _broken(request: Request) -> JSONResponse:
    return JSONResponse({"error": "down"}, status_code=503)


async def test_json_api_fetch(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: Any
) -> None:
    allow_loopback(monkeypatch)
    server = LoopbackServer([Route("/users", _users), Route("/broken", _broken)]).start()
    try:
        inputs = {"url": f"{server.url}/users", "fields": ["id", "name"]}
        ok = await execute(client, user_headers, "json_api_fetch", inputs)
        failed = await execute(
            client, user_headers, "json_api_fetch", {"url": f"{server.url}/broken"}
        )
    finally:
        server.stop()
    assert ok["status"] == "succeeded", ok
    assert ok["outputs"] == {
        "ok": True,
        "items": [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}],
        "count": 2,
    }
    assert failed["status"] == "succeeded", failed
    assert failed["outputs"]["ok"] is False and failed["outputs"]["status"] == 503


async def test_daily_report(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script(
        [{"content": "Signups grew. Churn held steady.\n", "match": "executive summary"}]
    )
    inputs = {
        "date": "2025-01-31",
        "metrics": {"signups": 42, "churn": "1.2%"},
        "highlights": ["Launched v2"],
    }
    run = await execute(client, user_headers, "daily_report", inputs)
    assert run["status"] == "succeeded", run
    outputs = run["outputs"]
    assert outputs["title"] == "Daily report 2025-01-31"
    assert outputs["report"] == (
        "# Daily report 2025-01-31\n\n| Metric | Value |\n|---|---|\n"
        "| churn | 1.2% |\n| signups | 42 |\n\n## Highlights\n\n- Launched v2\n"
        "\n## Summary\n\nSignups grew. Churn held steady.\n"
    )
    assert "| signups | 42 |" in str(fake_llm.requests[-1]["messages"])
