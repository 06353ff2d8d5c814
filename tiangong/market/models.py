"""Tables of the agent and template market module."""

from __future__ import annotations
