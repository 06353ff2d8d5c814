from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.scene_contracts import presets, service
from tiangong.scene_contracts.schemas import (
    EvaluateRequest,
    EvaluateResult,
    GeneratePromptRequest,
    GeneratePromptResult,
    PresetSummary,
    SceneContractCreate,
    SceneContractList,
    SceneContractRead,
    SceneContractUpdate,
    ValidateInputRequest,
    ValidateInputResult,
)

router = APIRouter(prefix="/scene-contracts", tags=["scene contracts"])


@router.get("", response_model=SceneContractList)
async def list_scene_contracts(
    session: SessionDep,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    category: Annotated[str | None, Query(max_length=50)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> SceneContractList:
    """The caller's own contracts (presets are listed under /presets)."""
    return await service.list_contracts(
        session, user, category=category, search=q, page=page, page_size=page_size
    )


@router.post("", response_model=SceneContractRead, status_code=201)
async def create_scene_contract(
    data: SceneContractCreate, session: SessionDep, user: CurrentUser
) -> SceneContractRead:
    return await service.create(session, user, data)


# The fixed paths are declared before /{contract_id}, which would otherwise take them as ids.
@router.get("/presets", response_model=list[PresetSummary])
async def list_preset_contracts(user: CurrentUser) -> list[PresetSummary]:
    return presets.summaries()


@router.get("/presets/{contract_id}", response_model=SceneContractRead)
async def get_preset_contract(contract_id: str, user: CurrentUser) -> SceneContractRead:
    return service.get_preset(contract_id)


@router.post("/generate-prompt", response_model=GeneratePromptResult)
async def generate_prompt(
    data: GeneratePromptRequest, session: SessionDep, user: CurrentUser
) -> GeneratePromptResult:
    """A system prompt built from the contract's sections; the same contract, the same text."""
    return await service.generate_prompt(session, user, data)


@router.post("/evaluate", response_model=EvaluateResult)
async def evaluate_output(
    data: EvaluateRequest, session: SessionDep, user: CurrentUser
) -> EvaluateResult:
    """A prompt for a judge model to check an output against the contract. Calls no model."""
    return await service.evaluate(session, user, data)


@router.post("/validate-input", response_model=ValidateInputResult)
async def validate_input(
    data: ValidateInputRequest, session: SessionDep, user: CurrentUser
) -> ValidateInputResult:
    """Invalid input is a 200 with valid=false; a broken input_schema is a 400."""
    return await service.validate_input(session, user, data)


@router.get("/{contract_id}", response_model=SceneContractRead)
async def get_scene_contract(
    contract_id: str, session: SessionDep, user: CurrentUser
) -> SceneContractRead:
    """One of the caller's contracts, or a preset (is_preset and read_only set)."""
    return await service.get(session, user, contract_id)


@router.put("/{contract_id}", response_model=SceneContractRead)
async def update_scene_contract(
    contract_id: str, data: SceneContractUpdate, session: SessionDep, user: CurrentUser
) -> SceneContractRead:
    return await service.update(session, user, contract_id, data)


@router.delete("/{contract_id}", status_code=204)
async def delete_scene_contract(
    contract_id: str, session: SessionDep, user: CurrentUser
) -> Response:
    await service.delete(session, user, contract_id)
    return Response(status_code=204)
