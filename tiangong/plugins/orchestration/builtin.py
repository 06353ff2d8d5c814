"""Read-only example templates, one per mode, listed alongside users' own."""

from __future__ import annotations

import functools
from typing import Any

from tiangong.plugins.orchestration.schemas import (
    OrchestrationTemplateCreate,
    OrchestrationTemplateRead,
)
from tiangong.plugins.orchestration.structure import problems


def _agent(prompt: str) -> dict[str, Any]:
    return {"system_prompt": prompt}


_EXAMPLES: list[dict[str, Any]] = [
    {
        "id": "builtin_research_pipeline",
        "name": "调研写作流水线",
        "description": "研究员收集资料，撰稿人成文，审校把关，依次接力完成一篇报告。",
        "mode": "sequential",
        "roles": [
            {
                "name": "研究员",
                "agent": _agent("你是一名严谨的研究员，负责收集并整理与主题相关的事实和数据。"),
                "instructions": "列出要点和出处，不写成文。",
            },
            {
                "name": "撰稿人",
                "agent": _agent("你是一名专业撰稿人，把研究要点写成结构清晰的报告。"),
                "instructions": "只使用研究员给出的事实。",
            },
            {
                "name": "审校",
                "agent": _agent("你是一名细致的审校，检查事实、逻辑和文字。"),
                "instructions": "指出问题并给出修改后的终稿。",
            },
        ],
        "max_rounds": 1,
    },
    {
        "id": "builtin_parallel_code_review",
        "name": "多视角代码评审",
        "description": "安全、性能、可读性三位评审同时评审同一份代码，汇总人合并意见。",
        "mode": "parallel",
        "roles": [
            {"name": "安全评审", "agent": _agent("你只关注代码中的安全问题。")},
            {"name": "性能评审", "agent": _agent("你只关注代码中的性能问题。")},
            {"name": "可读性评审", "agent": _agent("你只关注命名、结构和可读性。")},
            {
                "name": "汇总人",
                "agent": _agent("你把多位评审的意见去重、排序，输出一份评审结论。"),
            },
        ],
        "coordinator": "汇总人",
        "max_rounds": 1,
    },
    {
        "id": "builtin_support_supervisor",
        "name": "客服主管分派",
        "description": "主管理解客户诉求，把问题分派给账单或技术专员，并整合答复。",
        "mode": "supervisor",
        "roles": [
            {
                "name": "主管",
                "agent": _agent("你是客服主管，判断问题类型并分派给合适的专员，最后整合答复。"),
            },
            {"name": "账单专员", "agent": _agent("你负责账单、扣费和退款相关问题。")},
            {"name": "技术支持", "agent": _agent("你负责产品使用和故障排查问题。")},
        ],
        "coordinator": "主管",
        "max_rounds": 5,
    },
    {
        "id": "builtin_debate",
        "name": "正反方辩论",
        "description": "正反两方围绕议题多轮辩论，裁判最后给出结论和理由。",
        "mode": "debate",
        "roles": [
            {"name": "正方", "agent": _agent("你支持议题，用事实和推理论证。")},
            {"name": "反方", "agent": _agent("你反对议题，指出对方论证的漏洞。")},
            {"name": "裁判", "agent": _agent("你是中立裁判，总结双方观点并给出结论。")},
        ],
        "coordinator": "裁判",
        "max_rounds": 3,
    },
    {
        "id": "builtin_campaign_graph",
        "name": "营销活动协作图",
        "description": "需求分析后，文案和设计并行工作，最后由审核统一把关。",
        "mode": "graph",
        "roles": [
            {"name": "需求分析", "agent": _agent("你把活动需求拆解为文案和设计的任务说明。")},
            {"name": "文案", "agent": _agent("你根据任务说明撰写活动文案。")},
            {"name": "设计", "agent": _agent("你根据任务说明给出视觉设计方案的文字描述。")},
            {"name": "审核", "agent": _agent("你检查文案和设计是否一致、是否符合需求。")},
        ],
        "edges": [
            {"source": "需求分析", "target": "文案"},
            {"source": "需求分析", "target": "设计"},
            {"source": "文案", "target": "审核"},
            {"source": "设计", "target": "审核"},
        ],
        "max_rounds": 2,
    },
]


@functools.cache
def _examples() -> dict[str, OrchestrationTemplateRead]:
    found = {}
    for item in _EXAMPLES:
        body = OrchestrationTemplateCreate.model_validate(
            {k: v for k, v in item.items() if k != "id"}
        )
        # Checked like user input, so an example can never show a broken structure.
        assert not problems(body), (item["id"], problems(body))
        found[item["id"]] = OrchestrationTemplateRead(
            **body.model_dump(by_alias=True),
            id=item["id"],
            owner_id=None,
            builtin=True,
            read_only=True,
            created_at=None,
            updated_at=None,
        )
    return found


def all_examples() -> list[OrchestrationTemplateRead]:
    return list(_examples().values())


def get(template_id: str) -> OrchestrationTemplateRead | None:
    return _examples().get(template_id)
