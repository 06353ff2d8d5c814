from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.workflows import service as workflow_service
from tiangong.workflows.schemas import WorkflowCreate, WorkflowRead
from tiangong.workflows.templates.catalogue import definition_of
from tiangong.workflows.templates.schemas import TemplateCreateRequest


async def create_from_template(
    session: AsyncSession, user: User, template_id: str, data: TemplateCreateRequest
) -> WorkflowRead:
    """A new workflow of the caller's (version 1) holding a copy of the template."""
    template = definition_of(template_id)
    description = template["description"][:2_000]
    workflow = WorkflowCreate(
        name=data.name or template["name"],
        description=data.description if data.description is not None else description,
        definition=template["definition"],
    )
    return await workflow_service.create(session, user, workflow)
