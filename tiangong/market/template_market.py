"""The template market: listings published from workflows; an install is a new workflow.

Only a graph that passes workflow validation is published, and credential headers of its HTTP
nodes are blanked. Ids inside nodes (agents, knowledge bases) are kept: they are opaque, and
the installer points them at their own."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.errors import BadRequest, NotFound
from tiangong.market import scrub
from tiangong.market.models import MarketInstall
from tiangong.market.schemas import InstallRead
from tiangong.market.service import Copy, Market, Source
from tiangong.workflows import repository as workflows_repository
from tiangong.workflows import service as workflows_service
from tiangong.workflows.models import Workflow
from tiangong.workflows.schemas import WorkflowCreate, WorkflowRead


class TemplateInstallResult(BaseModel):
    install: InstallRead
    workflow: WorkflowRead


async def _load_source(session: AsyncSession, user: User, workflow_id: str) -> Source:
    workflow = await workflows_repository.get_own(session, user, workflow_id)
    if workflow is None:
        raise NotFound("Workflow not found", code="WORKFLOW_NOT_FOUND")
    problems = workflows_service.check(workflow.definition).problems
    if problems:
        raise BadRequest(
            "Only a valid workflow can be published; fix its problems first",
            code="INVALID_WORKFLOW",
            details=problems,
        )
    content = {
        "name": workflow.name,
        "description": workflow.description,
        "definition": scrub.graph(workflow.definition),
    }
    return Source(id=workflow.id, name=workflow.name, version=workflow.version, snapshot=content)


async def _make_copy(
    session: AsyncSession, user: User, content: dict[str, Any], name: str | None
) -> Copy[WorkflowRead]:
    data = WorkflowCreate(
        name=name or content["name"],
        description=content["description"],
        definition=content["definition"],
    )
    made = await workflows_service.create(session, user, data)
    return Copy(id=made.id, version=made.version, read=made)


TEMPLATES: Market[WorkflowRead] = Market(
    kind="template",
    load_source=_load_source,
    make_copy=_make_copy,
    target=Workflow,
    target_id=MarketInstall.workflow_id,
)
