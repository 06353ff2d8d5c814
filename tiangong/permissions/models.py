"""Tables of the permissions module."""

from __future__ import annotations
