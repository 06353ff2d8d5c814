"""/uploads: files in the caller's workspace, and a preview of their start."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile

from tiangong.auth.deps import CurrentUser
from tiangong.config import get_settings
from tiangong.data_sources import uploads_store
from tiangong.data_sources.errors import FileTooLarge
from tiangong.data_sources.schemas import UploadPreview, UploadRead
from tiangong.db.session import SessionDep
from tiangong.errors import AppError, ValidationFailed

router = APIRouter(prefix="/uploads", tags=["uploads"])

# Room for the multipart envelope around the file.
_ENVELOPE_BYTES = 64 * 1024

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def _check_request(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise AppError(
            "Send the file as multipart/form-data in the field 'file'",
            code="UNSUPPORTED_MEDIA_TYPE",
            status=415,
        )
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise AppError("A Content-Length header is required", code="LENGTH_REQUIRED", status=411)
    limit = get_settings().upload_max_bytes
    if int(declared) > limit + _ENVELOPE_BYTES:
        raise FileTooLarge(f"The request is larger than the limit of {limit} bytes")


@router.post("", response_model=UploadRead, status_code=201, openapi_extra=_UPLOAD_BODY)
async def upload_file(request: Request, session: SessionDep, user: CurrentUser) -> UploadRead:
    """Store one file (multipart field `file`) in the caller's workspace. Its type is taken from
    its bytes, not from what the client claims; the name is reduced to a safe file name."""
    _check_request(request)
    async with request.form(max_files=1, max_fields=10, max_part_size=64 * 1024) as form:
        files = [item for item in form.getlist("file") if isinstance(item, UploadFile)]
        if len(files) != 1:
            raise ValidationFailed(
                "Send exactly one file in the field 'file'",
                details=[{"field": "body.file", "message": "one file required"}],
            )
        upload = files[0]
        return await uploads_store.save(session, user, upload.filename or "upload", upload.file)


@router.get("/{upload_id}/preview", response_model=UploadPreview)
async def preview_upload(
    upload_id: str,
    session: SessionDep,
    user: CurrentUser,
    lines: Annotated[int, Query(ge=1, le=500)] = 50,
) -> UploadPreview:
    """The first `lines` lines (text, markdown) or rows (CSV, JSON arrays) in UTF-8 or GBK;
    binary files give their metadata only."""
    return await uploads_store.preview(session, user, upload_id, lines)
