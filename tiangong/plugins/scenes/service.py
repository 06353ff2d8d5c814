"""Quick create: a ready agent from a scene template, made by the agents service."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents import service as agents_service
from tiangong.agents.schemas import AgentCreate, AgentRead
from tiangong.auth.models import User
from tiangong.plugins.scenes import templates
from tiangong.plugins.scenes.schemas import QuickCreateRequest
from tiangong.scene_contracts import prompts


async def quick_create(session: AsyncSession, user: User, data: QuickCreateRequest) -> AgentRead:
    contract = templates.contract(data.template_id)
    definition = AgentCreate.model_validate(
        {
            "name": data.name or contract.name,
            "description": data.description if data.description is not None else contract.goal,
            "system_prompt": prompts.system_prompt(contract, data.language),
            "model_config": data.llm.model_dump(exclude_unset=True) if data.llm else {},
            # Where it came from, so a client can show it and open the contract again.
            "settings": {
                "scene_template_id": data.template_id,
                "scene_contract_id": contract.id,
                "language": data.language,
            },
        }
    )
    return await agents_service.create(session, user, definition)
