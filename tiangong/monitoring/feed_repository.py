"""The SQL behind /monitoring/activities: the newest rows of each kind the scope owns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.models import Agent
from tiangong.conversations.models import Conversation
from tiangong.knowledge.models import Document, KnowledgeBase
from tiangong.monitoring.schemas import ActivityType
from tiangong.monitoring.scope import Scope
from tiangong.workflows.models import Workflow, WorkflowRun

# (type, id, title, status, at)
Row = tuple[ActivityType, str, str, str, datetime]


def _sources(scope: Scope) -> dict[ActivityType, tuple[Select[str, str, str, datetime], Any]]:
    """type -> (SELECT id, title, status, at; the `at` column), each ordered newest first."""
    conversation_at = func.coalesce(Conversation.last_message_at, Conversation.created_at)
    return {
        "workflow_run": (
            select(WorkflowRun.id, Workflow.name, WorkflowRun.status, WorkflowRun.created_at)
            .join(Workflow, Workflow.id == WorkflowRun.workflow_id)
            .where(scope.owns(WorkflowRun.owner_id)),
            WorkflowRun.created_at,
        ),
        # An agent's updated_at moves with every change: edits, deploys, stops.
        "agent": (
            select(Agent.id, Agent.name, Agent.status, Agent.updated_at).where(
                scope.owns(Agent.owner_id)
            ),
            Agent.updated_at,
        ),
        "conversation": (
            select(Conversation.id, Conversation.title, Conversation.status, conversation_at).where(
                scope.owns(Conversation.user_id)
            ),
            conversation_at,
        ),
        "knowledge_document": (
            select(Document.id, Document.name, Document.status, Document.created_at)
            .join(KnowledgeBase, KnowledgeBase.id == Document.kb_id)
            .where(scope.owns(KnowledgeBase.owner_id)),
            Document.created_at,
        ),
    }


async def recent(session: AsyncSession, scope: Scope, limit: int) -> list[Row]:
    """Up to `limit` rows of each kind; the caller merges them."""
    found: list[Row] = []
    for kind, (stmt, at) in _sources(scope).items():
        rows = await session.execute(stmt.order_by(at.desc()).limit(limit))
        found.extend((kind, id_, title or "", status, when) for id_, title, status, when in rows)
    return found
