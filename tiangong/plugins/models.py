"""Tables of the plugins orchestration templates platform module."""

from __future__ import annotations
