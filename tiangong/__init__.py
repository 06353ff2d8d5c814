"""Tiangong: a self-hosted AI agent platform."""

__version__ = "1.0.0"
