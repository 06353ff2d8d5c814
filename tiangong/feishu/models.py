"""Tables of the feishu and swarm module."""

from __future__ import annotations
