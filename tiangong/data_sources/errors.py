"""How a data source can fail, beyond not being found."""

from __future__ import annotations

from tiangong.errors import AppError, BadRequest, NotFound, UpstreamError


class DataSourceNotFound(NotFound):
    code = "DATA_SOURCE_NOT_FOUND"


class UploadNotFound(NotFound):
    code = "UPLOAD_NOT_FOUND"


class TypeUnsupported(BadRequest):
    code = "DATA_SOURCE_TYPE_UNSUPPORTED"


class Unreachable(UpstreamError):
    """The server could not be reached or refused the login."""

    code = "DATA_SOURCE_UNREACHABLE"


class Timeout(UpstreamError):
    code = "DATA_SOURCE_TIMEOUT"
    status = 504


class QueryFailed(BadRequest):
    """The server ran the query and refused it (syntax, permissions, a write attempt)."""

    code = "DATA_SOURCE_QUERY_FAILED"


class FileUnreadable(BadRequest):
    code = "DATA_SOURCE_FILE_UNREADABLE"


class FileTooLarge(AppError):
    code = "FILE_TOO_LARGE"
    status = 413
