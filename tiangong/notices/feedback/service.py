"""Feedback on assistant messages: one rating per user per message (posting again updates it),
analysis per agent, and negative samples with their question and answer for datasets."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.errors import BadRequest, NotFound
from tiangong.monitoring.figures import as_float, as_int, ratio, window
from tiangong.monitoring.scope import Scope
from tiangong.notices.feedback import repository
from tiangong.notices.feedback.schemas import (
    AgentFeedback,
    FeedbackAnalysis,
    FeedbackCreate,
    FeedbackRead,
    NegativeSample,
    NegativeSampleList,
    Sentiment,
    TagCount,
)
from tiangong.notices.models import Feedback

TOP_TAGS = 10
SCORES = {"up": 5, "down": 1}


def sentiment(score: int) -> Sentiment:
    return "positive" if score >= 4 else "negative" if score <= 2 else "neutral"


def _read(row: Feedback) -> FeedbackRead:
    return FeedbackRead(
        id=row.id,
        conversation_id=row.conversation_id,
        message_id=row.message_id,
        agent_id=row.agent_id,
        rating=row.rating,
        score=row.score,
        sentiment=sentiment(row.score),
        comment=row.comment,
        tags=list(row.tags or []),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def submit(
    session: AsyncSession, user: User, data: FeedbackCreate
) -> tuple[FeedbackRead, bool]:
    """The saved feedback and whether it is new."""
    found = await repository.own_message(session, user.id, data.conversation_id, data.message_id)
    if found is None:
        raise NotFound("Conversation not found", code="CONVERSATION_NOT_FOUND")
    conversation, message = found
    if message is None:
        raise NotFound("Message not found", code="MESSAGE_NOT_FOUND")
    if message.role != "assistant":
        raise BadRequest("Only assistant messages can be rated", code="MESSAGE_NOT_RATABLE")
    rating = data.rating if isinstance(data.rating, str) else str(data.rating)
    score = SCORES.get(rating) or int(rating)
    tags = list(dict.fromkeys(data.tags))  # each tag once, first order kept
    row = await repository.get_by_message(session, user.id, message.id)
    created = row is None
    if row is None:
        row = Feedback(
            user_id=user.id,
            conversation_id=conversation.id,
            message_id=message.id,
            agent_id=conversation.agent_id,
        )
        session.add(row)
    row.rating, row.score, row.comment, row.tags = rating, score, data.comment, tags
    await session.flush()
    await session.refresh(row)
    return _read(row), created


def _top(counter: Counter[str]) -> list[TagCount]:
    return [TagCount(tag=tag, count=n) for tag, n in counter.most_common(TOP_TAGS)]


async def analysis(session: AsyncSession, scope: Scope, *, days: int) -> FeedbackAnalysis:
    since = window(days).since
    total, positive, neutral, negative, _ = await repository.totals(session, scope, since)
    tagged = await repository.tags(session, scope, since)
    overall: Counter[str] = Counter()
    by_agent: dict[str | None, Counter[str]] = {}
    for agent_id, tags in tagged:
        overall.update(tags)
        by_agent.setdefault(agent_id, Counter()).update(tags)
    agents = [
        AgentFeedback(
            agent_id=agent_id,
            agent_name=name,
            total=as_int(n),
            positive=as_int(pos),
            neutral=as_int(neu),
            negative=as_int(neg),
            positive_rate=ratio(as_int(pos), as_int(n)),
            avg_score=as_float(avg),
            top_tags=_top(by_agent.get(agent_id, Counter())),
        )
        for agent_id, name, n, pos, neu, neg, avg in await repository.per_agent(
            session, scope, since
        )
    ]
    return FeedbackAnalysis(
        scope=scope.name,
        days=days,
        since=since,
        total=as_int(total),
        positive=as_int(positive),
        neutral=as_int(neutral),
        negative=as_int(negative),
        positive_rate=ratio(as_int(positive), as_int(total)),
        top_tags=_top(overall),
        agents=agents,
        tag_sample=len(tagged),
    )


async def negative_samples(
    session: AsyncSession,
    scope: Scope,
    *,
    agent_id: str | None,
    days: int | None,
    page: int,
    page_size: int,
) -> NegativeSampleList:
    since = utcnow() - timedelta(days=days) if days is not None else None
    rows, total = await repository.negative_page(
        session,
        scope,
        agent_id=agent_id,
        since=since,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    questions = await repository.questions(session, [message for _, message in rows])
    items = [
        NegativeSample(
            feedback_id=fb.id,
            conversation_id=fb.conversation_id,
            message_id=fb.message_id,
            agent_id=fb.agent_id,
            user_id=fb.user_id,
            rating=fb.rating,
            score=fb.score,
            comment=fb.comment,
            tags=list(fb.tags or []),
            question=questions.get(message.id),
            answer=message.content,
            created_at=fb.created_at,
        )
        for fb, message in rows
    ]
    return NegativeSampleList(
        scope=scope.name, items=items, total=total, page=page, page_size=page_size
    )
