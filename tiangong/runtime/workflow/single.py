"""One node run by itself, with the outputs of its upstream nodes given: the editor's
"test this node". Resolution, validation and inner nodes work as in the engine; there is no
graph, no checkpoint and no retry (a debugging run happens exactly once)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import ChainMap
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from tiangong.errors import AppError, ValidationFailed
from tiangong.runtime.workflow.errors import NodeError
from tiangong.runtime.workflow.graph import InnerNodeSpec
from tiangong.runtime.workflow.nodes import Node, NodeContext, NodeResult, node_class
from tiangong.runtime.workflow.nodes.base import NodeConfig, inner_node_id
from tiangong.runtime.workflow.services import WorkflowServices
from tiangong.runtime.workflow.validate import Problem, check_config
from tiangong.runtime.workflow.variables import START_ALIAS, find_references, resolve

# Types that exist only as part of a graph (same rule as validate's).
_GRAPH_ONLY = frozenset({"start", "end", "approval", "join"})

logger = logging.getLogger(__name__)


class NodeInvalid(ValidationFailed):
    """The node cannot be run as given; `details` lists every problem."""

    code = "NODE_INVALID"

    def __init__(self, problems: list[Problem]) -> None:
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        super().__init__(f"{problems[0].message}{more}", details=[p.to_dict() for p in problems])
        self.problems = problems


@dataclass(frozen=True, slots=True)
class SingleNodeResult:
    status: Literal["succeeded", "failed", "waiting"]
    outputs: dict[str, Any]
    branch: str | None
    error: dict[str, Any] | None
    duration_ms: float
    approval_id: str | None = None


def node_problems(
    node_type: str, config: Mapping[str, Any], *, version: int | None = None, node_id: str = ""
) -> list[Problem]:
    """Problems of a node's type and config found before run time (references pass)."""
    cls = node_class(node_type, version)
    if cls is None:
        suffix = f" version {version}" if version is not None else ""
        return [Problem("UNKNOWN_NODE_TYPE", f"unknown node type '{node_type}'{suffix}", node_id)]
    node = cls()
    parsed, errors = check_config(node, config)
    problems = [Problem("CONFIG_ERROR", message, node_id, f"config.{p}") for p, message in errors]
    if parsed is None:
        return problems
    problems += [Problem("CONFIG_ERROR", m, node_id, f"config.{p}") for p, m in node.check(parsed)]
    for field, inner in node.inner_nodes(parsed).items():
        if inner.type in _GRAPH_ONLY:
            message = f"a '{inner.type}' node cannot run inside a {node_type} node"
            problems.append(Problem("INVALID_INNER_NODE", message, node_id, f"config.{field}"))
            continue
        for problem in node_problems(inner.type, inner.config, version=inner.version):
            where = f"config.{field}.{problem.field}" if problem.field else f"config.{field}"
            problems.append(Problem(problem.code, problem.message, node_id, where))
    return problems


def _missing_references(
    node: Node[Any], config: Mapping[str, Any], known: set[str], node_id: str
) -> list[Problem]:
    problems = []
    for key, value in config.items():
        if key in node.raw_fields:
            continue
        for where, ref in find_references(value, f"config.{key}"):
            if ref.node_id not in known:
                message = f"{ref.text}: no inputs given for node '{ref.node_id}'"
                problems.append(Problem("MISSING_INPUT", message, node_id, where))
    return problems


def _resolved(node: Node[Any], raw: Mapping[str, Any], variables: Mapping[str, Any]) -> NodeConfig:
    """As the engine's `_config`: references resolved, raw fields kept, then validated."""
    values = {k: v if k in node.raw_fields else resolve(v, variables) for k, v in raw.items()}
    try:
        return node.Config.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        message = f"the resolved config is invalid: {problems}"
        raise NodeError(message, code="CONFIG_ERROR", retryable=False) from exc


