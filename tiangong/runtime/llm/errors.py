"""Maps OpenAI SDK exceptions to platform errors, without leaking the API key."""

from __future__ import annotations

import re

import openai

from tiangong.errors import BadRequest, TooManyRequests, UpstreamError


class LLMError(UpstreamError):
    code = "LLM_ERROR"
    status = 502


class LLMAuthFailed(LLMError):
    code = "LLM_AUTH_FAILED"


class LLMModelNotFound(LLMError):
    # 502, not 404: our 404 means "no such resource of yours", this is provider config.
    code = "LLM_MODEL_NOT_FOUND"


class LLMRateLimited(LLMError, TooManyRequests):
    code = "LLM_RATE_LIMITED"
    status = 429


class LLMBadRequest(LLMError, BadRequest):
    code = "LLM_BAD_REQUEST"
    status = 400


class LLMBlocked(LLMError, BadRequest):
    """The model's URL leads to an address its owner may not reach (private, loopback...)."""

    code = "LLM_URL_BLOCKED"
    status = 400


class LLMProviderError(LLMError):
    code = "LLM_PROVIDER_ERROR"


class LLMTimeout(LLMError):
    code = "LLM_TIMEOUT"
    status = 504


class LLMUnreachable(LLMError):
    code = "LLM_UNREACHABLE"


class LLMStreamInterrupted(LLMError):
    code = "LLM_STREAM_INTERRUPTED"


# Also catches keys other than ours that a provider or proxy might echo back.
_KEYLIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9._\-]{8,}")


def scrub(text: str, api_key: str | None) -> str:
    if api_key and len(api_key) >= 4:
        text = text.replace(api_key, "***")
    return _KEYLIKE.sub("***", text)


def provider_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict):
        msg = body.get("message")
        if isinstance(msg, str) and msg:
            return msg
    elif isinstance(body, str) and body:
        return body[:500]
    return exc.message


def map_error(
    exc: openai.OpenAIError, api_key: str | None, *, mid_stream: bool = False
) -> LLMError:
    """Translate an SDK error. `mid_stream` means output was already delivered."""
    if isinstance(exc, openai.APIConnectionError) and mid_stream:
        cause = "stalled" if isinstance(exc, openai.APITimeoutError) else "was cut off"
        return LLMStreamInterrupted(f"The LLM stream {cause} before it finished.")
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeout("The LLM provider did not answer in time.")
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnreachable("Could not connect to the LLM provider.")
    if not isinstance(exc, openai.APIError):
        return LLMProviderError(scrub(str(exc), api_key))

    detail = scrub(provider_message(exc), api_key)
    status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
    details = {"provider_status": status}
    if status in (401, 403):
        # The provider's text often quotes the key; say nothing of it.
        return LLMAuthFailed("The LLM provider rejected the API key.", details=details)
    if status == 404:
        return LLMModelNotFound(
            f"The LLM provider does not know this model (or the base URL is wrong): {detail}",
            details=details,
        )
    if status == 429:
        return LLMRateLimited(f"The LLM provider is rate limiting: {detail}", details=details)
    if status is not None and 400 <= status < 500:
        return LLMBadRequest(
            f"The LLM provider rejected the request (HTTP {status}): {detail}", details=details
        )
    where = f" (HTTP {status})" if status is not None else ""
    return LLMProviderError(f"The LLM provider failed{where}: {detail}", details=details)


def is_retryable(exc: openai.OpenAIError) -> bool:
    if isinstance(exc, openai.APIConnectionError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False
