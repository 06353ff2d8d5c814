from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.errors import AppError
from tiangong.webhooks import service
from tiangong.webhooks.schemas import WebhookCreated, WebhookRead, WebhookUpdate
from tiangong.workflows.schemas import RunDetail

MAX_BODY_BYTES = 1024 * 1024

manage_router = APIRouter(prefix="/workflows", tags=["webhooks"])
trigger_router = APIRouter(prefix="/webhooks", tags=["webhooks"])

WorkflowId = Annotated[str, Path(max_length=36)]
Mode = Annotated[Literal["sync", "async"], Query()]
TimeoutS = Annotated[float, Query(gt=0, le=300)]
Timestamp = Annotated[str | None, Header(alias="X-Tiangong-Timestamp", max_length=20)]
Signature = Annotated[str | None, Header(alias="X-Tiangong-Signature", max_length=200)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]


def _base(request: Request) -> str:
    return str(request.base_url)


@manage_router.post("/{workflow_id}/webhook", response_model=WebhookCreated, status_code=201)
async def create_or_rotate(
    workflow_id: WorkflowId, request: Request, session: SessionDep, user: CurrentUser
) -> WebhookCreated:
    """Creates the webhook or rotates its secret. The secret is in this answer only."""
    return await service.create_or_rotate(session, user, workflow_id, _base(request))


@manage_router.get("/{workflow_id}/webhook", response_model=WebhookRead)
async def get_webhook(
    workflow_id: WorkflowId, request: Request, session: SessionDep, user: CurrentUser
) -> WebhookRead:
    return await service.get(session, user, workflow_id, _base(request))


@manage_router.patch("/{workflow_id}/webhook", response_model=WebhookRead)
async def update_webhook(
    workflow_id: WorkflowId,
    data: WebhookUpdate,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
) -> WebhookRead:
    """Enable or disable without losing the secret."""
    return await service.update(session, user, workflow_id, data, _base(request))


@manage_router.delete("/{workflow_id}/webhook", status_code=204)
async def delete_webhook(
    workflow_id: WorkflowId, session: SessionDep, user: CurrentUser
) -> Response:
    await service.delete(session, user, workflow_id)
    return Response(status_code=204)


async def _delivery(
    request: Request,
    timestamp: str | None,
    signature: str | None,
    mode: Literal["sync", "async"],
    timeout_s: float,
    idempotency_key: str | None,
) -> service.Delivery:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise AppError("body too large", code="PAYLOAD_TOO_LARGE", status=413)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise AppError("body too large", code="PAYLOAD_TOO_LARGE", status=413)
    return service.Delivery(body, timestamp, signature, mode, timeout_s, idempotency_key)


def _answer(run: RunDetail, mode: str) -> JSONResponse:
    return JSONResponse(run.model_dump(mode="json"), status_code=202 if mode == "async" else 200)


_TRIGGER_DOC = """Signed with the webhook's secret: `X-Tiangong-Timestamp` (unix seconds, within
300 s) and `X-Tiangong-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}." + body)>`.
The body (a JSON object, or `{"inputs": {...}}`) becomes the run's inputs. `mode=sync` waits up
to `timeout_s` and returns the run; `mode=async` answers 202 at once. An `Idempotency-Key`
header returns the same run when repeated."""


@trigger_router.post("/by-name/{name}", response_model=RunDetail, description=_TRIGGER_DOC)
async def trigger_by_name(
    name: Annotated[str, Path(min_length=1, max_length=100)],
    request: Request,
    session: SessionDep,
    timestamp: Timestamp = None,
    signature: Signature = None,
    idempotency_key: IdempotencyKey = None,
    mode: Mode = "sync",
    timeout_s: TimeoutS = 30,
) -> JSONResponse:
    delivery = await _delivery(request, timestamp, signature, mode, timeout_s, idempotency_key)
    run, _ = await service.trigger_by_name(session, name, delivery)
    return _answer(run, mode)


@trigger_router.post("/{workflow_id}", response_model=RunDetail, description=_TRIGGER_DOC)
async def trigger_by_id(
    workflow_id: WorkflowId,
    request: Request,
    session: SessionDep,
    timestamp: Timestamp = None,
    signature: Signature = None,
    idempotency_key: IdempotencyKey = None,
    mode: Mode = "sync",
    timeout_s: TimeoutS = 30,
) -> JSONResponse:
    delivery = await _delivery(request, timestamp, signature, mode, timeout_s, idempotency_key)
    run, _ = await service.trigger_by_id(session, workflow_id, delivery)
    return _answer(run, mode)
