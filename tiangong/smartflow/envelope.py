"""SmartFlow's envelope: {"status": "10000", "info": "成功", "data": ...} and its error codes."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

OK = "10000"
PREFIX = "/api/v1/agent/"

# Platform error code -> SmartFlow status. Anything unlisted falls back by HTTP status.
_CODES = {
    "VALIDATION_ERROR": "40005",
    "MISSING_PARAMETER": "40001",
    "MODEL_CONFIG_NOT_FOUND": "40003",
    "NO_MODEL_CONFIGURED": "40003",
    "CONVERSATION_NOT_FOUND": "40004",
    "RETRY_TARGET_INVALID": "40006",
    "CONVERSATION_AGENT_MISMATCH": "40007",
    "AGENT_NOT_FOUND": "40008",
    "AGENT_STOPPED": "40009",
}
_BY_STATUS = {401: "40100", 403: "40300", 404: "40400", 405: "40500", 429: "42900"}
_INFO = {
    "40001": "缺少必要参数",
    "40003": "模型不存在",
    "40004": "会话不存在",
    "40005": "参数类型错误",
    "40006": "重试参数非法",
    "40100": "未授权",
}


def ok(data: Any) -> dict[str, Any]:
    return {"status": OK, "info": "成功", "data": data}


def error_response(status: int, code: str, message: str, details: Any) -> JSONResponse:
    sf_status = _CODES.get(code) or _BY_STATUS.get(status)
    if sf_status is None:
        sf_status = "50200" if status in (502, 504) else "50000" if status >= 500 else "40000"
    if sf_status == "40005" and details and all(d.get("type") == "missing" for d in details):
        sf_status = "40001"
    # The contract: bad parameters and unknown conversations are 400; a bad token is 401.
    http = 400 if sf_status.startswith("400") else status
    info = f"{_INFO[sf_status]}: {message}" if sf_status in _INFO else message
    return JSONResponse({"status": sf_status, "info": info}, status_code=http)
