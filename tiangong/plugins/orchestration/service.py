"""Orchestration templates: the caller's own, checked as a whole on every write, and the
builtin examples (read-only) listed before them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents import repository as agents_repository
from tiangong.auth.models import User
from tiangong.errors import Forbidden, NotFound, ValidationFailed
from tiangong.plugins.models import OrchestrationTemplate
from tiangong.plugins.orchestration import builtin, repository
from tiangong.plugins.orchestration.schemas import (
    OrchestrationTemplateCreate,
    OrchestrationTemplateList,
    OrchestrationTemplateRead,
    OrchestrationTemplateUpdate,
)
from tiangong.plugins.orchestration.structure import problems


def _read(row: OrchestrationTemplate) -> OrchestrationTemplateRead:
    return OrchestrationTemplateRead(
        id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        description=row.description,
        mode=row.mode,
        roles=row.roles,
        order=row.role_order,
        edges=row.edges,
        coordinator=row.coordinator,
        max_rounds=row.max_rounds,
        builtin=False,
        read_only=False,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _columns(body: OrchestrationTemplateCreate) -> dict[str, Any]:
    data = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["role_order"] = data.pop("order")
    data.setdefault("coordinator", None)
    return data


async def _check(session: AsyncSession, user: User, body: OrchestrationTemplateCreate) -> None:
    found = problems(body)
    for role in body.roles:
        if role.agent_id is not None:
            agent = await agents_repository.get_visible(session, user, role.agent_id)
            if agent is None:
                found.append(f"role '{role.name}': agent {role.agent_id} not found")
    if found:
        raise ValidationFailed(
            "; ".join(found[:5]),
            code="INVALID_ORCHESTRATION",
            details=[{"field": "", "message": text, "type": "value_error"} for text in found],
        )


def _not_found() -> NotFound:
    return NotFound("Orchestration template not found", code="ORCHESTRATION_TEMPLATE_NOT_FOUND")


async def _own_writable(
    session: AsyncSession, user: User, template_id: str
) -> OrchestrationTemplate:
    if builtin.get(template_id) is not None:
        raise Forbidden(
            "Builtin templates are read-only; create your own copy to change one",
            code="ORCHESTRATION_TEMPLATE_READ_ONLY",
        )
    row = await repository.get_own(session, user.id, template_id)
    if row is None:
        raise _not_found()
    return row


def _matches(t: OrchestrationTemplateRead, mode: str | None, search: str | None) -> bool:
    needle = (search or "").lower()
    text = f"{t.name}\n{t.description}".lower()
    return (not mode or t.mode == mode) and needle in text


async def list_templates(
    session: AsyncSession,
    user: User,
    *,
    mode: str | None,
    search: str | None,
    builtin_filter: bool | None,
    page: int,
    page_size: int,
) -> OrchestrationTemplateList:
    """Builtin examples first, then the caller's own, newest first; paged as one list."""
    examples = [] if builtin_filter is False else builtin.all_examples()
    examples = [t for t in examples if _matches(t, mode, search)]
    offset = (page - 1) * page_size
    items = examples[offset : offset + page_size]
    own_total = 0
    if builtin_filter is not True:
        own_offset = max(offset - len(examples), 0)
        rows, own_total = await repository.list_own(
            session,
            user.id,
            mode=mode,
            search=search,
            offset=own_offset,
            limit=page_size - len(items),
        )
        items += [_read(row) for row in rows]
    return OrchestrationTemplateList(
        items=items, total=len(examples) + own_total, page=page, page_size=page_size
    )


async def create(
    session: AsyncSession, user: User, data: OrchestrationTemplateCreate
) -> OrchestrationTemplateRead:
    await _check(session, user, data)
    row = OrchestrationTemplate(owner_id=user.id, **_columns(data))
    await repository.add(session, row)
    await session.refresh(row)
    return _read(row)


async def get(session: AsyncSession, user: User, template_id: str) -> OrchestrationTemplateRead:
    example = builtin.get(template_id)
    if example is not None:
        return example
    row = await repository.get_own(session, user.id, template_id)
    if row is None:
        raise _not_found()
    return _read(row)


async def update(
    session: AsyncSession, user: User, template_id: str, data: OrchestrationTemplateUpdate
) -> OrchestrationTemplateRead:
    row = await _own_writable(session, user, template_id)
    current = _read(row).model_dump(by_alias=True)
    merged = OrchestrationTemplateCreate.model_validate(
        {
            **{k: current[k] for k in OrchestrationTemplateCreate.model_fields},
            **data.model_dump(by_alias=True, exclude_unset=True),
        }
    )
    await _check(session, user, merged)
    for key, value in _columns(merged).items():
        setattr(row, key, value)
    await session.flush()
    await session.refresh(row)
    return _read(row)


async def delete(session: AsyncSession, user: User, template_id: str) -> None:
    await repository.delete(session, await _own_writable(session, user, template_id))
