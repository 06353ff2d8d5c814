"""The workflow templates: definitions that run as they are, and what a list shows of them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from tiangong.errors import NotFound
from tiangong.workflows.templates import content, data, language
from tiangong.workflows.templates.schemas import (
    TemplateInput,
    WorkflowTemplateDetail,
    WorkflowTemplateSummary,
)

_TEMPLATES: dict[str, dict[str, Any]] = {
    template["id"]: template
    for template in (
        language.CUSTOMER_SUPPORT_TRIAGE,
        content.CONTENT_REVIEW_LOOP,
        content.SUMMARISE_AND_PUBLISH,
        language.TRANSLATE_LIST,
        language.PARALLEL_PERSPECTIVES,
        language.DELAYED_FOLLOWUP,
        data.DATA_CLEANUP,
        data.JSON_API_FETCH,
        data.DAILY_REPORT,
    )
}

_JSON_TYPES = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "object": {"type": "object"},
    "array": {"type": "array"},
    "any": {},
}


def _nodes(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node, including the inner node of a loop."""
    for spec in definition["nodes"]:
        yield spec
        inner = spec.get("config", {}).get("node")
        if spec["type"] == "loop" and isinstance(inner, dict):
            yield inner


def _inputs(definition: dict[str, Any]) -> list[TemplateInput]:
    start = next(spec for spec in definition["nodes"] if spec["type"] == "start")
    return [
        TemplateInput(
            name=item["name"],
            type=item.get("type", "string"),
            required=item.get("required", True),
            default=item.get("default"),
            description=item.get("description", ""),
        )
        for item in start["config"].get("inputs", [])
    ]


def _summary(template: dict[str, Any]) -> WorkflowTemplateSummary:
    inputs = _inputs(template["definition"])
    return WorkflowTemplateSummary(
        id=template["id"],
        name=template["name"],
        description=template["description"],
        category=template["category"],
        tags=list(template["tags"]),
        node_types=sorted({spec["type"] for spec in _nodes(template["definition"])}),
        inputs=inputs,
        required_inputs=[item.name for item in inputs if item.required],
    )


def _input_schema(inputs: list[TemplateInput]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for item in inputs:
        prop = dict(_JSON_TYPES.get(item.type, {}))
        if item.description:
            prop["description"] = item.description
        if not item.required:
            prop["default"] = item.default
        properties[item.name] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": [item.name for item in inputs if item.required],
        "additionalProperties": False,
    }


def list_templates(
    *, category: str | None = None, search: str | None = None
) -> list[WorkflowTemplateSummary]:
    found = []
    needle = search.strip().lower() if search else ""
    for template in _TEMPLATES.values():
        if category and template["category"].lower() != category.strip().lower():
            continue
        text = " ".join([template["name"], template["description"], *template["tags"]])
        if needle and needle not in text.lower():
            continue
        found.append(_summary(template))
    return found


def definition_of(template_id: str) -> dict[str, Any]:
    """A copy of the template (callers may change what they get)."""
    template = _TEMPLATES.get(template_id)
    if template is None:
        raise NotFound(f"no workflow template '{template_id}'", code="TEMPLATE_NOT_FOUND")
    return copy.deepcopy(template)


def get_template(template_id: str) -> WorkflowTemplateDetail:
    template = definition_of(template_id)
    summary = _summary(template)
    return WorkflowTemplateDetail(
        **summary.model_dump(),
        definition=template["definition"],
        input_schema=_input_schema(summary.inputs),
    )


def template_ids() -> list[str]:
    return list(_TEMPLATES)
