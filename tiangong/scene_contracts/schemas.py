from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

MAX_SCHEMA_CHARS = 20_000
MAX_INPUT_CHARS = 100_000


def _json_limit(limit: int) -> AfterValidator:
    """JSON data of at most `limit` characters; NaN and Infinity (from 1e309) are not JSON
    and would fail in the database, so they are refused here."""

    def check(value: Any) -> Any:
        try:
            size = len(json.dumps(value, ensure_ascii=False, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError("must be JSON data without NaN or Infinity") from exc
        if size > limit:
            raise ValueError(f"must be at most {limit} characters of JSON")
        return value

    return AfterValidator(check)


Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Rule = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
JsonSchema = Annotated[dict[str, Any], _json_limit(MAX_SCHEMA_CHARS)]
Language = Literal["zh", "en"]


class Deliverable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    format: str = Field(default="text", min_length=1, max_length=50)
    description: str = Field(default="", max_length=1_000)


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1, max_length=5_000)
    output: str = Field(min_length=1, max_length=5_000)


class ContractBody(BaseModel):
    """The DSL itself: what create takes, what presets hold, what the prompt builders read."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    goal: str = Field(min_length=1, max_length=5_000)
    role: str = Field(default="", max_length=1_000)
    constraints: list[Rule] = Field(default_factory=list, max_length=50)
    forbidden_actions: list[Rule] = Field(default_factory=list, max_length=50)
    deliverables: list[Deliverable] = Field(default_factory=list, max_length=20)
    acceptance_criteria: list[Rule] = Field(default_factory=list, max_length=50)
    examples: list[Example] = Field(default_factory=list, max_length=10)
    category: str = Field(default="general", min_length=1, max_length=50)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    input_schema: JsonSchema = Field(default_factory=dict)
    output_schema: JsonSchema = Field(default_factory=dict)


class SceneContractCreate(ContractBody):
    pass


class SceneContractUpdate(BaseModel):
    """Partial update: fields left out (or null) keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    goal: str | None = Field(default=None, min_length=1, max_length=5_000)
    role: str | None = Field(default=None, max_length=1_000)
    constraints: list[Rule] | None = Field(default=None, max_length=50)
    forbidden_actions: list[Rule] | None = Field(default=None, max_length=50)
    deliverables: list[Deliverable] | None = Field(default=None, max_length=20)
    acceptance_criteria: list[Rule] | None = Field(default=None, max_length=50)
    examples: list[Example] | None = Field(default=None, max_length=10)
    category: str | None = Field(default=None, min_length=1, max_length=50)
    tags: list[Tag] | None = Field(default=None, max_length=20)
    input_schema: JsonSchema | None = None
    output_schema: JsonSchema | None = None


class SceneContractRead(ContractBody):
    model_config = ConfigDict(from_attributes=True)

    id: str
    # Presets belong to no one and cannot be changed; they have no timestamps either.
    owner_id: str | None
    is_preset: bool = False
    read_only: bool = False
    created_at: datetime | None
    updated_at: datetime | None


class SceneContractList(BaseModel):
    items: list[SceneContractRead]
    total: int
    page: int
    page_size: int


class PresetSummary(BaseModel):
    id: str
    name: str
    category: str
    tags: list[str]
    goal_summary: str


class ContractRef(BaseModel):
    """Names the contract to work on: a saved or preset id, or one given inline."""

    model_config = ConfigDict(extra="forbid")

    contract_id: str | None = Field(default=None, min_length=1, max_length=64)
    contract: ContractBody | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ContractRef:
        if (self.contract_id is None) == (self.contract is None):
            raise ValueError("give exactly one of contract_id and contract")
        return self


class GeneratePromptRequest(ContractRef):
    language: Language = "zh"


class GeneratePromptResult(BaseModel):
    system_prompt: str


class EvaluateRequest(ContractRef):
    output: str = Field(min_length=1, max_length=50_000)
    input: Annotated[str | dict[str, Any], _json_limit(MAX_INPUT_CHARS)] | None = None
    language: Language = "zh"


class Criterion(BaseModel):
    id: str
    kind: Literal["goal", "acceptance", "deliverable", "forbidden"]
    description: str


class EvaluateResult(BaseModel):
    evaluation_prompt: str
    criteria: list[Criterion]


class ValidateInputRequest(ContractRef):
    input: Annotated[dict[str, Any], _json_limit(MAX_INPUT_CHARS)]


class InputError(BaseModel):
    path: str
    message: str


class ValidateInputResult(BaseModel):
    valid: bool
    errors: list[InputError]
