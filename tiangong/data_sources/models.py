"""Tables of the data sources and uploads module."""

from __future__ import annotations
