"""The RAG engine parts a knowledge base uses: its embedder, reranker and the tokenizer."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from tiangong.config import get_settings
from tiangong.knowledge.spec import KbSpec
from tiangong.net import model_hosts
from tiangong.net.errors import BlockedURL, HttpUnreachable
from tiangong.runtime.rag.embeddings import LocalEmbedder, OpenAIEmbedder
from tiangong.runtime.rag.errors import EmbeddingFailed, RerankFailed
from tiangong.runtime.rag.rerank import HttpReranker
from tiangong.runtime.rag.tokenize import KeywordTokenizer
from tiangong.runtime.rag.types import Embedder
from tiangong.security.crypto import decrypt


@lru_cache
def tokenizer() -> KeywordTokenizer:
    # jieba's built dictionary is cached in the data dir, not in /tmp.
    return KeywordTokenizer(get_settings().data_dir / "cache" / "jieba")


@lru_cache
def local_embedder() -> LocalEmbedder:
    return LocalEmbedder()


def embedder_for(kb: KbSpec) -> Embedder:
    if kb.embedding_provider == "local":
        return local_embedder()
    key = decrypt(kb.embedding_api_key_encrypted) if kb.embedding_api_key_encrypted else ""
    url = kb.embedding_base_url or ""
    return OpenAIEmbedder(
        url, key, kb.embedding_model, kb.embedding_dim, vet=_vet, http=model_hosts.sdk_http
    )


async def _vet(url: str) -> str:
    """Where an embeddings URL leads, checked at every call like any user-given URL."""
    try:
        return await model_hosts.address(url)
    except (BlockedURL, HttpUnreachable) as exc:
        raise EmbeddingFailed(f"embedding_base_url: {exc.message}. {model_hosts.HINT}") from None


async def _post_json(url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    # A rerank URL is user-given: it goes through the SSRF-safe client like any other fetch.
    from tiangong.tools.platform import http_client

    response = await http_client().request("POST", url, json=body, headers=headers)
    if response.status >= 400:
        raise RerankFailed(f"The rerank provider answered HTTP {response.status}")
    try:
        parsed = json.loads(response.content)
    except ValueError:
        raise RerankFailed("The rerank provider did not answer with JSON") from None
    if not isinstance(parsed, dict):
        raise RerankFailed("The rerank provider sent a malformed response")
    return parsed


def reranker_for(kb: KbSpec) -> HttpReranker:
    config = kb.rerank_config or {}
    key = decrypt(kb.rerank_api_key_encrypted) if kb.rerank_api_key_encrypted else ""
    return HttpReranker(
        config["base_url"],
        key,
        config["model"],
        config.get("style", "jina"),
        post_json=_post_json,
    )
