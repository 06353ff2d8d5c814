from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import AnyHttpUrl
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.config import get_settings
from tiangong.errors import AppError, BadRequest, Conflict, Forbidden, NotFound
from tiangong.model_configs import egress, repository
from tiangong.model_configs.models import ModelConfig
from tiangong.model_configs.providers import DEFAULT_BASE_URLS
from tiangong.model_configs.resolved import resolved_models
from tiangong.model_configs.schemas import (
    ModelConfigCreate,
    ModelConfigList,
    ModelConfigRead,
    ModelConfigUpdate,
    ModelTestResult,
)
from tiangong.net import model_hosts
from tiangong.runtime.llm import ChatMessage, ChatParams, OpenAICompatibleModel
from tiangong.security.crypto import decrypt, encrypt, mask

ENV_DEFAULT_ID = "env-default"


@dataclass(frozen=True)
class ResolvedModel:
    """Everything a chat needs to call a model; carries the plain key, so never serialise it."""

    config_id: str
    name: str
    base_url: str
    api_key: str | None
    model_name: str
    temperature: float | None
    max_tokens: int | None
    thinking: bool
    context_window: int
    extra_params: dict[str, Any] = field(default_factory=dict)
    # A non-admin's own config: where its URL leads is checked at every call (egress.py).
    guarded: bool = False

    def client(self, **kwargs: Any) -> OpenAICompatibleModel:
        if self.guarded:
            kwargs.update(vet=egress.vet, http=model_hosts.sdk_http)
        return OpenAICompatibleModel(self.base_url, self.api_key or "none", **kwargs)


def _base_url(user: User, provider: str, given: AnyHttpUrl | None) -> str:
    url = str(given) if given is not None else DEFAULT_BASE_URLS.get(provider)
    if not url:
        raise BadRequest(
            f"base_url is required for provider '{provider}'", code="BASE_URL_REQUIRED"
        )
    if not user.is_admin:
        model_hosts.check(url, "base_url")
    return url.rstrip("/")


def _env_default() -> ModelConfigRead | None:
    settings = get_settings()
    if not (settings.llm_base_url and settings.llm_model):
        return None
    return ModelConfigRead(
        id=ENV_DEFAULT_ID,
        source="env",
        name="default",
        alias=None,
        provider="openai_compatible",
        base_url=settings.llm_base_url.rstrip("/"),
        model_name=settings.llm_model,
        api_key_set=bool(settings.llm_api_key),
        api_key_masked=mask(settings.llm_api_key),
        temperature=None,
        max_tokens=None,
        thinking=False,
        context_window=32768,
        extra_params={},
        is_default=True,
        shared=True,
        owner_id=None,
        created_at=None,
        updated_at=None,
    )


def to_read(config: ModelConfig, user: User) -> ModelConfigRead:
    source = "user" if config.owner_id == user.id else ("shared" if config.shared else "user")
    return ModelConfigRead(
        id=config.id,
        source=source,
        name=config.name,
        alias=config.alias,
        provider=config.provider,
        base_url=config.base_url,
        model_name=config.model_name,
        api_key_set=config.api_key_encrypted is not None,
        api_key_masked=config.api_key_hint,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        thinking=config.thinking,
        context_window=config.context_window,
        extra_params=config.extra_params or {},
        is_default=config.is_default,
        shared=config.shared,
        owner_id=config.owner_id,
        created_at=config.created_at,
        updated_at=config.updated_at,
    )


def _set_key(config: ModelConfig, api_key: str | None) -> None:
    if api_key:
        config.api_key_encrypted = encrypt(api_key)
        config.api_key_hint = mask(api_key)
    else:
        config.api_key_encrypted = None
        config.api_key_hint = None


async def _check_unique(
    session: AsyncSession, owner_id: str, name: str | None, alias: str | None, exclude: str | None
) -> None:
    taken = await repository.name_or_alias_taken(
        session, owner_id, name=name, alias=alias, exclude=exclude
    )
    if taken:
        raise Conflict(
            f"A model config with this {taken} already exists", code="MODEL_CONFIG_EXISTS"
        )


async def list_configs(
    session: AsyncSession, user: User, page: int, page_size: int
) -> ModelConfigList:
    rows, total = await repository.list_visible(
        session, user, offset=(page - 1) * page_size, limit=page_size
    )
    items = [to_read(row, user) for row in rows]
    env = _env_default()
    if env is not None:
        total += 1
        if page == 1:
            items.insert(0, env)
    return ModelConfigList(items=items, total=total, page=page, page_size=page_size)


async def create(session: AsyncSession, user: User, data: ModelConfigCreate) -> ModelConfigRead:
    if data.shared and not user.is_admin:
        raise Forbidden("Only administrators can share model configs", code="ADMIN_REQUIRED")
    await _check_unique(session, user.id, data.name, data.alias, None)
    if data.is_default:
        await repository.clear_default(session, user.id)
    config = ModelConfig(
        owner_id=user.id,
        name=data.name,
        alias=data.alias,
        provider=data.provider,
        base_url=_base_url(user, data.provider, data.base_url),
        model_name=data.model_name,
        temperature=data.temperature,
        max_tokens=data.max_tokens,
        thinking=bool(data.thinking),
        context_window=data.context_window or 32768,
        extra_params=data.extra_params or {},
        is_default=data.is_default,
        shared=data.shared,
    )
    _set_key(config, data.api_key)
    await resolved_models.changed(session)
    await repository.add(session, config)
    return to_read(config, user)


