"""What each mode needs from roles, order, edges and coordinator. Pure: returns the problems."""

from __future__ import annotations

from collections import Counter

from tiangong.plugins.orchestration.schemas import OrchestrationTemplateCreate


def problems(t: OrchestrationTemplateCreate) -> list[str]:
    names = [role.name for role in t.roles]
    found = [f"role name '{n}' is used twice" for n, c in Counter(names).items() if c > 1]
    known = set(names)
    if t.coordinator is not None and t.coordinator not in known:
        found.append(f"coordinator '{t.coordinator}' is not one of the roles")
    if t.order and t.mode != "sequential":
        found.append("order is only for mode 'sequential'")
    if t.edges and t.mode != "graph":
        found.append("edges are only for mode 'graph'")
    others = [n for n in names if n != t.coordinator]
    if t.mode == "sequential":
        found += _sequential(t, known)
    elif t.mode == "supervisor":
        if t.coordinator is None:
            found.append("mode 'supervisor' needs a coordinator (the supervisor role)")
        if not others:
            found.append("mode 'supervisor' needs at least one role besides the supervisor")
    elif t.mode in ("parallel", "debate") and len(others) < 2:
        found.append(f"mode '{t.mode}' needs at least two roles besides the coordinator")
    elif t.mode == "graph":
        found += _graph(t, known)
    return found


def _sequential(t: OrchestrationTemplateCreate, known: set[str]) -> list[str]:
    found = []
    if len(t.roles) < 2:
        found.append("mode 'sequential' needs at least two roles")
    if t.coordinator is not None:
        found.append("mode 'sequential' takes no coordinator")
    if t.order and (sorted(t.order) != sorted(known) or len(t.order) != len(t.roles)):
        found.append("order must name every role exactly once")
    return found


def _graph(t: OrchestrationTemplateCreate, known: set[str]) -> list[str]:
    found = []
    if t.coordinator is not None:
        found.append("mode 'graph' takes no coordinator")
    if not t.edges:
        return found + ["mode 'graph' needs at least one edge"]
    pairs = [(e.source, e.target) for e in t.edges]
    for source, target in pairs:
        for end in (source, target):
            if end not in known:
                found.append(f"edge {source} -> {target}: '{end}' is not one of the roles")
        if source == target:
            found.append(f"edge {source} -> {target} points at itself")
    if len(set(pairs)) != len(pairs):
        found.append("an edge is listed twice")
    linked = {end for pair in pairs for end in pair}
    found += [f"role '{n}' has no edge" for n in sorted(known - linked)]
    if linked and not linked - {target for _, target in pairs}:
        found.append("every role has an incoming edge, so there is no role to start with")
    return found
