"""/data-sources: saved connections to users' databases, Redis, files and APIs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.data_sources import service
from tiangong.data_sources.schemas import (
    ConnectionTestResult,
    DataSourceCreate,
    DataSourceList,
    DataSourceQuery,
    DataSourceRead,
    DataSourceUpdate,
    QueryResult,
    SourceType,
)
from tiangong.db.session import SessionDep

router = APIRouter(prefix="/data-sources", tags=["data sources"])


@router.get("", response_model=DataSourceList)
async def list_data_sources(
    session: SessionDep,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    type: Annotated[SourceType | None, Query()] = None,  # noqa: A002 - the API's name
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> DataSourceList:
    return await service.list_sources(
        session, user, type_=type, search=q, page=page, page_size=page_size
    )


@router.post("", response_model=DataSourceRead, status_code=201)
async def create_data_source(
    data: DataSourceCreate, session: SessionDep, user: CurrentUser
) -> DataSourceRead:
    """Secrets (password, headers, secret_access_key) are stored encrypted and never returned."""
    return await service.create(session, user, data)


@router.get("/{source_id}", response_model=DataSourceRead)
async def get_data_source(source_id: str, session: SessionDep, user: CurrentUser) -> DataSourceRead:
    return await service.get(session, user, source_id)


@router.put("/{source_id}", response_model=DataSourceRead)
async def update_data_source(
    source_id: str, data: DataSourceUpdate, session: SessionDep, user: CurrentUser
) -> DataSourceRead:
    return await service.update(session, user, source_id, data)


@router.delete("/{source_id}", status_code=204)
async def delete_data_source(source_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete(session, user, source_id)
    return Response(status_code=204)


@router.post("/{source_id}/test", response_model=ConnectionTestResult)
async def test_data_source(
    source_id: str, session: SessionDep, user: CurrentUser
) -> ConnectionTestResult:
    """Connects (or reads the file) and reports ok or a classified error; never a 5xx for an
    unreachable server."""
    return await service.test(session, user, source_id)


@router.post("/{source_id}/query", response_model=QueryResult)
async def query_data_source(
    source_id: str, data: DataSourceQuery, session: SessionDep, user: CurrentUser
) -> QueryResult:
    """A read-only query: one SELECT in a read-only transaction (mysql, postgresql), an
    allowed Redis command, filtered rows of a CSV/JSON upload, or a GET of an API source."""
    return await service.query(session, user, source_id, data)
