"""Management queries are scoped to the owner; trigger lookups are not (the signature is the
auth), so they return only enabled webhooks and nothing about anyone else's."""

from __future__ import annotations

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.webhooks.models import WorkflowWebhook
from tiangong.workflows.models import Workflow

# Bounds the HMAC work one by-name request can cause.
MAX_NAME_CANDIDATES = 50


async def get_own(session: AsyncSession, user: User, workflow_id: str) -> WorkflowWebhook | None:
    stmt = select(WorkflowWebhook).where(
        WorkflowWebhook.workflow_id == workflow_id, WorkflowWebhook.owner_id == user.id
    )
    return (await session.execute(stmt)).scalars().first()


Target = tuple[WorkflowWebhook, Workflow, User]


def _enabled() -> Select[WorkflowWebhook, Workflow, User]:
    """Enabled webhooks with their workflow and owner; a deactivated owner's do not fire."""
    return (
        select(WorkflowWebhook, Workflow, User)
        .join(Workflow, Workflow.id == WorkflowWebhook.workflow_id)
        .join(User, User.id == WorkflowWebhook.owner_id)
        .where(WorkflowWebhook.enabled.is_(True), User.is_active.is_(True))
    )


async def enabled_by_workflow(session: AsyncSession, workflow_id: str) -> Target | None:
    stmt = _enabled().where(WorkflowWebhook.workflow_id == workflow_id)
    row = (await session.execute(stmt)).first()
    return (row[0], row[1], row[2]) if row is not None else None


async def enabled_by_name(session: AsyncSession, name: str) -> list[Target]:
    stmt = (
        _enabled()
        .where(Workflow.name == name)
        .order_by(WorkflowWebhook.created_at, WorkflowWebhook.id)
        .limit(MAX_NAME_CANDIDATES)
    )
    return [(row[0], row[1], row[2]) for row in (await session.execute(stmt)).all()]


async def add(session: AsyncSession, row: WorkflowWebhook) -> None:
    session.add(row)
    await session.flush()


async def delete_for_workflow(session: AsyncSession, workflow_id: str) -> None:
    await session.execute(delete(WorkflowWebhook).where(WorkflowWebhook.workflow_id == workflow_id))
