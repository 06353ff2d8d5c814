"""/feishu: the bot's event callback (public, verified by Feishu's token) and bindings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tiangong.auth.deps import AdminUser, CurrentUser
from tiangong.db.session import SessionDep
from tiangong.feishu import events, service
from tiangong.feishu.schemas import (
    BindDecision,
    BindingList,
    BindingLookup,
    BindingRead,
    BindRequest,
    DefaultAgentRead,
    DefaultAgentSet,
    EventAck,
    FeishuStatus,
    OpenIdRequest,
    UnbindRequest,
)

router = APIRouter(prefix="/feishu", tags=["feishu"])


@router.post(
    "/event",
    response_model=EventAck | dict[str, str],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def feishu_event(request: Request, session: SessionDep) -> EventAck | dict[str, str]:
    """Feishu's event callback: no bearer token; checked by the verification token (and the
    signature and AES encryption when an encrypt key is configured). Answers url_verification
    with the challenge; message events are answered in the background."""
    return await events.receive(session, await request.body(), request.headers)


@router.post("/bind", response_model=BindingRead, status_code=201)
async def bind(
    data: BindRequest, session: SessionDep, user: CurrentUser, response: Response
) -> BindingRead:
    """Pending until an admin approves; an admin's binding is active at once (201 new, 200
    when the binding already existed)."""
    read, created = await service.bind(session, user, data)
    if not created:
        response.status_code = 200
    return read


@router.post("/unbind", response_model=BindingRead)
async def unbind(data: UnbindRequest, session: SessionDep, user: CurrentUser) -> BindingRead:
    return await service.unbind(session, user, data)


@router.post("/lookup", response_model=BindingLookup)
async def lookup(data: OpenIdRequest, session: SessionDep, user: CurrentUser) -> BindingLookup:
    """Which user an open_id is bound to: admins ask about any, users about their own."""
    return await service.lookup(session, user, data.open_id)


@router.get("/status", response_model=FeishuStatus)
async def feishu_status(session: SessionDep, user: CurrentUser) -> FeishuStatus:
    return await service.status(session, user)


@router.get("/pending", response_model=BindingList)
async def pending_bindings(
    session: SessionDep,
    admin: AdminUser,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> BindingList:
    return await service.pending(session, page=page, page_size=page_size)


@router.post("/bind-pending", response_model=BindingRead)
async def decide_pending(data: BindDecision, session: SessionDep, admin: AdminUser) -> BindingRead:
    """Approve or reject a pending binding; a rejected one is removed (status "rejected")."""
    return await service.decide(session, admin, data)


@router.get("/default-agent", response_model=DefaultAgentRead)
async def get_default_agent(session: SessionDep, user: CurrentUser) -> DefaultAgentRead:
    return await service.get_default_agent(session, user)


@router.post("/default-agent", response_model=DefaultAgentRead)
async def set_default_agent(
    data: DefaultAgentSet, session: SessionDep, user: CurrentUser
) -> DefaultAgentRead:
    return await service.set_default_agent(session, user, data)
