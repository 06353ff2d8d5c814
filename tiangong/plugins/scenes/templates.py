"""The scene templates: one per scene-contract preset, with the preset's prompt."""

from __future__ import annotations

from tiangong.errors import NotFound
from tiangong.plugins.scenes.schemas import (
    SceneCategory,
    SceneTemplateRead,
    SceneTemplateSummary,
)
from tiangong.scene_contracts import presets, prompts
from tiangong.scene_contracts.schemas import Language, SceneContractRead

# Template ids drop the presets' "contract_" prefix: "contract_daily_report" -> "daily_report".
_PRESET_PREFIX = "contract_"
CATEGORY_NAMES = {
    "customer_service": "客服",
    "development": "开发",
    "operations": "运维",
    "education": "教育",
    "office": "办公",
    "hr": "人事",
    "marketing": "市场",
    "quality": "质量",
    "risk": "风控",
}


def _template_id(contract_id: str) -> str:
    return contract_id.removeprefix(_PRESET_PREFIX)


def _summary(contract_id: str, goal_summary: str) -> SceneTemplateSummary:
    contract = presets.get(contract_id)
    assert contract is not None  # the id came from the presets themselves
    return SceneTemplateSummary(
        id=_template_id(contract_id),
        name=contract.name,
        category=contract.category,
        category_name=CATEGORY_NAMES.get(contract.category, contract.category),
        tags=contract.tags,
        description=goal_summary,
    )


def summaries(category: str | None = None) -> list[SceneTemplateSummary]:
    found = [_summary(p.id, p.goal_summary) for p in presets.summaries()]
    return [t for t in found if category is None or t.category == category]


def categories() -> list[SceneCategory]:
    counts: dict[str, int] = {}
    for template in summaries():
        counts[template.category] = counts.get(template.category, 0) + 1
    return [
        SceneCategory(id=key, name=CATEGORY_NAMES.get(key, key), count=count)
        for key, count in counts.items()
    ]


def contract(template_id: str) -> SceneContractRead:
    found = presets.get(_PRESET_PREFIX + template_id)
    if found is None:
        raise NotFound("Scene template not found", code="SCENE_TEMPLATE_NOT_FOUND")
    return found


def get(template_id: str, language: Language) -> SceneTemplateRead:
    body = contract(template_id)
    summary = next(t for t in summaries() if t.id == template_id)
    return SceneTemplateRead(
        **summary.model_dump(),
        contract=body,
        language=language,
        system_prompt=prompts.system_prompt(body, language),
    )
