"""Imports every table so Base.metadata is complete (for Alembic and test cleanup)."""

from tiangong.auth.models import User
from tiangong.db.base import Base
from tiangong.model_configs.models import ModelConfig

__all__ = ["Base", "ModelConfig", "User"]
