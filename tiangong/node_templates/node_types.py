"""The catalogue of workflow node types, as the editor and the node-template checks see it."""

from __future__ import annotations

import functools

from tiangong.node_templates.schemas import NodeTypeRead
from tiangong.runtime.workflow import node_class, node_types

# What each builtin type is for, in the words an editor shows next to it.
_DESCRIPTIONS = {
    "start": "The run's typed inputs; every workflow has exactly one.",
    "end": "The run's outputs: name -> value, usually references such as {{llm1.text}}.",
    "llm": "One chat completion with the owner's model (or a named model config).",
    "agent": "A whole agent run (tools, iterations) on one message.",
    "tool": "Calls one tool (builtin, custom or MCP) with JSON arguments.",
    "http_request": "An HTTP request through the SSRF-safe client; outputs status, body, json.",
    "code": "Python or JavaScript in the sandbox: main(**inputs) returns the result.",
    "condition": "If/elif/else over safe expressions; edges leave by case id or 'else'.",
    "join": "Waits for the branches that ran and collects their outputs by node id.",
    "variable_assign": "Names values (references allowed); each becomes an output.",
    "template": "Jinja2 (sandboxed) over named variables; outputs text.",
    "loop": "Runs an inner node once per list item; outputs results and count.",
    "sub_workflow": "Runs another workflow and outputs its outputs.",
    "delay": "Waits a number of seconds.",
    "approval": "Pauses the branch until a person approves or rejects.",
    "knowledge_retrieval": "Hybrid search over knowledge bases; outputs results and context.",
}


@functools.cache
def _describe(type_name: str, version: int) -> NodeTypeRead:
    cls = node_class(type_name, version)
    assert cls is not None
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    return NodeTypeRead(
        type=type_name,
        version=version,
        versions=node_types()[type_name],
        description=_DESCRIPTIONS.get(type_name) or " ".join(doc.split()),
        config_schema=cls.Config.model_json_schema(),
    )


def catalogue() -> list[NodeTypeRead]:
    """Every registered type at its newest version."""
    return [_describe(name, max(versions)) for name, versions in node_types().items()]