async def _within(
    node: Node[Any], ctx: NodeContext, config: NodeConfig, timeout_s: float | None
) -> NodeResult:
    if timeout_s is None:
        return await node.run(ctx, config)
    deadline = asyncio.timeout(timeout_s)
    try:
        async with deadline:
            return await node.run(ctx, config)
    except TimeoutError:
        if not deadline.expired():
            raise
        message = f"the node did not finish within {timeout_s:g} s"
        raise NodeError(message, code="NODE_TIMEOUT") from None


def _context(
    run_id: str,
    node_id: str,
    node: Node[Any],
    config: NodeConfig,
    services: WorkflowServices,
    variables: MutableMapping[str, Any],
    upstream: Mapping[str, Mapping[str, Any]],
) -> NodeContext:
    async def run_inner(field: str, scope: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        spec: InnerNodeSpec = node.inner_nodes(config)[field]
        inner_id = inner_node_id(node_id, field)
        cls = node_class(spec.type, spec.version)
        assert cls is not None  # checked by node_problems
        inner = cls()
        inner_variables: ChainMap[str, Any] = ChainMap(dict(scope), variables)
        try:
            inner_config = _resolved(inner, spec.config, inner_variables)
            ctx = _context(run_id, inner_id, inner, inner_config, services, inner_variables, {})
            result = await _within(inner, ctx, inner_config, spec.timeout_s)
        except AppError as exc:
            raise NodeError(f"{inner_id}: {exc.message}", code=exc.code, retryable=False) from exc
        return result.outputs

    run_inputs = variables.get(START_ALIAS, {})
    return NodeContext(run_id, node_id, services, run_inputs, upstream, run_inner)


async def run_node(
    node_id: str,
    node_type: str,
    config: Mapping[str, Any],
    services: WorkflowServices,
    *,
    inputs: Mapping[str, Mapping[str, Any]],
    version: int | None = None,
    timeout_s: float | None = None,
    run_id: str | None = None,
) -> SingleNodeResult:
    """Run one node once. `inputs` are upstream outputs by node id (`start` for the run's
    inputs); they are both what `{{node_id.field}}` resolves against and the node's upstream.

    Raises NodeInvalid when the node cannot run as given (unknown type, bad config, a
    reference to a node with no inputs, or a config that is invalid once resolved); a failure
    while running is a result with status "failed"."""
    problems = node_problems(node_type, config, version=version, node_id=node_id)
    cls = node_class(node_type, version)
    if not problems and cls is not None:
        problems = _missing_references(cls(), config, set(inputs), node_id)
    if problems:
        raise NodeInvalid(problems)
    assert cls is not None
    node = cls()
    variables: dict[str, Any] = {k: dict(v) for k, v in inputs.items()}
    try:
        resolved = _resolved(node, config, variables)
    except NodeError as exc:
        raise NodeInvalid([Problem(exc.code, exc.message, node_id, "config")]) from exc
    upstream = {k: v for k, v in variables.items() if k != START_ALIAS}
    run_id = run_id or uuid.uuid4().hex
    ctx = _context(run_id, node_id, node, resolved, services, variables, upstream)
    clock = time.perf_counter()
    try:
        result = await _within(node, ctx, resolved, timeout_s)
    except Exception as exc:
        if not isinstance(exc, AppError):
            logger.warning("single node %s failed", node_id, exc_info=exc)
        error = (
            {"code": exc.code, "message": exc.message}
            if isinstance(exc, AppError)
            else {"code": "NODE_FAILED", "message": f"{type(exc).__name__}: {exc}"}
        )
        duration_ms = (time.perf_counter() - clock) * 1000
        return SingleNodeResult("failed", {}, None, error, duration_ms)
    duration_ms = (time.perf_counter() - clock) * 1000
    if result.wait_for is not None:
        return SingleNodeResult(
            "waiting", result.outputs, None, None, duration_ms, approval_id=result.wait_for
        )
    return SingleNodeResult("succeeded", result.outputs, result.branch, None, duration_ms)
