"""Tables of the goals and tasks module."""

from __future__ import annotations
