from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from tiangong.auth import service
from tiangong.auth.deps import CurrentUser
from tiangong.auth.models import User
from tiangong.auth.schemas import Token, UserCreate, UserRead
from tiangong.db.session import SessionDep

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", response_model=UserRead, status_code=201)
async def register(data: UserCreate, session: SessionDep) -> User:
    return await service.register(session, data)


@router.post("/login", response_model=Token)
async def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(min_length=1, max_length=255, description="email or nickname")],
    password: Annotated[str, Form(min_length=1, max_length=128)],
) -> Token:
    client_ip = request.client.host if request.client else "unknown"
    return await service.login(session, username, password, client_ip)


@router.get("/me", response_model=UserRead)
async def me(user: CurrentUser) -> User:
    return user
