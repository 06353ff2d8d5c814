"""The built-in scene contracts: read-only data in presets.json, loaded and checked once."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from tiangong.scene_contracts.schemas import ContractBody, PresetSummary, SceneContractRead

_FILE = Path(__file__).with_name("presets.json")
SUMMARY_CHARS = 60


@functools.cache
def _presets() -> dict[str, SceneContractRead]:
    found: dict[str, SceneContractRead] = {}
    for item in json.loads(_FILE.read_text(encoding="utf-8")):
        contract_id = item.pop("id")
        # Through the same model as user input, so a preset can never break the prompt builders.
        body = ContractBody.model_validate(item)
        found[contract_id] = SceneContractRead(
            **body.model_dump(),
            id=contract_id,
            owner_id=None,
            is_preset=True,
            read_only=True,
            created_at=None,
            updated_at=None,
        )
    return found


def get(contract_id: str) -> SceneContractRead | None:
    return _presets().get(contract_id)


def summaries() -> list[PresetSummary]:
    return [
        PresetSummary(
            id=p.id,
            name=p.name,
            category=p.category,
            tags=p.tags,
            goal_summary=_shorten(p.goal),
        )
        for p in _presets().values()
    ]


def _shorten(text: str) -> str:
    # The first sentence, cut to a line a list can show.
    first = text.split("。", 1)[0].split("；", 1)[0]
    return first if len(first) <= SUMMARY_CHARS else first[: SUMMARY_CHARS - 1] + "…"
