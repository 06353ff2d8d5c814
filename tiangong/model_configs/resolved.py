"""Resolved models, cached per process for the chat hot path (one query less per turn)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiangong.cache.local import LocalCache

if TYPE_CHECKING:
    from tiangong.model_configs.service import ResolvedModel

TTL_S = 30.0

resolved_models: LocalCache[ResolvedModel] = LocalCache("model_configs", TTL_S)