async def _visible_or_404(session: AsyncSession, user: User, config_id: str) -> ModelConfig:
    config = await repository.get_visible(session, user, config_id)
    if config is None:
        raise NotFound("Model config not found", code="MODEL_CONFIG_NOT_FOUND")
    return config


async def _editable(session: AsyncSession, user: User, config_id: str) -> ModelConfig:
    config = await _visible_or_404(session, user, config_id)
    if config.owner_id != user.id and not user.is_admin:
        raise Forbidden("Only the owner can change this model config", code="NOT_OWNER")
    return config


async def get(session: AsyncSession, user: User, config_id: str) -> ModelConfigRead:
    if config_id == ENV_DEFAULT_ID and (env := _env_default()) is not None:
        return env
    return to_read(await _visible_or_404(session, user, config_id), user)


async def update(
    session: AsyncSession, user: User, config_id: str, data: ModelConfigUpdate
) -> ModelConfigRead:
    config = await _editable(session, user, config_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("shared") and not user.is_admin:
        raise Forbidden("Only administrators can share model configs", code="ADMIN_REQUIRED")
    await _check_unique(
        session, config.owner_id, changes.get("name"), changes.get("alias"), config.id
    )
    if "api_key" in changes:
        _set_key(config, changes.pop("api_key"))
    if "provider" in changes or "base_url" in changes:
        provider = changes.pop("provider", None) or config.provider
        given = changes.pop("base_url", None)
        if given is not None:
            config.base_url = _base_url(user, provider, given)
        elif provider != config.provider and DEFAULT_BASE_URLS.get(provider):
            # Switching to a well-known provider without a URL means its public endpoint.
            config.base_url = _base_url(user, provider, None)
        config.provider = provider
    if changes.get("is_default"):
        await repository.clear_default(session, config.owner_id)
    for key, value in changes.items():
        if value is None and key in ("thinking", "is_default", "shared", "context_window"):
            continue
        if value is None and key in ("name", "model_name"):
            raise BadRequest(f"{key} cannot be null", code="VALIDATION_ERROR")
        setattr(config, key, value if key != "extra_params" else (value or {}))
    await resolved_models.changed(session)
    await session.flush()
    await session.refresh(config)
    return to_read(config, user)


async def delete(session: AsyncSession, user: User, config_id: str) -> None:
    config = await _editable(session, user, config_id)
    await resolved_models.changed(session)
    await repository.delete(session, config)


def _resolved(config: ModelConfig, user: User) -> ResolvedModel:
    """`user`: who calls it. Only admins share configs; a user's own is trusted if an admin's."""
    return ResolvedModel(
        config_id=config.id,
        name=config.name,
        base_url=config.base_url,
        api_key=decrypt(config.api_key_encrypted) if config.api_key_encrypted else None,
        model_name=config.model_name,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        thinking=config.thinking,
        context_window=config.context_window,
        extra_params=dict(config.extra_params or {}),
        guarded=not config.shared and not (config.owner_id == user.id and user.is_admin),
    )


def _resolved_env() -> ResolvedModel | None:
    settings = get_settings()
    if not (settings.llm_base_url and settings.llm_model):
        return None
    return ResolvedModel(
        config_id=ENV_DEFAULT_ID,
        name="default",
        base_url=settings.llm_base_url.rstrip("/"),
        api_key=settings.llm_api_key,
        model_name=settings.llm_model,
        temperature=None,
        max_tokens=None,
        thinking=False,
        context_window=32768,
    )


async def resolve(session: AsyncSession, user: User, ref: str | None = None) -> ResolvedModel:
    """Find the model to call: by id, name or alias; else the user's default; else the env one."""
    found = await resolved_models.lookup((user.id, ref), lambda: _resolve(session, user, ref))
    assert found is not None  # _resolve raises rather than return None
    return found


async def _resolve(session: AsyncSession, user: User, ref: str | None) -> ResolvedModel:
    if ref and ref not in (ENV_DEFAULT_ID, "default"):
        config = await repository.find_by_ref(session, user, ref)
        if config is None:
            raise NotFound(f"No model config named '{ref}'", code="MODEL_CONFIG_NOT_FOUND")
        return _resolved(config, user)
    config = await repository.find_default(session, user)
    if config is not None and ref != ENV_DEFAULT_ID:
        return _resolved(config, user)
    env = _resolved_env()
    if env is None:
        raise BadRequest(
            "No model is configured: create a model config or set TIANGONG_LLM_BASE_URL",
            code="NO_MODEL_CONFIGURED",
        )
    return env


async def test(session: AsyncSession, user: User, config_id: str) -> ModelTestResult:
    if config_id == ENV_DEFAULT_ID:
        resolved = _resolved_env()
        if resolved is None:
            raise NotFound("Model config not found", code="MODEL_CONFIG_NOT_FOUND")
    else:
        resolved = _resolved(await _visible_or_404(session, user, config_id), user)
    # Decide after the lookup; the call below runs without holding the transaction open.
    await session.commit()
    model = resolved.client(timeout_s=30, max_retries=0)
    started = time.perf_counter()
    try:
        result = await model.chat(
            [ChatMessage(role="user", content="ping")],
            ChatParams(model=resolved.model_name, max_tokens=16),
        )
    except AppError as exc:
        return ModelTestResult(
            ok=False,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            model=resolved.model_name,
            error=exc.code,
            message=exc.message,
        )
    return ModelTestResult(
        ok=True,
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        model=resolved.model_name,
        reply=result.text[:200],
    )
