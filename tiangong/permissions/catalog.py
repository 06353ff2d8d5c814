"""The permission codes that exist and the built-in roles made of them. Data, not rows: the
same on every database from the first request, and impossible to change or delete."""

from __future__ import annotations

from typing import Literal

ADMIN_ROLE = "admin"
# What a user with no assigned role may do: everything the platform lets any user do today.
DEFAULT_ROLE = "editor"

_RESOURCES = {
    "agent": ("read", "write", "delete", "deploy", "execute"),
    "workflow": ("read", "write", "delete", "execute"),
    "knowledge": ("read", "write", "delete"),
    "tool": ("read", "write", "delete", "execute"),
    "model_config": ("read", "write"),
    "schedule": ("read", "write"),
}
_ACTIONS = {
    "read": "see and list {what}",
    "write": "create and change {what}",
    "delete": "delete {what}",
    "deploy": "deploy and stop {what}",
    "execute": "run {what}",
}
_WHAT = {
    "agent": "agents",
    "workflow": "workflows",
    "knowledge": "knowledge bases",
    "tool": "tools",
    "model_config": "model configs",
    "schedule": "schedules",
}

PERMISSIONS: dict[str, str] = {
    f"{resource}:{action}": _ACTIONS[action].format(what=_WHAT[resource])
    for resource, actions in _RESOURCES.items()
    for action in actions
}
PERMISSIONS["permission:manage"] = "manage roles, role assignments and every user's grants"

_EVERYTHING = tuple(PERMISSIONS)
BUILTIN_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    ADMIN_ROLE: ("Platform administrator: every permission", _EVERYTHING),
    "editor": (
        "Builds and runs agents, workflows and knowledge bases (the default for users)",
        tuple(code for code in _EVERYTHING if code != "permission:manage"),
    ),
    "viewer": (
        "Reads and runs, changes nothing",
        tuple(c for c in _EVERYTHING if c.endswith((":read", ":execute"))),
    ),
}

ResourceType = Literal["agent", "workflow", "knowledge_base"]
GrantLevel = Literal["view", "edit"]
# Access a user has to one resource, strongest first.
Access = Literal["admin", "owner", "edit", "view"]
Action = Literal["view", "edit", "delete", "share"]

# Which actions each kind of access allows. Owners and admins may do everything.
ALLOWED: dict[str, frozenset[str]] = {
    "admin": frozenset({"view", "edit", "delete", "share"}),
    "owner": frozenset({"view", "edit", "delete", "share"}),
    "edit": frozenset({"view", "edit"}),
    "view": frozenset({"view"}),
}
# Resource types whose own endpoints honour grants today.
ENFORCED: frozenset[str] = frozenset({"agent"})
