"""The workflow engine: runs a validated graph, yields typed events, checkpoints every step.

Scheduling. A node runs once every incoming edge is settled and at least one was taken; if
none was taken it is skipped, and so are its successors in turn (dead-path elimination).
So a fan-out is just several edges from one node (the targets run concurrently, up to
`max_concurrency`), and any node with several incoming edges joins: it waits for every
predecessor that runs, and ignores the ones that were skipped. The `join` node type only adds
the collected outputs of its predecessors.

Edges. A node that chose a branch (condition, approval) takes the edges whose `source_handle`
is that branch; any other node takes its plain edges (no handle). A failed node does what its
`on_error` says: "fail" ends the run, "continue" takes its plain edges with `{"error": ...}` as
its outputs, "branch" takes its `error` edges instead.

Durability. With a `CheckpointStore`, each node's record is saved when it starts and when it
ends, waits or is skipped, before the matching event is yielded, and `resume` rebuilds a run
from those records: finished nodes are never run again, nodes caught mid-run are.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import uuid
from collections import ChainMap, deque
from collections.abc import AsyncIterator, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from tiangong.errors import AppError, NotFound
from tiangong.runtime.workflow.checkpoint import (
    CheckpointStore,
    NodeRecord,
    RunRecord,
    RunState,
)
from tiangong.runtime.workflow.errors import NodeError, RunStateError, WorkflowInvalid
from tiangong.runtime.workflow.events import (
    NodeFailed,
    NodeSkipped,
    NodeStarted,
    NodeSucceeded,
    NodeWaiting,
    RunFailed,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    WorkflowEvent,
)
from tiangong.runtime.workflow.graph import (
    ERROR_HANDLE,
    EdgeSpec,
    NodeBehaviour,
    OnError,
    WorkflowDefinition,
)
from tiangong.runtime.workflow.nodes import Node, NodeContext, NodeResult, node_class
from tiangong.runtime.workflow.nodes.base import NodeConfig, inner_node_id
from tiangong.runtime.workflow.services import ApprovalDecision, WorkflowServices
from tiangong.runtime.workflow.validate import validate
from tiangong.runtime.workflow.variables import SKIPPED, START_ALIAS, has_references, resolve

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Compiled:
    node_id: str
    spec: NodeBehaviour
    node: Node[Any]
    # The validated config when it holds no references (then it is the same for every run).
    static: NodeConfig | None
    on_error: OnError
    out_edges: tuple[EdgeSpec, ...] = ()
    predecessors: tuple[str, ...] = ()
    is_end: bool = False


@dataclass(slots=True)
class _Outcome:
    node_id: str
    result: NodeResult | None
    error: dict[str, Any] | None
    attempts: int


@dataclass(eq=False, slots=True)
class _Run:
    run_id: str
    inputs: dict[str, Any]
    record: RunRecord
    records: dict[str, NodeRecord]
    # Incoming edges of each node not yet settled.
    remaining: dict[str, int]
    decisions: dict[str, ApprovalDecision] = field(default_factory=dict)
    # node id -> outputs, or SKIPPED.
    variables: dict[str, Any] = field(default_factory=dict)
    # Nodes with at least one incoming edge taken.
    alive: set[str] = field(default_factory=set)
    ready: deque[str] = field(default_factory=deque)
    running: dict[str, asyncio.Task[_Outcome]] = field(default_factory=dict)
    done: asyncio.Queue[asyncio.Task[_Outcome]] = field(default_factory=asyncio.Queue)
    # node id -> approval id.
    waiting: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Events produced by the last step, yielded (after their records were saved) by _drive.
    events: list[WorkflowEvent] = field(default_factory=list)
    failure: tuple[str, dict[str, Any]] | None = None
    clock: float = field(default_factory=time.perf_counter)
    # Asked before each node is launched; once true, the run launches nothing more, lets the
    # running nodes finish, and pauses.
    should_pause: Callable[[], bool] | None = None
    pausing: bool = False
    # node id -> config fields that replace the definition's for this run (a re-run's edits).
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class WorkflowEngine:
    """One validated workflow; `run` and `resume` may be called for many runs, concurrently."""

    def __init__(
        self,
        definition: WorkflowDefinition | Mapping[str, Any],
        services: WorkflowServices | None = None,
        *,
        checkpoint: CheckpointStore | None = None,
        max_concurrency: int = 32,
    ) -> None:
        problems = validate(definition)
        if problems:
            raise WorkflowInvalid(problems)
        if not isinstance(definition, WorkflowDefinition):
            definition = WorkflowDefinition.model_validate(definition)
        self.definition = definition
        self.services = services or WorkflowServices()
        self.checkpoint = checkpoint
        self.max_concurrency = max_concurrency
        self._nodes: dict[str, _Compiled] = {}
        # Inner nodes (loop bodies) by their id, compiled on first use.
        self._inner: dict[str, _Compiled] = {}
        for spec in definition.nodes:
            self._nodes[spec.id] = self._compile(spec.id, spec, spec.on_error)
            if spec.type == "start":
                self._start_id = spec.id
        outgoing: dict[str, list[EdgeSpec]] = {node_id: [] for node_id in self._nodes}
        incoming: dict[str, list[str]] = {node_id: [] for node_id in self._nodes}
        for edge in definition.edges:
            outgoing[edge.source].append(edge)
            incoming[edge.target].append(edge.source)
        for node_id, compiled in self._nodes.items():
            compiled.out_edges = tuple(outgoing[node_id])
            compiled.predecessors = tuple(incoming[node_id])
        self._in_degree = {node_id: len(sources) for node_id, sources in incoming.items()}

    def bind(
        self, services: WorkflowServices | None = None, checkpoint: CheckpointStore | None = None
    ) -> WorkflowEngine:
        """This compiled workflow with other services and checkpoint store: validating and
        compiling happen once per definition, not once per run."""
        bound = copy.copy(self)
        bound.services = services or WorkflowServices()
        bound.checkpoint = checkpoint
        return bound

    def _compile(self, node_id: str, spec: NodeBehaviour, on_error: OnError) -> _Compiled:
        cls = node_class(spec.type, spec.version)
        assert cls is not None  # validated
        node = cls()
        dynamic = {k: v for k, v in spec.config.items() if k not in node.raw_fields}
        static = None if has_references(dynamic) else node.Config.model_validate(spec.config)
        return _Compiled(node_id, spec, node, static, on_error, is_end=spec.type == "end")

    # --- public API ----------------------------------------------------------------------

    async def run(
        self,
        inputs: Mapping[str, Any],
        run_id: str | None = None,
        *,
        should_pause: Callable[[], bool] | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> AsyncIterator[WorkflowEvent]:
        """Start a run and yield its events; the last is RunFinished, RunFailed or RunPaused.
        `should_pause` is polled before each node starts (a cheap, synchronous check);
        `overrides` replace config fields of the nodes they name."""
        run_id = run_id or uuid.uuid4().hex
        if self.checkpoint is not None and await self.checkpoint.load(run_id) is not None:
            raise RunStateError(f"run '{run_id}' already exists; resume it instead")
        now = time.time()
        record = RunRecord(run_id, "running", dict(inputs), started_at=now)
        run = self._new_run(record, {}, should_pause, overrides)
        await self._save_run(record)
        yield RunStarted(run_id, record.inputs, now)
        async for event in self._drive(run):
            yield event

    async def resume(
        self,
        run_id: str,
        state: RunState | None = None,
        *,
        decisions: Mapping[str, ApprovalDecision] | None = None,
        should_pause: Callable[[], bool] | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> AsyncIterator[WorkflowEvent]:
        """Continue a run from its records (`state`, or the checkpoint store's): after a crash,
        after a pause with `decisions` (approval id -> decision), or after a failure (the node
        that failed runs again). The caller makes sure no other worker still runs it."""
        if state is None and self.checkpoint is not None:
            state = await self.checkpoint.load(run_id)
        if state is None:
            raise NotFound(f"no records of run '{run_id}'", code="WORKFLOW_RUN_NOT_FOUND")
        if state.run.status == "succeeded":
            raise RunStateError(f"run '{run_id}' has already finished")
        pending = {r.approval_id for r in state.nodes.values() if r.status == "waiting"}
        unknown = sorted(set(decisions or {}) - pending)
        if unknown:
            raise RunStateError(f"no pending approval {', '.join(unknown)} in run '{run_id}'")
        record = replace(state.run, status="running", finished_at=None)
        run = self._new_run(record, dict(state.nodes), should_pause, overrides)
        run.decisions = dict(decisions or {})
        await self._save_run(record)
        yield RunResumed(run_id, sorted(run.decisions), time.time())
        async for event in self._drive(run):
            yield event

    # --- scheduling ----------------------------------------------------------------------

    def _new_run(
        self,
        record: RunRecord,
        records: dict[str, NodeRecord],
        should_pause: Callable[[], bool] | None,
        overrides: Mapping[str, Mapping[str, Any]] | None,
    ) -> _Run:
        run = _Run(record.run_id, record.inputs, record, records, dict(self._in_degree))
        run.should_pause = should_pause
        run.overrides = overrides or {}
        return run

    async def _drive(self, run: _Run) -> AsyncIterator[WorkflowEvent]:
        run.ready.append(self._start_id)
        try:
            while run.failure is None:
                if run.ready and not run.pausing and run.should_pause is not None:
                    run.pausing = run.should_pause()
                if run.ready and not run.pausing and len(run.running) < self.max_concurrency:
                    await self._dispatch(run, run.ready.popleft())
                elif run.running:
                    task = await run.done.get()
                    outcome = task.result()
                    del run.running[outcome.node_id]
                    await self._finish(run, outcome)
                else:
                    break
                if run.events:
                    for event in run.events:
                        yield event
                    run.events.clear()
            if run.failure is not None:
                await self._cancel_running(run)
                for event in run.events:
                    yield event
            yield await self._end(run)
        finally:
            for task in run.running.values():
                task.cancel()

    async def _dispatch(self, run: _Run, node_id: str) -> None:
        """Run a ready node, or take its recorded outcome when resuming."""
        record = run.records.get(node_id)
        if record is not None and record.status == "waiting" and record.approval_id:
            decision = run.decisions.pop(record.approval_id, None)
            if decision is None:
                run.waiting[node_id] = record.approval_id
            else:
                await self._decide(run, node_id, record, decision)
        elif record is not None and record.settled and record.status != "skipped":
            await self._replay(run, node_id, record)
        else:
            await self._launch(run, node_id)

    async def _launch(self, run: _Run, node_id: str) -> None:
        compiled = self._nodes[node_id]
        node_type = compiled.spec.type
        now = time.time()
        try:
            config, inputs = self._config(compiled, run.variables, run.overrides.get(node_id))
        except NodeError as exc:
            run.records[node_id] = NodeRecord(node_id, node_type, "running", started_at=now)
            await self._finish(run, _Outcome(node_id, None, _error(exc), 0))
            return
        record = NodeRecord(node_id, node_type, "running", inputs, started_at=now)
        run.records[node_id] = record
        await self._save_node(run, record)
        run.events.append(NodeStarted(run.run_id, node_id, node_type, inputs, now))
        upstream = {
            p: run.variables[p]
            for p in compiled.predecessors
            if run.variables.get(p, SKIPPED) is not SKIPPED
        }
        ctx = self._context(run, compiled, config, run.variables, upstream)
        task = asyncio.create_task(self._execute(compiled, ctx, config))
        run.running[node_id] = task
        task.add_done_callback(run.done.put_nowait)

    def _config(
        self,
        compiled: _Compiled,
        variables: Mapping[str, Any],
        override: Mapping[str, Any] | None = None,
    ) -> tuple[NodeConfig, dict[str, Any]]:
        """The node's config for this run, and the inputs recorded for it."""
        raw = compiled.spec.config
        if override:
            raw = {**raw, **override}
        elif compiled.static is not None:
            return compiled.static, raw
        verbatim = compiled.node.raw_fields
        inputs = {k: v if k in verbatim else resolve(v, variables) for k, v in raw.items()}
        try:
            return compiled.node.Config.model_validate(inputs), inputs
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            message = f"the resolved config is invalid: {problems}"
            raise NodeError(message, code="CONFIG_ERROR", retryable=False) from exc

    def _context(
        self,
        run: _Run,
        compiled: _Compiled,
        config: NodeConfig,
        variables: MutableMapping[str, Any],
        upstream: Mapping[str, Mapping[str, Any]],
    ) -> NodeContext:
        async def run_inner(field: str, scope: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
            inner_variables: ChainMap[str, Any] = ChainMap(dict(scope), variables)
            return await self._run_inner(run, compiled, config, field, inner_variables)

        return NodeContext(
            run.run_id, compiled.node_id, self.services, run.inputs, upstream, run_inner
        )

    async def _run_inner(
        self,
        run: _Run,
        parent: _Compiled,
        parent_config: NodeConfig,
        field: str,
        variables: MutableMapping[str, Any],
    ) -> dict[str, Any]:
        """Run a node's inner node (a loop body) with timeout and retry, but no records:
        its parent is the unit of checkpointing."""
        node_id = inner_node_id(parent.node_id, field)
        compiled = self._inner.get(node_id)
        if compiled is None:
            spec = parent.node.inner_nodes(parent_config)[field]
            compiled = self._inner[node_id] = self._compile(node_id, spec, "fail")
        config, _ = self._config(compiled, variables)
        ctx = self._context(run, compiled, config, variables, {})
        outcome = await self._execute(compiled, ctx, config)
        if outcome.error is not None:
            message = f"{node_id}: {outcome.error['message']}"
            raise NodeError(message, code=outcome.error["code"], retryable=False)
        assert outcome.result is not None
        return outcome.result.outputs

    async def _execute(self, compiled: _Compiled, ctx: NodeContext, config: NodeConfig) -> _Outcome:
        """Run the node under its timeout and retry policy; a failure becomes the outcome."""
        policy = compiled.spec.retry
        attempt = 1
        while True:
            try:
                result = await self._attempt(compiled, ctx, config)
                return _Outcome(compiled.node_id, result, None, attempt)
            except Exception as exc:
                retryable = not isinstance(exc, NodeError) or exc.retryable
                if not retryable or attempt >= policy.max_attempts:
                    if not isinstance(exc, AppError):
                        logger.warning("workflow node %s failed", compiled.node_id, exc_info=exc)
                    return _Outcome(compiled.node_id, None, _error(exc), attempt)
            attempt += 1
            delay = policy.delay_before(attempt)
            if delay > 0:
                await asyncio.sleep(delay)
            ctx = replace(ctx, attempt=attempt)

    async def _attempt(
        self, compiled: _Compiled, ctx: NodeContext, config: NodeConfig
    ) -> NodeResult:
        timeout_s = compiled.spec.timeout_s
        if timeout_s is None:
            return await compiled.node.run(ctx, config)
        deadline = asyncio.timeout(timeout_s)
        try:
            async with deadline:
                return await compiled.node.run(ctx, config)
        except TimeoutError:
            if not deadline.expired():
                raise
            message = f"the node did not finish within {timeout_s:g} s"
            raise NodeError(message, code="NODE_TIMEOUT") from None

    # --- outcomes ------------------------------------------------------------------------

    async def _finish(self, run: _Run, outcome: _Outcome, handling: OnError | None = None) -> None:
        node_id = outcome.node_id
        compiled = self._nodes[node_id]
        node_type = compiled.spec.type
        started = run.records[node_id]
        result = outcome.result
        now = time.time()
        if result is not None and result.wait_for is not None:
            record = replace(
                started,
                status="waiting",
                outputs=result.outputs,
                approval_id=result.wait_for,
                attempts=outcome.attempts,
            )
            run.records[node_id] = record
            run.waiting[node_id] = result.wait_for
            await self._save_node(run, record)
            run.events.append(NodeWaiting(run.run_id, node_id, node_type, result.wait_for, now))
            return
        started_at = started.started_at if started.started_at is not None else now
        duration_ms = (now - started_at) * 1000
        if result is not None:
            record = NodeRecord(
                node_id,
                node_type,
                "succeeded",
                started.inputs,
                result.outputs,
                result.branch,
                attempts=outcome.attempts,
                approval_id=started.approval_id,
                started_at=started_at,
                finished_at=now,
            )
            run.records[node_id] = record
            await self._save_node(run, record)
            run.events.append(
                NodeSucceeded(
                    run.run_id,
                    node_id,
                    node_type,
                    result.outputs,
                    result.branch,
                    outcome.attempts,
                    started_at,
                    now,
                    duration_ms,
                )
            )
            await self._settle(run, node_id, result.outputs, result.branch)
            return
        error = outcome.error or {"code": "NODE_FAILED", "message": "unknown failure"}
        handling = handling or compiled.on_error
        record = NodeRecord(
            node_id,
            node_type,
            "failed",
            started.inputs,
            error=error,
            handling=handling,
            attempts=outcome.attempts,
            started_at=started_at,
            finished_at=now,
        )
        run.records[node_id] = record
        await self._save_node(run, record)
        run.events.append(
            NodeFailed(
                run.run_id,
                node_id,
                node_type,
                error,
                handling,
                outcome.attempts,
                started_at,
                now,
                duration_ms,
            )
        )
        await self._settle_failure(run, node_id, error, handling)

    async def _settle_failure(
        self, run: _Run, node_id: str, error: dict[str, Any], handling: OnError
    ) -> None:
        if handling == "fail":
            if run.failure is None:
                run.failure = (node_id, error)
            return
        branch = ERROR_HANDLE if handling == "branch" else None
        await self._settle(run, node_id, {"error": error}, branch)

    async def _replay(self, run: _Run, node_id: str, record: NodeRecord) -> None:
        """A node recorded as finished: take its recorded outcome instead of running it."""
        if record.status == "succeeded":
            await self._settle(run, node_id, record.outputs or {}, record.branch)
        else:
            handling = record.handling or "fail"
            await self._settle_failure(run, node_id, record.error or {}, handling)

    async def _decide(
        self, run: _Run, node_id: str, record: NodeRecord, decision: ApprovalDecision
    ) -> None:
        compiled = self._nodes[node_id]
        assert record.approval_id is not None
        try:
            config, _ = self._config(compiled, run.variables, run.overrides.get(node_id))
            ctx = self._context(run, compiled, config, run.variables, {})
            result = await compiled.node.decide(ctx, config, record.approval_id, decision)
            outcome = _Outcome(node_id, result, None, record.attempts)
        except Exception as exc:
            outcome = _Outcome(node_id, None, _error(exc), record.attempts)
        await self._finish(run, outcome)

    async def _settle(
        self, run: _Run, node_id: str, outputs: dict[str, Any], branch: str | None
    ) -> None:
        """Store a node's outputs and settle its outgoing edges: successors whose edges are
        all settled become ready, or are skipped if none of those edges was taken, which
        settles their own edges in turn."""
        run.variables[node_id] = outputs
        if node_id == self._start_id:
            run.variables[START_ALIAS] = outputs
        compiled = self._nodes[node_id]
        if compiled.is_end:
            run.outputs.update(outputs)
        pending: list[tuple[_Compiled, bool]] = [(compiled, True)]
        while pending:
            source, ran = pending.pop()
            for edge in source.out_edges:
                target = edge.target
                if ran and edge.source_handle == branch:
                    run.alive.add(target)
                run.remaining[target] -= 1
                if run.remaining[target] == 0:
                    if target in run.alive:
                        run.ready.append(target)
                    else:
                        await self._skip(run, target)
                        pending.append((self._nodes[target], False))

    async def _skip(self, run: _Run, node_id: str) -> None:
        run.variables[node_id] = SKIPPED
        previous = run.records.get(node_id)
        if previous is not None and previous.status == "skipped":
            return
        node_type = self._nodes[node_id].spec.type
        now = time.time()
        record = NodeRecord(node_id, node_type, "skipped", finished_at=now)
        run.records[node_id] = record
        await self._save_node(run, record)
        run.events.append(NodeSkipped(run.run_id, node_id, node_type, now))

    async def _cancel_running(self, run: _Run) -> None:
        """The run failed: stop the nodes still running and record them as failed, so that
        resuming the run runs them again."""
        tasks = list(run.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        error = {"code": "CANCELLED", "message": "cancelled because the run failed"}
        for node_id in list(run.running):
            del run.running[node_id]
            await self._finish(run, _Outcome(node_id, None, error, 0), handling="fail")

    async def _end(self, run: _Run) -> WorkflowEvent:
        now = time.time()
        duration_ms = (time.perf_counter() - run.clock) * 1000
        if run.failure is not None:
            node_id, error = run.failure
            record = replace(run.record, status="failed", error=error, finished_at=now)
            await self._save_run(record)
            return RunFailed(run.run_id, error, node_id, now, duration_ms)
        if run.waiting or (run.pausing and run.ready):
            pending = [{"node_id": n, "approval_id": a} for n, a in run.waiting.items()]
            await self._save_run(replace(run.record, status="paused"))
            return RunPaused(run.run_id, pending, now)
        record = replace(run.record, status="succeeded", outputs=run.outputs, finished_at=now)
        await self._save_run(record)
        return RunFinished(run.run_id, run.outputs, now, duration_ms)

    async def _save_run(self, record: RunRecord) -> None:
        if self.checkpoint is not None:
            await self.checkpoint.save_run(record)

    async def _save_node(self, run: _Run, record: NodeRecord) -> None:
        if self.checkpoint is not None:
            await self.checkpoint.save_node(run.run_id, record)


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, AppError):
        return {"code": exc.code, "message": exc.message}
    return {"code": "NODE_FAILED", "message": f"{type(exc).__name__}: {exc}"}
