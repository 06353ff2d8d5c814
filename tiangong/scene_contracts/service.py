from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.errors import Forbidden, NotFound
from tiangong.scene_contracts import presets, prompts, repository, validation
from tiangong.scene_contracts.models import SceneContract
from tiangong.scene_contracts.schemas import (
    ContractBody,
    ContractRef,
    EvaluateRequest,
    EvaluateResult,
    GeneratePromptRequest,
    GeneratePromptResult,
    SceneContractCreate,
    SceneContractList,
    SceneContractRead,
    SceneContractUpdate,
    ValidateInputRequest,
    ValidateInputResult,
)


def _check_schemas(data: ContractBody | SceneContractUpdate) -> None:
    # Checked when saved, so a stored contract's schemas always work later.
    for field in ("input_schema", "output_schema"):
        schema = getattr(data, field)
        if schema is not None:
            validation.check_schema(schema, field)


def _not_found() -> NotFound:
    return NotFound("Scene contract not found", code="SCENE_CONTRACT_NOT_FOUND")


async def _own(session: AsyncSession, user: User, contract_id: str) -> SceneContract:
    row = await repository.get_own(session, user, contract_id)
    if row is None:
        raise _not_found()
    return row


async def _own_writable(session: AsyncSession, user: User, contract_id: str) -> SceneContract:
    if presets.get(contract_id) is not None:
        raise Forbidden(
            "Preset scene contracts are read-only; create your own copy to change it",
            code="SCENE_CONTRACT_READ_ONLY",
        )
    return await _own(session, user, contract_id)


async def list_contracts(
    session: AsyncSession,
    user: User,
    *,
    category: str | None,
    search: str | None,
    page: int,
    page_size: int,
) -> SceneContractList:
    rows, total = await repository.list_own(
        session,
        user,
        category=category,
        search=search,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [SceneContractRead.model_validate(row) for row in rows]
    return SceneContractList(items=items, total=total, page=page, page_size=page_size)


def get_preset(contract_id: str) -> SceneContractRead:
    found = presets.get(contract_id)
    if found is None:
        raise _not_found()
    return found


async def create(session: AsyncSession, user: User, data: SceneContractCreate) -> SceneContractRead:
    _check_schemas(data)
    row = SceneContract(owner_id=user.id, **data.model_dump())
    await repository.add(session, row)
    await session.refresh(row)
    return SceneContractRead.model_validate(row)


async def get(session: AsyncSession, user: User, contract_id: str) -> SceneContractRead:
    """A preset id works here too, so a client can open any contract by id alone."""
    return presets.get(contract_id) or SceneContractRead.model_validate(
        await _own(session, user, contract_id)
    )


async def update(
    session: AsyncSession, user: User, contract_id: str, data: SceneContractUpdate
) -> SceneContractRead:
    row = await _own_writable(session, user, contract_id)
    _check_schemas(data)
    for key, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(row, key, value)
    await session.flush()
    await session.refresh(row)
    return SceneContractRead.model_validate(row)


async def delete(session: AsyncSession, user: User, contract_id: str) -> None:
    await repository.delete(session, await _own_writable(session, user, contract_id))


async def _resolve(session: AsyncSession, user: User, ref: ContractRef) -> ContractBody:
    if ref.contract is not None:
        _check_schemas(ref.contract)
        return ref.contract
    assert ref.contract_id is not None  # ContractRef guarantees one of the two
    return await get(session, user, ref.contract_id)


async def generate_prompt(
    session: AsyncSession, user: User, data: GeneratePromptRequest
) -> GeneratePromptResult:
    contract = await _resolve(session, user, data)
    return GeneratePromptResult(system_prompt=prompts.system_prompt(contract, data.language))


async def evaluate(session: AsyncSession, user: User, data: EvaluateRequest) -> EvaluateResult:
    contract = await _resolve(session, user, data)
    checks = prompts.criteria(contract, data.language)
    text = prompts.evaluation_prompt(contract, checks, data.output, data.input, data.language)
    return EvaluateResult(evaluation_prompt=text, criteria=checks)


async def validate_input(
    session: AsyncSession, user: User, data: ValidateInputRequest
) -> ValidateInputResult:
    contract = await _resolve(session, user, data)
    return validation.validate(contract.input_schema, data.input)
