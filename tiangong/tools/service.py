"""The tool catalogue as users see it: builtin tools plus their own HTTP and code tools."""

from __future__ import annotations

import json
import time
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.errors import AppError, BadRequest, Conflict, NotFound
from tiangong.knowledge import grounding
from tiangong.knowledge.tool import EXTRA as KNOWLEDGE_EXTRA
from tiangong.plugins import catalog as plugin_catalog
from tiangong.runtime.tools import BUILTIN, Tool, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool
from tiangong.runtime.tools.http_tool import HttpAuth, HttpTool
from tiangong.runtime.tools.openapi import tools_from_openapi
from tiangong.security.crypto import encrypt, mask
from tiangong.tools import platform, repository
from tiangong.tools.models import CustomTool
from tiangong.tools.schemas import (
    CategoryCount,
    CodeRunRead,
    CodeToolTest,
    HttpToolTest,
    OpenAPIImport,
    OpenAPIImportResult,
    ToolCreate,
    ToolList,
    ToolRead,
    ToolUpdate,
    ToolUseResult,
)

MAX_SPEC_BYTES = 2 * 1024 * 1024


def builtin_read(tool: Tool) -> ToolRead:
    return ToolRead(
        id=tool.name,
        name=tool.name,
        description=tool.description,
        category=tool.category,
        kind="builtin",
        requires_approval=tool.requires_approval,
        input_schema=tool.input_schema(),
        output_schema=tool.output_schema(),
    )


