from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.monitoring.scope import ScopeDep
from tiangong.notices.feedback import service
from tiangong.notices.feedback.schemas import (
    FeedbackAnalysis,
    FeedbackCreate,
    FeedbackRead,
    NegativeSampleList,
)

router = APIRouter(prefix="/feedback", tags=["feedback"])


@router.post("", response_model=FeedbackRead, status_code=201)
async def submit_feedback(
    data: FeedbackCreate, response: Response, session: SessionDep, user: CurrentUser
) -> FeedbackRead:
    """Rate an assistant message of one of the caller's conversations. One rating per message:
    posting again replaces it (200 instead of 201)."""
    saved, created = await service.submit(session, user, data)
    if not created:
        response.status_code = 200
    return saved


@router.get("/analysis", response_model=FeedbackAnalysis)
async def feedback_analysis(
    session: SessionDep, scope: ScopeDep, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> FeedbackAnalysis:
    """Counts, positive rate and common tags, overall and per agent, over the last `days` days:
    of the caller's own ratings, or everyone's with scope=all (administrators)."""
    return await service.analysis(session, scope, days=days)


@router.get("/negative-samples", response_model=NegativeSampleList)
async def negative_samples(
    session: SessionDep,
    scope: ScopeDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    agent_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    days: Annotated[int | None, Query(ge=1, le=3650)] = None,
) -> NegativeSampleList:
    """Ratings of 1-2 (or "down") with the question and the answer they rate, newest first."""
    return await service.negative_samples(
        session, scope, agent_id=agent_id, days=days, page=page, page_size=page_size
    )
