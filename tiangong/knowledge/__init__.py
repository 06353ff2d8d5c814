"""Knowledge bases: ingestion, retrieval and answers with citations.

Importing the package registers the `knowledge_search` builtin tool, so the catalogue is
complete wherever the models are loaded."""

from tiangong.knowledge import tool as _tool  # noqa: F401