def custom_read(row: CustomTool) -> ToolRead:
    return ToolRead(
        id=row.id,
        name=row.name,
        description=row.description,
        category=row.category,
        kind=row.kind,
        requires_approval=row.requires_approval,
        enabled=row.enabled,
        input_schema=row.input_schema,
        config=row.config,
        secret_set=row.secret_encrypted is not None,
        secret_masked=row.secret_hint,
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_schema(schema: dict[str, Any]) -> None:
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise BadRequest(
            f"input_schema is not a valid JSON schema: {exc.message}", code="INVALID_INPUT_SCHEMA"
        ) from exc
    if schema.get("type", "object") != "object":
        raise BadRequest("input_schema must describe an object", code="INVALID_INPUT_SCHEMA")


async def _check_name(session: AsyncSession, user: User, name: str, exclude: str | None) -> None:
    if name in BUILTIN:
        raise Conflict(f"'{name}' is a builtin tool name", code="TOOL_NAME_TAKEN")
    if await repository.name_taken(session, user.id, name, exclude):
        raise Conflict(f"You already have a tool named '{name}'", code="TOOL_NAME_TAKEN")


def _set_secret(row: CustomTool, secret: str | None) -> None:
    row.secret_encrypted = encrypt(secret) if secret else None
    row.secret_hint = mask(secret) if secret else None


async def _user_tools(session: AsyncSession, user: User) -> list[ToolRead]:
    """The user's custom tools, then the tools of their enabled plugin installations."""
    items = [custom_read(row) for row in await repository.owned(session, user.id)]
    return items + await plugin_catalog.tool_reads(session, user)


async def list_tools(
    session: AsyncSession,
    user: User,
    *,
    category: str | None,
    search: str | None,
    kind: str | None,
    page: int,
    page_size: int,
) -> ToolList:
    items = [builtin_read(t) for t in BUILTIN.search(category=category, query=search)]
    needle = (search or "").lower()
    for item in await _user_tools(session, user):
        if category and item.category != category:
            continue
        if needle and needle not in item.name.lower() and needle not in item.description.lower():
            continue
        items.append(item)
    if kind:
        items = [item for item in items if item.kind == kind]
    start = (page - 1) * page_size
    return ToolList(
        items=items[start : start + page_size], total=len(items), page=page, page_size=page_size
    )


async def categories(session: AsyncSession, user: User) -> list[CategoryCount]:
    counts = dict(BUILTIN.categories())
    for item in await _user_tools(session, user):
        counts[item.category] = counts.get(item.category, 0) + 1
    return [CategoryCount(category=k, count=v) for k, v in sorted(counts.items())]


async def _custom_or_404(session: AsyncSession, user: User, tool_id: str) -> CustomTool:
    row = await repository.get_owned(session, user.id, tool_id)
    if row is None:
        raise NotFound("Tool not found", code="TOOL_NOT_FOUND")
    return row


async def get(session: AsyncSession, user: User, tool_id: str) -> ToolRead:
    builtin = BUILTIN.get(tool_id)
    if builtin is not None:
        return builtin_read(builtin)
    if tool_id.startswith(plugin_catalog.PREFIX):
        found = await plugin_catalog.tool_read(session, user, tool_id)
        if found is None:
            raise NotFound("Tool not found", code="TOOL_NOT_FOUND")
        return found
    return custom_read(await _custom_or_404(session, user, tool_id))


async def create(session: AsyncSession, user: User, data: ToolCreate) -> ToolRead:
    _check_schema(data.input_schema)
    await _check_name(session, user, data.name, None)
    config = data.http if data.kind == "http" else data.code
    assert config is not None
    row = CustomTool(
        owner_id=user.id,
        name=data.name,
        description=data.description,
        category=data.category,
        kind=data.kind,
        input_schema=data.input_schema,
        config=config.model_dump(mode="json"),
        requires_approval=data.requires_approval,
        enabled=data.enabled,
    )
    _set_secret(row, data.secret)
    session.add(row)
    await session.flush()
    return custom_read(row)


async def update(session: AsyncSession, user: User, tool_id: str, data: ToolUpdate) -> ToolRead:
    if BUILTIN.get(tool_id) is not None:
        raise BadRequest("Builtin tools cannot be changed", code="BUILTIN_TOOL_READONLY")
    row = await _custom_or_404(session, user, tool_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name"):
        await _check_name(session, user, changes["name"], row.id)
    if changes.get("input_schema") is not None:
        _check_schema(changes["input_schema"])
    if "secret" in changes:
        _set_secret(row, changes.pop("secret"))
    for kind in ("http", "code"):
        config = changes.pop(kind, None)
        if config is not None:
            if kind != row.kind:
                raise BadRequest(
                    f"This is a {row.kind} tool; send '{row.kind}'", code="TOOL_KIND_MISMATCH"
                )
            row.config = getattr(data, kind).model_dump(mode="json")
    for key, value in changes.items():
        if value is None:
            raise BadRequest(f"{key} cannot be null", code="VALIDATION_ERROR")
        setattr(row, key, value)
    await session.flush()
    await session.refresh(row)
    return custom_read(row)


async def delete(session: AsyncSession, user: User, tool_id: str) -> None:
    if BUILTIN.get(tool_id) is not None:
        raise BadRequest("Builtin tools cannot be deleted", code="BUILTIN_TOOL_READONLY")
    await session.delete(await _custom_or_404(session, user, tool_id))
    await session.flush()


async def _run(
    tool: Tool, arguments: dict[str, Any], session: AsyncSession, user: User
) -> ToolUseResult:
    ctx = await platform.tool_context(session, user)
    if tool.name == KNOWLEDGE_EXTRA:
        # Called directly, the knowledge tool searches the caller's own knowledge bases.
        ctx.extras[KNOWLEDGE_EXTRA] = grounding.searcher(
            await grounding.own(session, user), grounding.Citations()
        )
    # Tools may call the network or the sandbox: no transaction stays open meanwhile.
    await session.commit()
    started = time.perf_counter()
    try:
        result = await run_tool(tool, arguments, ctx)
    except ToolInputError:
        raise
    except AppError as exc:
        return ToolUseResult(
            tool=tool.name,
            ok=False,
            error=f"{exc.code}: {exc.message}",
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
    return ToolUseResult(
        tool=tool.name,
        ok=True,
        result=result,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


async def use(
    session: AsyncSession, user: User, tool_id: str, arguments: dict[str, Any]
) -> ToolUseResult:
    tool = BUILTIN.get(tool_id)
    if tool is None and tool_id.startswith(plugin_catalog.PREFIX):
        tool = (await plugin_catalog.tools_by_name(session, user, [tool_id])).get(tool_id)
        if tool is None:
            raise NotFound("Tool not found", code="TOOL_NOT_FOUND")
    if tool is None:
        row = await _custom_or_404(session, user, tool_id)
        if not row.enabled:
            raise Conflict("This tool is disabled", code="TOOL_DISABLED")
        tool = platform.runtime_tool(row)
    # The user calling a tool directly is its approval.
    return await _run(tool, arguments, session, user)


async def test_http(session: AsyncSession, user: User, data: HttpToolTest) -> ToolUseResult:
    _check_schema(data.input_schema)
    tool = HttpTool("http_test", "test", data.input_schema, data.http, secret=data.secret)
    return await _run(tool, data.arguments, session, user)


async def test_code(data: CodeToolTest) -> CodeRunRead:
    outcome = await platform.sandbox().run(
        data.language,
        data.code,
        inputs=data.inputs,
        timeout_s=data.timeout_s,
        memory_mb=data.memory_mb,
    )
    return CodeRunRead(
        ok=outcome.ok,
        result=outcome.result,
        stdout=outcome.stdout,
        stderr=outcome.stderr,
        error=outcome.error,
        exit_code=outcome.exit_code,
        duration_ms=outcome.duration_ms,
    )


async def _load_spec(data: OpenAPIImport) -> Any:
    if isinstance(data.spec, dict):
        return data.spec
    text = data.spec
    if data.url is not None:
        response = await platform.http_client().request("GET", data.url, max_bytes=MAX_SPEC_BYTES)
        if response.status >= 400:
            raise BadRequest(
                f"Fetching the document gave HTTP {response.status}", code="OPENAPI_FETCH_FAILED"
            )
        text = response.text
    try:
        return json.loads(text or "")
    except ValueError:
        try:
            return yaml.safe_load(text or "")
        except yaml.YAMLError as exc:
            raise BadRequest(
                "The document is neither JSON nor YAML", code="INVALID_OPENAPI"
            ) from exc


async def import_openapi(
    session: AsyncSession, user: User, data: OpenAPIImport
) -> OpenAPIImportResult:
    try:
        auth = HttpAuth.model_validate(data.auth or {})
    except ValueError as exc:
        raise BadRequest(f"Invalid auth: {exc}", code="VALIDATION_ERROR") from exc
    # The fetch may be slow: end the auth lookup's transaction first.
    await session.commit()
    try:
        imported = tools_from_openapi(await _load_spec(data), base_url=data.base_url)
    except ToolError as exc:
        raise BadRequest(exc.message, code="INVALID_OPENAPI") from exc
    created = []
    for item in imported:
        name = f"{data.name_prefix}{item.name}"[:64]
        await _check_name(session, user, name, None)
        config = item.config.model_copy(update={"auth": auth})
        row = CustomTool(
            owner_id=user.id,
            name=name,
            description=item.description,
            category="custom",
            kind="http",
            input_schema=item.parameters,
            config=config.model_dump(mode="json"),
            requires_approval=data.requires_approval,
            source="openapi",
        )
        _set_secret(row, data.secret)
        session.add(row)
        created.append(row)
    await session.flush()
    return OpenAPIImportResult(created=[custom_read(row) for row in created])
