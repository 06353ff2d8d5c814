from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tiangong.workflows.schemas import WorkflowExport

WorkflowId = Annotated[str, Field(min_length=1, max_length=36)]


class BatchExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow_id: WorkflowId
    inputs: list[dict[str, Any]] = Field(min_length=1, max_length=100)
    # Run i gets the idempotency key "{prefix}-{i}", so a retried batch starts nothing twice.
    idempotency_key_prefix: str | None = Field(default=None, min_length=1, max_length=150)


class BatchExecuteResult(BaseModel):
    workflow_id: str
    run_ids: list[str]


class BatchIds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow_ids: list[WorkflowId] = Field(min_length=1, max_length=100)


class ExportedWorkflow(BaseModel):
    workflow_id: str
    document: WorkflowExport


class BatchExportResult(BaseModel):
    items: list[ExportedWorkflow]
    not_found: list[str]


class BatchDeleteResult(BaseModel):
    deleted: list[str]
    not_found: list[str]
