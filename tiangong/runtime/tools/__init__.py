"""Tools: one registry for builtin, custom HTTP, code and MCP tools."""

from tiangong.runtime.tools.base import (
    AnyArgs,
    JsonResult,
    SchemaTool,
    Tool,
    ToolError,
    ToolInputError,
    ToolRejected,
)
from tiangong.runtime.tools.context import (
    CodeResult,
    CodeRunner,
    HttpFetcher,
    HttpResult,
    TextModel,
    ToolContext,
)
from tiangong.runtime.tools.executor import Approver, RegistryExecutor
from tiangong.runtime.tools.registry import BUILTIN, ToolRegistry, builtin_tool

__all__ = [
    "AnyArgs",
    "JsonResult",
    "SchemaTool",
    "BUILTIN",
    "Approver",
    "CodeResult",
    "CodeRunner",
    "HttpFetcher",
    "HttpResult",
    "RegistryExecutor",
    "TextModel",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolInputError",
    "ToolRegistry",
    "ToolRejected",
    "builtin_tool",
]
