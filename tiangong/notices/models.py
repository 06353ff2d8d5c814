"""Tables of the notifications alerts audit system logs feedback module."""

from __future__ import annotations
