"""Known OpenAI-compatible providers and their default endpoints."""

from __future__ import annotations

DEFAULT_BASE_URLS: dict[str, str | None] = {
    "openai": "https://api.openai.com/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "qwen": "https://dashscope.aliyuncs.com/compatible-mode/v1",
    "moonshot": "https://api.moonshot.cn/v1",
    "zhipu": "https://open.bigmodel.cn/api/paas/v4",
    "ollama": "http://127.0.0.1:11434/v1",
    # Self-hosted servers have no well-known address.
    "vllm": None,
    "openai_compatible": None,
}

PROVIDERS = tuple(DEFAULT_BASE_URLS)
