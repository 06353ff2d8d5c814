"""Imports every table so Base.metadata is complete (for Alembic and test cleanup)."""

import tiangong.data_sources.models  # noqa: F401  (its tables)
import tiangong.feishu.models  # noqa: F401  (its tables)
import tiangong.goals.models  # noqa: F401  (its tables)
import tiangong.market.models  # noqa: F401  (its tables)
import tiangong.notices.models  # noqa: F401  (its tables)
import tiangong.permissions.models  # noqa: F401  (its tables)
import tiangong.plugins.models  # noqa: F401  (its tables)
from tiangong.agents.models import Agent, AgentVersion
from tiangong.auth.models import User
from tiangong.conversations.models import Conversation, Message
from tiangong.db.base import Base
from tiangong.execution_logs.models import LogRetentionPolicy
from tiangong.knowledge.models import Chunk, Document, KnowledgeBase
from tiangong.llm_logs.models import LLMCallLog
from tiangong.mcp.models import McpServer
from tiangong.model_configs.models import ModelConfig
from tiangong.node_templates.models import NodeTemplate
from tiangong.scene_contracts.models import SceneContract
from tiangong.schedules.models import AgentSchedule, ScheduleRun
from tiangong.tools.models import CustomTool, ToolApproval
from tiangong.webhooks.models import WorkflowWebhook
from tiangong.workflows.models import Workflow, WorkflowNodeRun, WorkflowRun, WorkflowVersion

__all__ = [
    "Agent",
    "AgentSchedule",
    "LogRetentionPolicy",
    "NodeTemplate",
    "SceneContract",
    "ScheduleRun",
    "WorkflowWebhook",
    "AgentVersion",
    "Base",
    "Chunk",
    "Conversation",
    "CustomTool",
    "Document",
    "KnowledgeBase",
    "LLMCallLog",
    "McpServer",
    "Message",
    "ModelConfig",
    "ToolApproval",
    "User",
    "Workflow",
    "WorkflowNodeRun",
    "WorkflowRun",
    "WorkflowVersion",
]
