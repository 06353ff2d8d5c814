"""The Tool base class: a name, a description, typed input and output, and `run`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tiangong.errors import AppError
from tiangong.runtime.llm import ToolSpec
from tiangong.runtime.tools.context import ToolContext


class ToolError(AppError):
    """A tool failed in a way the model (and user) should read."""

    code = "TOOL_ERROR"
    status = 400


class ToolInputError(ToolError):
    code = "TOOL_INPUT_INVALID"
    status = 422


class ToolRejected(ToolError):
    code = "TOOL_REJECTED"
    status = 403


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "input"
        parts.append(f"{loc}: {err.get('msg', '')}")
    return "; ".join(parts)


class Tool(ABC):
    """Subclass with class attributes and `run`. Input and Output are Pydantic models, which
    give the JSON schemas shown to the model and in the API."""

    name: str
    description: str
    category: str
    requires_approval: bool = False
    Input: type[BaseModel]
    Output: type[BaseModel]

    @abstractmethod
    async def run(self, args: Any, ctx: ToolContext) -> BaseModel:
        """`args` is what `parse_input` returned; return an instance of `Output`."""

    def parse_input(self, arguments: dict[str, Any]) -> Any:
        try:
            return self.Input.model_validate(arguments)
        except ValidationError as exc:
            raise ToolInputError(
                f"Invalid arguments for {self.name}: {validation_message(exc)}"
            ) from exc

    def input_schema(self) -> dict[str, Any]:
        return self.Input.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.Output.model_json_schema()

    def spec(self) -> ToolSpec:
        return ToolSpec(
            name=self.name, description=self.description, parameters=self.input_schema()
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "requires_approval": self.requires_approval,
            "input_schema": self.input_schema(),
            "output_schema": self.output_schema(),
        }


class AnyArgs(BaseModel):
    model_config = ConfigDict(extra="allow")


class JsonResult(BaseModel):
    """The output of tools defined at run time (HTTP, code, MCP): any JSON value."""

    result: Any = None


class SchemaTool(Tool):
    """A tool whose input is a JSON schema given at run time, not a Python class."""

    Input = AnyArgs
    Output = JsonResult

    def __init__(
        self,
        name: str,
        description: str,
        category: str,
        parameters: dict[str, Any],
        *,
        requires_approval: bool = False,
    ) -> None:
        self.name = name
        self.description = description
        self.category = category
        self.parameters = parameters or {"type": "object", "properties": {}}
        self.requires_approval = requires_approval

    def parse_input(self, arguments: dict[str, Any]) -> dict[str, Any]:
        # A custom tool's schema is user-given: validated the safe way (no remote $ref,
        # patterns with a time limit).
        from jsonschema.exceptions import best_match

        from tiangong.runtime.schemas import SchemaProblem, errors

        try:
            found = errors(self.parameters, arguments, 20)
        except SchemaProblem as exc:
            raise ToolInputError(f"{self.name} has an invalid input schema: {exc}") from None
        best = best_match(found)
        if best is not None:
            where = ".".join(str(p) for p in best.absolute_path) or "input"
            raise ToolInputError(f"Invalid arguments for {self.name}: {where}: {best.message}")
        return arguments

    def input_schema(self) -> dict[str, Any]:
        return self.parameters
