"""`validate(definition)`: every problem of a workflow, each with the node it concerns.

Checked: the definition's shape, duplicate ids, unknown node types, each node's config (its
Pydantic `Config` plus the type's own checks), one start and at least one end, dangling edges,
edge handles (branches a node cannot take, an error edge without on_error="branch", the
reverse), cycles (repetition is a loop node, never a back edge), nodes unreachable from start,
and `{{node_id.field}}` references to nodes that do not exist, do not run before the node,
or lack that output.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from tiangong.runtime.workflow.graph import (
    ERROR_HANDLE,
    EdgeSpec,
    InnerNodeSpec,
    NodeSpec,
    WorkflowDefinition,
)
from tiangong.runtime.workflow.nodes import Node, node_class
from tiangong.runtime.workflow.nodes.base import STATIC_CHECK, NodeConfig
from tiangong.runtime.workflow.variables import (
    START_ALIAS,
    Reference,
    find_references,
    is_exact_reference,
)

# Types that only make sense as graph nodes, not as the body of a loop.
_GRAPH_ONLY = frozenset({"start", "end", "approval", "join"})
# Sentinel: the node's config could not be checked, so its handles and outputs are unknown.
_UNKNOWN: Any = object()


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    node_id: str | None = None
    # Where in the node: "config.prompt", "edges[3]".
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "node_id": self.node_id,
            "field": self.field,
        }


def validate(definition: WorkflowDefinition | Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(definition, WorkflowDefinition):
        nodes, edges, broken = definition.nodes, definition.edges, set[str]()
    else:
        nodes, edges, broken = _parse(definition, problems)
    _Checker(nodes, edges, broken, problems).check()
    return problems


def check_config(
    node: Node[Any], raw: Mapping[str, Any]
) -> tuple[NodeConfig | None, list[tuple[str, str]]]:
    """The config as far as it can be checked before run time, and its errors (path, message).
    A value that is exactly one reference passes; its type is checked once resolved."""
    try:
        return node.Config.model_validate(raw, context=STATIC_CHECK), []
    except ValidationError as exc:
        errors = [
            (_path(error["loc"]), error["msg"])
            for error in exc.errors()
            if not _at_reference(raw, error["loc"])
        ]
        return None, errors


def _path(loc: Iterable[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _at_reference(raw: Any, loc: Iterable[int | str]) -> bool:
    current = raw
    for part in loc:
        if is_exact_reference(current):
            return True
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            return False
    return is_exact_reference(current)


def _parse(
    definition: Mapping[str, Any], problems: list[Problem]
) -> tuple[list[NodeSpec], list[EdgeSpec], set[str]]:
    if not isinstance(definition, Mapping):
        problems.append(Problem("INVALID_DEFINITION", "a workflow must be an object"))
        return [], [], set()
    nodes: list[NodeSpec] = []
    edges: list[EdgeSpec] = []
    broken: set[str] = set()
    for kind, model, out in (("nodes", NodeSpec, nodes), ("edges", EdgeSpec, edges)):
        items = definition.get(kind, [])
        if not isinstance(items, list):
            problems.append(Problem("INVALID_DEFINITION", f"'{kind}' must be a list", None, kind))
            continue
        for i, item in enumerate(items):
            node_id = item.get("id") if isinstance(item, Mapping) else None
            node_id = node_id if isinstance(node_id, str) else None
            try:
                out.append(model.model_validate(item))  # type: ignore[arg-type]
            except ValidationError as exc:
                if kind == "nodes" and node_id is not None:
                    broken.add(node_id)
                for error in exc.errors():
                    where = _path((kind, i, *error["loc"]))
                    problems.append(
                        Problem(f"INVALID_{kind[:-1].upper()}", error["msg"], node_id, where)
                    )
    return nodes, edges, broken


class _Checker:
    def __init__(
        self,
        nodes: list[NodeSpec],
        edges: list[EdgeSpec],
        broken: set[str],
        problems: list[Problem],
    ) -> None:
        self.edges = edges
        self.broken = broken
        self.problems = problems
        self.specs: dict[str, NodeSpec] = {}
        for spec in nodes:
            if spec.id in self.specs:
                self._add("DUPLICATE_NODE_ID", f"node id '{spec.id}' is used twice", spec.id)
            else:
                self.specs[spec.id] = spec
        # node id -> its handles / output fields (None: any; _UNKNOWN: config not checkable).
        self.handles: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.raw_fields: dict[str, frozenset[str]] = {}
        self.inner: dict[str, tuple[Node[Any], list[tuple[str, InnerNodeSpec, Node[Any]]]]] = {}
        self.successors: dict[str, list[str]] = {node_id: [] for node_id in self.specs}
        self.predecessors: dict[str, list[str]] = {node_id: [] for node_id in self.specs}
        self.start_id: str | None = None

    def _add(self, code: str, message: str, node_id: str | None, field: str | None = None) -> None:
        self.problems.append(Problem(code, message, node_id, field))

    def check(self) -> None:
        for spec in self.specs.values():
            self._node(spec)
        self._start_and_end()
        self._edges()
        self._cycles()
        self._reachable()
        self._references()

    # --- nodes ---------------------------------------------------------------------------

    def _node(self, spec: NodeSpec) -> None:
        node, config = self._config(spec.id, spec, "config")
        if node is None:
            self.handles[spec.id] = self.outputs[spec.id] = _UNKNOWN
            return
        self.raw_fields[spec.id] = node.raw_fields
        if spec.id == START_ALIAS and spec.type != "start":
            self._add("RESERVED_ID", f"'{START_ALIAS}' is reserved for the start node", spec.id)
        if config is None:
            self.handles[spec.id] = self.outputs[spec.id] = _UNKNOWN
            return
        self.handles[spec.id] = node.handles(config)
        self.outputs[spec.id] = node.output_fields(config)
        inner: list[tuple[str, InnerNodeSpec, Node[Any]]] = []
        for field, inner_spec in node.inner_nodes(config).items():
            where = f"config.{field}"
            if inner_spec.type in _GRAPH_ONLY:
                message = f"a '{inner_spec.type}' node cannot run inside a {spec.type} node"
                self._add("INVALID_INNER_NODE", message, spec.id, where)
                continue
            inner_node, _ = self._config(spec.id, inner_spec, f"{where}.config")
            if inner_node is not None:
                inner.append((field, inner_spec, inner_node))
        self.inner[spec.id] = (node, inner)

    def _config(
        self, node_id: str, spec: NodeSpec | InnerNodeSpec, where: str
    ) -> tuple[Node[Any] | None, BaseModel | None]:
        cls = node_class(spec.type, spec.version)
        if cls is None:
            version = f" version {spec.version}" if spec.version is not None else ""
            self._add("UNKNOWN_NODE_TYPE", f"unknown node type '{spec.type}'{version}", node_id)
            return None, None
        node = cls()
        config, errors = check_config(node, spec.config)
        for path, message in errors:
            self._add("CONFIG_ERROR", message, node_id, f"{where}.{path}" if path else where)
        if config is not None:
            for path, message in node.check(config):
                self._add("CONFIG_ERROR", message, node_id, f"{where}.{path}")
        return node, config

    def _start_and_end(self) -> None:
        starts = [s.id for s in self.specs.values() if s.type == "start"]
        if not starts:
            self._add("MISSING_START", "the workflow has no start node", None)
        for extra in starts[1:]:
            self._add("MULTIPLE_START", "a workflow has exactly one start node", extra)
        self.start_id = starts[0] if starts else None
        if not any(s.type == "end" for s in self.specs.values()):
            self._add("MISSING_END", "the workflow has no end node", None)

    # --- edges ---------------------------------------------------------------------------

    def _edges(self) -> None:
        error_edges: set[str] = set()
        for i, edge in enumerate(self.edges):
            where = f"edges[{i}]"
            missing = [end for end in (edge.source, edge.target) if end not in self.specs]
            if missing:
                if not all(end in self.broken for end in missing):
                    present = [e for e in (edge.source, edge.target) if e in self.specs]
                    message = f"edge {edge.source} -> {edge.target}: no node '{missing[0]}'"
                    node_id = present[0] if present else edge.source
                    self._add("DANGLING_EDGE", message, node_id, where)
                continue
            self.successors[edge.source].append(edge.target)
            self.predecessors[edge.target].append(edge.source)
            source, target = self.specs[edge.source], self.specs[edge.target]
            if target.type == "start":
                self._add("INVALID_EDGE", "the start node cannot have incoming edges", target.id)
            if source.type == "end":
                self._add("INVALID_EDGE", "an end node cannot have outgoing edges", source.id)
            if edge.source_handle == ERROR_HANDLE:
                error_edges.add(source.id)
                if source.on_error != "branch":
                    message = f"an '{ERROR_HANDLE}' edge needs on_error='branch' on its source"
                    self._add("INVALID_HANDLE", message, source.id, where)
            else:
                self._handle(source, edge, where)
        for spec in self.specs.values():
            if spec.on_error == "branch" and spec.id not in error_edges:
                message = f"on_error='branch' needs an edge with source_handle '{ERROR_HANDLE}'"
                self._add("MISSING_ERROR_EDGE", message, spec.id)

    def _handle(self, source: NodeSpec, edge: EdgeSpec, where: str) -> None:
        handles = self.handles.get(source.id, _UNKNOWN)
        if handles is _UNKNOWN:
            return
        if handles is None:
            if edge.source_handle is not None:
                message = f"a {source.type} node takes no branch '{edge.source_handle}'"
                self._add("UNKNOWN_HANDLE", message, source.id, where)
        elif edge.source_handle is None:
            names = ", ".join(sorted(handles))
            message = f"edges from a {source.type} node need a source_handle ({names})"
            self._add("MISSING_HANDLE", message, source.id, where)
        elif edge.source_handle not in handles:
            names = ", ".join(sorted(handles))
            message = f"'{edge.source_handle}' is not a branch of this node ({names})"
            self._add("UNKNOWN_HANDLE", message, source.id, where)

    def _cycles(self) -> None:
        for component in _strongly_connected(self.successors):
            node_id = component[0]
            if len(component) > 1 or node_id in self.successors[node_id]:
                names = " -> ".join([*component, node_id])
                message = f"cycle {names}: repeat work with a loop node, not a back edge"
                self._add("CYCLE", message, node_id)

    def _reachable(self) -> None:
        if self.start_id is None:
            return
        seen = _closure(self.start_id, self.successors)
        for node_id, spec in self.specs.items():
            if node_id not in seen and spec.type != "start":
                self._add("UNREACHABLE", "no path from the start node leads here", node_id)

    # --- references ----------------------------------------------------------------------

    def _references(self) -> None:
        for spec in self.specs.values():
            raw = self.raw_fields.get(spec.id, frozenset())
            visible: set[str] | None = None
            for key, value in spec.config.items():
                if key in raw:
                    continue
                for where, ref in find_references(value, f"config.{key}"):
                    if visible is None:
                        visible = _closure(spec.id, self.predecessors) - {spec.id}
                    self._reference(spec.id, where, ref, visible, {})
            inner = self.inner.get(spec.id)
            if not inner:
                continue
            parent, members = inner
            # Inner nodes see what their parent sees, and the parent's per-run fields.
            scope = {spec.id: parent.inner_scope}
            outer = _closure(spec.id, self.predecessors) - {spec.id}
            for field, inner_spec, inner_node in members:
                for key, value in inner_spec.config.items():
                    if key in inner_node.raw_fields:
                        continue
                    for where, ref in find_references(value, f"config.{field}.config.{key}"):
                        self._reference(spec.id, where, ref, outer, scope)

    def _reference(
        self,
        node_id: str,
        where: str,
        ref: Reference,
        visible: set[str],
        scope: Mapping[str, frozenset[str]],
    ) -> None:
        target = ref.node_id
        if target in scope:
            fields: Any = scope[target]
        else:
            if target == START_ALIAS and self.start_id is not None:
                target = self.start_id
            if target not in self.specs:
                message = f"{ref.text} refers to node '{ref.node_id}', which does not exist"
                self._add("UNKNOWN_VARIABLE", message, node_id, where)
                return
            if target not in visible:
                message = f"{ref.text}: node '{target}' does not run before '{node_id}'"
                self._add("UNKNOWN_VARIABLE", message, node_id, where)
                return
            fields = self.outputs.get(target, _UNKNOWN)
            if self.specs[target].on_error != "fail" and fields not in (None, _UNKNOWN):
                fields = fields | {"error"}
        if fields is None or fields is _UNKNOWN or ref.field is None or ref.field in fields:
            return
        have = ", ".join(sorted(fields)) or "none"
        message = f"{ref.text}: node '{ref.node_id}' has no output '{ref.field}' (it has: {have})"
        self._add("UNKNOWN_VARIABLE", message, node_id, where)


def _closure(origin: str, links: Mapping[str, list[str]]) -> set[str]:
    seen = {origin}
    queue = deque([origin])
    while queue:
        for other in links.get(queue.popleft(), ()):
            if other not in seen:
                seen.add(other)
                queue.append(other)
    return seen


def _strongly_connected(successors: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a long chain must not exhaust the stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in successors:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = successors[node]
            if position < len(children):
                work.append((node, position + 1))
                child = children[position]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components
