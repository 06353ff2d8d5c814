"""Scene contracts: CRUD, the read-only presets, prompt generation, evaluation prompts and
input validation against a contract's input_schema."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests import backends
from tests.api.asserts import assert_error

API = "/api/v1/scene-contracts"
PRESET_IDS = {
    "contract_customer_service",
    "contract_dev_codegen",
    "contract_ops_log_analysis",
    "contract_learning_assistant",
    "contract_pr_review",
    "contract_daily_report",
    "contract_interview_scheduler",
    "contract_competitor_monitor",
    "contract_test_report",
    "contract_onboarding_guide",
    "contract_risk_alert",
}
CONTRACT: dict[str, Any] = {
    "name": "周报生成",
    "goal": "把本周的工作记录整理成周报",
    "role": "项目助理",
    "constraints": ["只写记录中出现的工作"],
    "forbidden_actions": ["编造工作量"],
    "deliverables": [{"name": "周报", "format": "markdown", "description": "四个部分"}],
    "acceptance_criteria": ["包含下周计划"],
    "examples": [{"input": "修了 bug", "output": "## 本周完成\n- 修复 bug"}],
    "category": "office",
    "tags": ["周报"],
    "input_schema": {
        "type": "object",
        "properties": {
            "notes": {"type": "string", "minLength": 1},
            "week": {"type": "integer", "minimum": 1, "maximum": 53},
        },
        "required": ["notes"],
    },
    "output_schema": {},
}


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post(API, json={**CONTRACT, **overrides}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_crud_paging_category_and_search(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    first = await create(client, user_headers)
    assert first["deliverables"] == CONTRACT["deliverables"] and first["owner_id"]
    assert first["is_preset"] is False and first["created_at"]
    await create(client, user_headers, name="日志分析", goal="找出错误根因", category="ops")
    await create(client, user_headers, name="面试", goal="安排面试并通知周报作者", category="hr")

    listed = (await client.get(API, params={"page_size": 2}, headers=user_headers)).json()
    assert listed["total"] == 3 and len(listed["items"]) == 2 and listed["page_size"] == 2
    page2 = (await client.get(API, params={"page_size": 2, "page": 2}, headers=user_headers)).json()
    assert len(page2["items"]) == 1
    ops = (await client.get(API, params={"category": "ops"}, headers=user_headers)).json()
    assert [c["name"] for c in ops["items"]] == ["日志分析"]
    # q matches the name of one contract and the goal of another.
    found = (await client.get(API, params={"q": "周报"}, headers=user_headers)).json()
    assert sorted(c["name"] for c in found["items"]) == sorted(["周报生成", "面试"])

    got = await client.get(f"{API}/{first['id']}", headers=user_headers)
    assert got.status_code == 200 and got.json()["input_schema"] == CONTRACT["input_schema"]
    response = await client.put(
        f"{API}/{first['id']}", json={"name": "改名", "tags": ["a", "b"]}, headers=user_headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (
        body["name"] == "改名" and body["tags"] == ["a", "b"] and body["goal"] == CONTRACT["goal"]
    )

    assert (await client.delete(f"{API}/{first['id']}", headers=user_headers)).status_code == 204
    assert_error(
        await client.get(f"{API}/{first['id']}", headers=user_headers),
        404,
        "SCENE_CONTRACT_NOT_FOUND",
    )
    assert (await client.get(API, headers=user_headers)).json()["total"] == 2


async def test_presets_are_listed_readable_and_read_only(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    listed = (await client.get(f"{API}/presets", headers=user_headers)).json()
    assert {p["id"] for p in listed} == PRESET_IDS
    assert all(p["name"] and p["goal_summary"] and p["category"] for p in listed)

    full = (await client.get(f"{API}/presets/contract_pr_review", headers=user_headers)).json()
    assert full["is_preset"] is True and full["read_only"] is True and full["owner_id"] is None
    assert full["acceptance_criteria"] and full["input_schema"]["required"] == ["diff"]
    # The plain detail route opens presets too.
    same = (await client.get(f"{API}/contract_pr_review", headers=user_headers)).json()
    assert same == full

    path = f"{API}/contract_pr_review"
    changed = await client.put(path, json={"name": "mine"}, headers=user_headers)
    assert_error(changed, 403, "SCENE_CONTRACT_READ_ONLY")
    assert_error(await client.delete(path, headers=user_headers), 403, "SCENE_CONTRACT_READ_ONLY")
    missing = await client.get(f"{API}/presets/contract_nope", headers=user_headers)
    assert_error(missing, 404, "SCENE_CONTRACT_NOT_FOUND")
    # A user's own contract is not a preset.
    own = await create(client, user_headers)
    response = await client.get(f"{API}/presets/{own['id']}", headers=user_headers)
    assert_error(response, 404, "SCENE_CONTRACT_NOT_FOUND")


async def test_every_preset_has_a_working_input_schema_and_prompt(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for preset_id in sorted(PRESET_IDS):
        ref = {"contract_id": preset_id}
        response = await client.post(
            f"{API}/validate-input", json={**ref, "input": {}}, headers=user_headers
        )
        assert response.status_code == 200, (preset_id, response.text)
        assert response.json()["valid"] is False, preset_id  # each preset requires something
        prompt = await client.post(f"{API}/generate-prompt", json=ref, headers=user_headers)
        assert prompt.status_code == 200 and "# 验收标准" in prompt.json()["system_prompt"]


async def test_bad_input_is_a_clear_4xx(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    bad_bodies = [
        {k: v for k, v in CONTRACT.items() if k != "goal"},
        {**CONTRACT, "name": "x" * 101},
        {**CONTRACT, "tags": [f"t{i}" for i in range(21)]},
        {**CONTRACT, "deliverables": [{"name": "x", "colour": "red"}]},
        {**CONTRACT, "unknown": 1},
        {**CONTRACT, "input_schema": {"blob": "x" * 20_001}},
    ]
    for body in bad_bodies:
        assert_error(
            await client.post(API, json=body, headers=user_headers), 422, "VALIDATION_ERROR"
        )
    # 1e309 parses as infinity, which is not JSON: refused, never stored.
    raw = b'{"name": "n", "goal": "g", "input_schema": {"maximum": 1e309}}'
    response = await client.post(
        API, content=raw, headers={**user_headers, "Content-Type": "application/json"}
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    bad_schema = {**CONTRACT, "input_schema": {"type": "no-such-type"}}
    assert_error(
        await client.post(API, json=bad_schema, headers=user_headers), 400, "INVALID_INPUT_SCHEMA"
    )
    own = await create(client, user_headers)
    response = await client.put(
        f"{API}/{own['id']}", json={"output_schema": {"required": "x"}}, headers=user_headers
    )
    assert_error(response, 400, "INVALID_OUTPUT_SCHEMA")
    for body in (
        {},
        {"contract_id": own["id"], "contract": CONTRACT},
        {"contract_id": own["id"], "language": "fr"},
    ):
        response = await client.post(f"{API}/generate-prompt", json=body, headers=user_headers)
        assert_error(response, 422, "VALIDATION_ERROR")
    for params in ({"page": 0}, {"page_size": 101}, {"q": "x" * 101}):
        response = await client.get(API, params=params, headers=user_headers)
        assert_error(response, 422, "VALIDATION_ERROR")


async def test_nul_characters_are_bad_input_not_a_crash(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    # As elsewhere: PostgreSQL refuses NUL in text (400); the other databases store it.
    pg = backends.BACKEND == "postgres"
    response = await client.post(API, json={**CONTRACT, "name": "a\x00b"}, headers=user_headers)
    assert response.status_code == (400 if pg else 201), response.text
    response = await client.get(f"{API}/%00", headers=user_headers)
    assert response.status_code == (400 if pg else 404), response.text
    assert "message" in response.json()


async def test_no_token_is_401(client: httpx.AsyncClient) -> None:
    calls = [
        ("GET", API),
        ("POST", API),
        ("GET", f"{API}/presets"),
        ("GET", f"{API}/presets/contract_pr_review"),
        ("GET", f"{API}/contract_pr_review"),
        ("PUT", f"{API}/x"),
        ("DELETE", f"{API}/x"),
        ("POST", f"{API}/generate-prompt"),
        ("POST", f"{API}/evaluate"),
        ("POST", f"{API}/validate-input"),
    ]
    for method, url in calls:
        response = await client.request(method, url, json={"contract_id": "contract_pr_review"})
        assert_error(response, 401, "NOT_AUTHENTICATED")


async def test_another_users_contract_is_404(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    own = await create(client, user_headers)
    url = f"{API}/{own['id']}"
    assert_error(await client.get(url, headers=other_headers), 404, "SCENE_CONTRACT_NOT_FOUND")
    response = await client.put(url, json={"name": "stolen"}, headers=other_headers)
    assert_error(response, 404, "SCENE_CONTRACT_NOT_FOUND")
    assert_error(await client.delete(url, headers=other_headers), 404, "SCENE_CONTRACT_NOT_FOUND")
    ref = {"contract_id": own["id"]}
    for path, extra in (
        ("generate-prompt", {}),
        ("evaluate", {"output": "x"}),
        ("validate-input", {"input": {}}),
    ):
        response = await client.post(f"{API}/{path}", json={**ref, **extra}, headers=other_headers)
        assert_error(response, 404, "SCENE_CONTRACT_NOT_FOUND")
    assert (await client.get(API, headers=other_headers)).json()["total"] == 0
    # Bob's attempts changed nothing.
    assert (await client.get(url, headers=user_headers)).json()["name"] == CONTRACT["name"]


async def test_generated_prompt_has_every_section_in_order(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    own = await create(client, user_headers, output_schema={"type": "object"})
    url = f"{API}/generate-prompt"
    prompt = (await client.post(url, json={"contract_id": own["id"]}, headers=user_headers)).json()
    text = prompt["system_prompt"]
    headings = ["# 角色", "# 目标", "# 约束", "# 禁止事项", "# 交付物", "# 输出结构", "# 验收标准"]
    positions = [text.index(h) for h in headings + ["# 示例"]]
    assert positions == sorted(positions)
    for part in ("项目助理", "1. 只写记录中出现的工作", "1. 编造工作量", "1. 包含下周计划"):
        assert part in text
    assert "1. 周报 (格式: markdown): 四个部分" in text
    assert "## 示例 1\n输入:\n修了 bug\n输出:\n## 本周完成" in text
    # Deterministic, and the same for the saved contract and the same contract given inline.
    inline = {**CONTRACT, "output_schema": {"type": "object"}}
    again = await client.post(url, json={"contract": inline}, headers=user_headers)
    assert again.json() == prompt

    english = await client.post(
        url, json={"contract_id": own["id"], "language": "en"}, headers=user_headers
    )
    text = english.json()["system_prompt"]
    assert "# Role" in text and "# Acceptance criteria" in text and "(format: markdown)" in text
    # Empty sections are left out.
    bare = {"name": "n", "goal": "Only a goal."}
    text = (await client.post(url, json={"contract": bare}, headers=user_headers)).json()
    assert text["system_prompt"] == "# 目标\nOnly a goal.\n"


async def test_evaluation_prompt_lists_every_check_and_the_answer_format(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    own = await create(client, user_headers)
    body = {
        "contract_id": own["id"],
        "output": "## 本周完成\n- 修复 bug",
        "input": {"notes": "修了 bug"},
    }
    response = await client.post(f"{API}/evaluate", json=body, headers=user_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert [(c["id"], c["kind"]) for c in result["criteria"]] == [
        ("G1", "goal"),
        ("A1", "acceptance"),
        ("D1", "deliverable"),
        ("F1", "forbidden"),
    ]
    text = result["evaluation_prompt"]
    assert "- A1: 包含下周计划" in text and "- D1: 提供了交付物“周报”，格式为 markdown" in text
    assert "<<<OUTPUT\n## 本周完成\n- 修复 bug\nOUTPUT>>>" in text
    assert '"notes": "修了 bug"' in text
    assert '"results": [' in text and '"passed": true' in text

    preset = {"contract_id": "contract_risk_alert", "output": "ok", "language": "en"}
    result = (await client.post(f"{API}/evaluate", json=preset, headers=user_headers)).json()
    assert len(result["criteria"]) == 1 + 4 + 3 + 3
    assert "Answer with one JSON object" in result["evaluation_prompt"]
    assert "<<<INPUT" not in result["evaluation_prompt"]


async def test_input_validation_valid_invalid_and_broken_schemas(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    own = await create(client, user_headers)
    url = f"{API}/validate-input"

    async def check(body: dict[str, Any]) -> httpx.Response:
        return await client.post(url, json=body, headers=user_headers)

    ok = await check({"contract_id": own["id"], "input": {"notes": "x", "week": 3}})
    assert ok.status_code == 200 and ok.json() == {"valid": True, "errors": []}
    bad = await check({"contract_id": own["id"], "input": {"notes": "", "week": 60}})
    assert bad.status_code == 200, bad.text
    assert bad.json()["valid"] is False
    assert {e["path"] for e in bad.json()["errors"]} == {"$.notes", "$.week"}
    missing = (await check({"contract_id": own["id"], "input": {}})).json()
    assert missing["errors"] == [{"path": "$", "message": "'notes' is a required property"}]

    def inline(schema: dict[str, Any]) -> dict[str, Any]:
        return {"contract": {"name": "n", "goal": "g", "input_schema": schema}, "input": {"a": 1}}

    assert_error(await check(inline({"type": 12})), 400, "INVALID_INPUT_SCHEMA")
    # References resolve only inside the schema: no network, no endless self-reference.
    for schema in (
        {"$ref": "#/$defs/missing"},
        {"$ref": "http://127.0.0.1:9/schema.json"},
        {"$ref": "#"},
    ):
        assert_error(await check(inline(schema)), 400, "INVALID_INPUT_SCHEMA")
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "required": ["b"]}
    result = (await check(inline(draft7))).json()
    assert result["valid"] is False and "'b' is a required property" in str(result["errors"])


async def test_patterns_match_and_a_runaway_pattern_is_refused_in_time(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """`pattern` and `patternProperties` work; a pattern that backtracks without bound (seconds
    per request on Python's `re`, blocking the server) is stopped and refused as a bad schema."""
    url = f"{API}/validate-input"

    def body(schema: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
        return {"contract": {"name": "n", "goal": "g", "input_schema": schema}, "input": value}

    schema = {
        "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}-\\d+$"}},
        "patternProperties": {"^x-": {"type": "integer"}},
    }
    good = await client.post(
        url, json=body(schema, {"code": "ABC-12", "x-n": 1}), headers=user_headers
    )
    assert good.json() == {"valid": True, "errors": []}
    bad = await client.post(
        url, json=body(schema, {"code": "abc", "x-n": "1"}), headers=user_headers
    )
    assert {e["path"] for e in bad.json()["errors"]} == {"$.code", "$['x-n']"}, bad.text
    evil = {"properties": {"s": {"type": "string", "pattern": "^(a|aa)+$"}}}
    started = time.perf_counter()
    response = await client.post(url, json=body(evil, {"s": "a" * 60 + "b"}), headers=user_headers)
    assert time.perf_counter() - started < 2
    assert_error(response, 400, "INVALID_INPUT_SCHEMA")
    broken = {"properties": {"s": {"type": "string", "pattern": "(unclosed"}}}
    response = await client.post(url, json=body(broken, {"s": "x"}), headers=user_headers)
    assert_error(response, 400, "INVALID_INPUT_SCHEMA")
