"""Execution logs: the recorded runs and node runs of the caller's workflows, read-only, plus
the caller's retention policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.execution_logs import service
from tiangong.execution_logs.schemas import (
    ChainRun,
    LogStats,
    NodeLog,
    RetentionRead,
    RetentionUpdate,
    RunLogDetail,
    RunLogList,
    RunPerformance,
    RunStatus,
    RunTrigger,
)

router = APIRouter(prefix="/execution-logs", tags=["execution logs"])


@router.get("", response_model=RunLogList)
async def list_logs(
    session: SessionDep,
    user: CurrentUser,
    workflow_id: Annotated[str | None, Query(max_length=36)] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    trigger: Annotated[RunTrigger | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="created at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="created before (ISO 8601)")] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="matches the workflow name, run id, node ids/types, error codes/messages",
        ),
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> RunLogList:
    """Runs newest first."""
    return await service.list_logs(
        session,
        user,
        workflow_id=workflow_id,
        status=status,
        trigger=trigger,
        since=since,
        until=until,
        q=q,
        page=page,
        page_size=page_size,
    )


@router.get("/stats", response_model=LogStats)
async def stats(
    session: SessionDep,
    user: CurrentUser,
    days: Annotated[int, Query(ge=1, le=90)] = 7,
    workflow_id: Annotated[str | None, Query(max_length=36)] = None,
) -> LogStats:
    """Over runs created in the last `days` days (UTC), today included."""
    return await service.stats(session, user, days=days, workflow_id=workflow_id)


@router.get("/retention", response_model=RetentionRead)
async def get_retention(session: SessionDep, user: CurrentUser) -> RetentionRead:
    return await service.get_retention(session, user)


@router.put("/retention", response_model=RetentionRead)
async def set_retention(
    data: RetentionUpdate, session: SessionDep, user: CurrentUser
) -> RetentionRead:
    """Finished runs older than `retention_days` are deleted by the retention job."""
    return await service.set_retention(session, user, data)


@router.get("/{run_id}", response_model=RunLogDetail)
async def get_log(run_id: str, session: SessionDep, user: CurrentUser) -> RunLogDetail:
    """The run with every node's log entry, in execution order."""
    return await service.get_log(session, user, run_id)


@router.get("/{run_id}/nodes/{node_id}", response_model=NodeLog)
async def get_node_log(
    run_id: str, node_id: str, session: SessionDep, user: CurrentUser
) -> NodeLog:
    return await service.get_node_log(session, user, run_id, node_id)


@router.get("/{run_id}/performance", response_model=RunPerformance)
async def performance(
    run_id: str,
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> RunPerformance:
    """Total and per-node durations (the `limit` slowest), per-type totals, queue and idle time,
    and the critical path computed from the run's version snapshot (see `performance.py`)."""
    return await service.get_performance(session, user, run_id, limit=limit)


@router.get("/{run_id}/call-chain", response_model=ChainRun)
async def call_chain(
    run_id: str,
    session: SessionDep,
    user: CurrentUser,
    depth: Annotated[int, Query(ge=0, le=10)] = 5,
) -> ChainRun:
    """The run, its nodes and their nested calls; sub-workflow runs expanded `depth` levels."""
    return await service.get_call_chain(session, user, run_id, depth=depth)
