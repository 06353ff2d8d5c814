from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Sentiment = Literal["positive", "neutral", "negative"]


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(min_length=1, max_length=36, description="the session_id")
    message_id: StrictInt = Field(ge=1, le=2**63 - 1, description="an assistant message")
    rating: Literal["up", "down"] | Annotated[StrictInt, Field(ge=1, le=5)] = Field(
        description='"up"/"down", or a score from 1 to 5'
    )
    comment: str = Field(default="", max_length=2_000)
    tags: list[Tag] = Field(default_factory=list, max_length=10)


class FeedbackRead(BaseModel):
    id: str
    conversation_id: str
    message_id: int
    agent_id: str | None
    rating: str
    score: int
    sentiment: Sentiment
    comment: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class TagCount(BaseModel):
    tag: str
    count: int


class AgentFeedback(BaseModel):
    agent_id: str | None = Field(description="null: bare chats, or a deleted agent")
    agent_name: str | None
    total: int
    positive: int
    neutral: int
    negative: int
    positive_rate: float | None
    avg_score: float | None
    top_tags: list[TagCount]


class FeedbackAnalysis(BaseModel):
    scope: str
    days: int
    since: datetime
    total: int
    positive: int
    neutral: int
    negative: int
    positive_rate: float | None
    top_tags: list[TagCount]
    agents: list[AgentFeedback]
    tag_sample: int = Field(description="how many of the newest ratings the tag counts read")


class NegativeSample(BaseModel):
    feedback_id: str
    conversation_id: str
    message_id: int
    agent_id: str | None
    user_id: str
    rating: str
    score: int
    comment: str
    tags: list[str]
    question: str | None
    answer: str
    created_at: datetime


class NegativeSampleList(BaseModel):
    scope: str
    items: list[NegativeSample]
    total: int
    page: int
    page_size: int
