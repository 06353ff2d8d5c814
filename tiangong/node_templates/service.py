from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.errors import NotFound, ValidationFailed
from tiangong.node_templates import repository
from tiangong.node_templates.models import NodeTemplate
from tiangong.node_templates.schemas import (
    NodeTemplateCreate,
    NodeTemplateList,
    NodeTemplateRead,
    NodeTemplateUpdate,
    NodeTestRequest,
    NodeTestResult,
)
from tiangong.runtime.workflow import node_problems, run_node
from tiangong.workflows import services as workflow_services


def _check(node_type: str, config: dict[str, Any]) -> None:
    """A template must be usable as a node: a known type and a config its model accepts
    (references such as {{start.x}} pass; they are checked where the node is used)."""
    problems = node_problems(node_type, config)
    if problems:
        code = problems[0].code if problems[0].code == "UNKNOWN_NODE_TYPE" else "INVALID_CONFIG"
        message = "; ".join(
            f"{p.field}: {p.message}" if p.field else p.message for p in problems[:5]
        )
        raise ValidationFailed(message, code=code, details=[p.to_dict() for p in problems])


async def _own(session: AsyncSession, user: User, template_id: str) -> NodeTemplate:
    row = await repository.get_own(session, user, template_id)
    if row is None:
        raise NotFound("Node template not found", code="NODE_TEMPLATE_NOT_FOUND")
    return row


async def list_templates(
    session: AsyncSession,
    user: User,
    *,
    node_type: str | None,
    search: str | None,
    page: int,
    page_size: int,
) -> NodeTemplateList:
    rows, total = await repository.list_own(
        session,
        user,
        node_type=node_type,
        search=search,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [NodeTemplateRead.model_validate(row) for row in rows]
    return NodeTemplateList(items=items, total=total, page=page, page_size=page_size)


async def create(session: AsyncSession, user: User, data: NodeTemplateCreate) -> NodeTemplateRead:
    _check(data.node_type, data.config)
    row = NodeTemplate(owner_id=user.id, **data.model_dump())
    await repository.add(session, row)
    await session.refresh(row)
    return NodeTemplateRead.model_validate(row)


async def get(session: AsyncSession, user: User, template_id: str) -> NodeTemplateRead:
    return NodeTemplateRead.model_validate(await _own(session, user, template_id))


async def update(
    session: AsyncSession, user: User, template_id: str, data: NodeTemplateUpdate
) -> NodeTemplateRead:
    row = await _own(session, user, template_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    # Type and config are checked together: a new type must accept the (new or old) config.
    _check(changes.get("node_type", row.node_type), changes.get("config", row.config))
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    await session.refresh(row)
    return NodeTemplateRead.model_validate(row)


async def delete(session: AsyncSession, user: User, template_id: str) -> None:
    await repository.delete(session, await _own(session, user, template_id))


async def test_node(session: AsyncSession, user: User, data: NodeTestRequest) -> NodeTestResult:
    """Run one node once with the caller's services. No transaction stays open while it
    runs: the node may wait on a model or the network for a long time."""
    await session.commit()
    node = data.node
    # A throwaway run id: nothing is recorded under it.
    services = workflow_services.build(user, f"node-test-{uuid.uuid4().hex}")
    result = await run_node(
        node.id,
        node.type,
        node.config,
        services,
        inputs=data.inputs,
        version=node.version,
        timeout_s=data.timeout_s,
    )
    return NodeTestResult(
        status=result.status,
        outputs=result.outputs,
        branch=result.branch,
        error=result.error,
        duration_ms=result.duration_ms,
        approval_id=result.approval_id,
    )
