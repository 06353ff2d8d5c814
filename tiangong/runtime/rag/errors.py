"""Errors of the RAG engine. Codes are stable: ingestion stores them per document."""

from __future__ import annotations

from tiangong.errors import BadRequest, UpstreamError


class UnsupportedFileType(BadRequest):
    code = "UNSUPPORTED_FILE_TYPE"
    status = 415


class EmptyDocument(BadRequest):
    """The file parsed, but holds no text (an empty file, an image-only PDF)."""

    code = "EMPTY_DOCUMENT"


class DocumentParseFailed(BadRequest):
    """The file is corrupt or not what its name says."""

    code = "DOCUMENT_PARSE_FAILED"


class EmbeddingFailed(UpstreamError):
    code = "EMBEDDING_FAILED"


class RerankFailed(UpstreamError):
    code = "RERANK_FAILED"
