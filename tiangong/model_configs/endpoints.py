from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.model_configs import service
from tiangong.model_configs.schemas import (
    ModelConfigCreate,
    ModelConfigList,
    ModelConfigRead,
    ModelConfigUpdate,
    ModelTestResult,
)

router = APIRouter(prefix="/model-configs", tags=["model-configs"])


@router.get("", response_model=ModelConfigList)
async def list_configs(
    session: SessionDep,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ModelConfigList:
    return await service.list_configs(session, user, page, page_size)


@router.post("", response_model=ModelConfigRead, status_code=201)
async def create_config(
    data: ModelConfigCreate, session: SessionDep, user: CurrentUser
) -> ModelConfigRead:
    return await service.create(session, user, data)


@router.get("/{config_id}", response_model=ModelConfigRead)
async def get_config(config_id: str, session: SessionDep, user: CurrentUser) -> ModelConfigRead:
    return await service.get(session, user, config_id)


@router.put("/{config_id}", response_model=ModelConfigRead)
async def update_config(
    config_id: str, data: ModelConfigUpdate, session: SessionDep, user: CurrentUser
) -> ModelConfigRead:
    return await service.update(session, user, config_id, data)


@router.delete("/{config_id}", status_code=204)
async def delete_config(config_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete(session, user, config_id)
    return Response(status_code=204)


@router.post("/{config_id}/test", response_model=ModelTestResult)
async def test_config(config_id: str, session: SessionDep, user: CurrentUser) -> ModelTestResult:
    """Make a real call to the configured endpoint; report latency or the provider's error."""
    return await service.test(session, user, config_id)
