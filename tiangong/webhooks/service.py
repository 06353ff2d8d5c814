"""Webhook triggers: a per-workflow secret (encrypted at rest, shown once) and an HMAC-SHA256
signature over `"{timestamp}." + body`, checked before anything else about the request."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.errors import BadRequest, NotFound, Unauthorized
from tiangong.security.crypto import decrypt, encrypt
from tiangong.webhooks import repository
from tiangong.webhooks.models import WorkflowWebhook
from tiangong.webhooks.schemas import WebhookCreated, WebhookRead, WebhookUpdate
from tiangong.workflows import repository as workflows_repository
from tiangong.workflows import service as workflows_service
from tiangong.workflows.models import Workflow
from tiangong.workflows.schemas import ExecuteRequest, RunDetail

TOLERANCE_S = 300
TOUCH_EVERY = timedelta(seconds=1)
TRIGGER_PREFIX = "/api/v1/webhooks"


class SignatureInvalid(Unauthorized):
    code = "WEBHOOK_SIGNATURE_INVALID"


def _not_found() -> NotFound:
    # One answer for "no such workflow" and "no enabled webhook": ids cannot be probed.
    return NotFound("Webhook not found", code="WEBHOOK_NOT_FOUND")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


@dataclass(frozen=True)
class Delivery:
    body: bytes
    timestamp: str | None
    signature: str | None
    mode: Literal["sync", "async"]
    timeout_s: float
    idempotency_key: str | None


def _check_fresh(delivery: Delivery) -> None:
    """Headers present and the timestamp within the tolerance; cheap, so it comes first."""
    if not delivery.timestamp or not delivery.signature:
        raise SignatureInvalid("X-Tiangong-Timestamp and X-Tiangong-Signature are required")
    try:
        sent = int(delivery.timestamp)
    except ValueError as exc:
        raise SignatureInvalid("X-Tiangong-Timestamp must be unix seconds") from exc
    if abs(time.time() - sent) > TOLERANCE_S:
        raise SignatureInvalid(f"timestamp is more than {TOLERANCE_S} s away from now")


def _verifies(webhook: WorkflowWebhook, delivery: Delivery) -> bool:
    assert delivery.timestamp is not None and delivery.signature is not None
    expected = sign(decrypt(webhook.secret_enc), delivery.timestamp, delivery.body)
    return hmac.compare_digest(expected.encode(), delivery.signature.encode())


def _inputs(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}", code="INVALID_JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object", code="INVALID_JSON")
    if set(data) == {"inputs"} and isinstance(data["inputs"], dict):
        return data["inputs"]
    return data


def _urls(base_url: str, workflow: Workflow) -> dict[str, str]:
    base = base_url.rstrip("/") + TRIGGER_PREFIX
    return {
        "url_by_id": f"{base}/{workflow.id}",
        "url_by_name": f"{base}/by-name/{quote(workflow.name, safe='')}",
    }


async def _workflow(session: AsyncSession, user: User, workflow_id: str) -> Workflow:
    workflow = await workflows_repository.get_own(session, user, workflow_id)
    if workflow is None:
        raise NotFound("Workflow not found", code="WORKFLOW_NOT_FOUND")
    return workflow


async def _own(
    session: AsyncSession, user: User, workflow_id: str
) -> tuple[Workflow, WorkflowWebhook]:
    workflow = await _workflow(session, user, workflow_id)
    webhook = await repository.get_own(session, user, workflow.id)
    if webhook is None:
        raise NotFound("This workflow has no webhook", code="WEBHOOK_NOT_FOUND")
    return workflow, webhook


def _read(webhook: WorkflowWebhook, workflow: Workflow, base_url: str) -> WebhookRead:
    return WebhookRead(
        workflow_id=workflow.id,
        enabled=webhook.enabled,
        last_triggered_at=webhook.last_triggered_at,
        created_at=webhook.created_at,
        **_urls(base_url, workflow),
    )


async def create_or_rotate(
    session: AsyncSession, user: User, workflow_id: str, base_url: str
) -> WebhookCreated:
    """A new secret every call: rotating invalidates the old one at once."""
    workflow = await _workflow(session, user, workflow_id)
    secret = "whsec_" + secrets.token_urlsafe(32)
    webhook = await repository.get_own(session, user, workflow.id)
    if webhook is None:
        webhook = WorkflowWebhook(workflow_id=workflow.id, owner_id=user.id, enabled=True)
    webhook.secret_enc = encrypt(secret)
    await repository.add(session, webhook)
    return WebhookCreated(
        workflow_id=workflow.id, enabled=webhook.enabled, secret=secret, **_urls(base_url, workflow)
    )


async def get(session: AsyncSession, user: User, workflow_id: str, base_url: str) -> WebhookRead:
    workflow, webhook = await _own(session, user, workflow_id)
    return _read(webhook, workflow, base_url)


async def update(
    session: AsyncSession, user: User, workflow_id: str, data: WebhookUpdate, base_url: str
) -> WebhookRead:
    workflow, webhook = await _own(session, user, workflow_id)
    webhook.enabled = data.enabled
    await session.flush()
    await session.refresh(webhook)
    return _read(webhook, workflow, base_url)


async def delete(session: AsyncSession, user: User, workflow_id: str) -> None:
    workflow, _ = await _own(session, user, workflow_id)
    await repository.delete_for_workflow(session, workflow.id)


async def _run(
    session: AsyncSession, target: repository.Target, delivery: Delivery
) -> tuple[RunDetail, bool]:
    webhook, workflow, owner = target
    inputs = _inputs(delivery.body)
    now = utcnow()
    touch: tuple[sa.Update, ...] = ()
    last = webhook.last_triggered_at
    # Committed together with the run it creates; at most about once a second, which is all
    # the precision the field needs and keeps a busy webhook from writing its row per call.
    if last is None or now - last >= TOUCH_EVERY:
        stmt = sa.update(WorkflowWebhook).where(WorkflowWebhook.id == webhook.id)
        touch = (stmt.values(last_triggered_at=now),)
    request = ExecuteRequest(
        inputs=inputs,
        mode=delivery.mode,
        timeout_s=delivery.timeout_s,
        idempotency_key=delivery.idempotency_key,
    )
    return await workflows_service.execute(
        session,
        owner,
        workflow.id,
        request,
        trigger="webhook",
        workflow=workflow,
        extra_writes=touch,
    )


async def trigger_by_id(
    session: AsyncSession, workflow_id: str, delivery: Delivery
) -> tuple[RunDetail, bool]:
    _check_fresh(delivery)
    target = await repository.enabled_by_workflow(session, workflow_id)
    if target is None:
        raise _not_found()
    if not _verifies(target[0], delivery):
        raise SignatureInvalid("signature does not match")
    return await _run(session, target, delivery)


async def trigger_by_name(
    session: AsyncSession, name: str, delivery: Delivery
) -> tuple[RunDetail, bool]:
    """Names are not unique: the target is the enabled webhook whose secret signs the body."""
    _check_fresh(delivery)
    candidates = await repository.enabled_by_name(session, name)
    if not candidates:
        raise _not_found()
    for target in candidates:
        if _verifies(target[0], delivery):
            return await _run(session, target, delivery)
    raise SignatureInvalid("signature does not match")
