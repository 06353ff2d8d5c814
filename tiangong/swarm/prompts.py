"""The messages each swarm step sends its agent. Pure functions; the agent's own system prompt
still applies. Quoted answers are cut so a prompt always fits one chat message."""

from __future__ import annotations

from collections.abc import Sequence

from tiangong.chat.schemas import MAX_MESSAGE

# Room left for the instructions around the quoted answers.
_FRAME = 1_500


def _quoted(task: str, answers: Sequence[tuple[str, str]]) -> str:
    if not answers:
        return ""
    room = max(500, (MAX_MESSAGE - _FRAME - len(task)) // len(answers))
    blocks = []
    for name, text in answers:
        cut = text if len(text) <= room else text[:room] + "…（已截断）"
        blocks.append(f"### {name}\n{cut}")
    return "\n\n".join(blocks)


def answer(task: str) -> str:
    return task


def build_on(task: str, previous_name: str, previous: str) -> str:
    quoted = _quoted(task, [(previous_name, previous)])
    return (
        f"任务：\n{task}\n\n上一位智能体的成果：\n{quoted}\n\n"
        "请在此基础上检查、改进和补充，给出完整的结果（不要只写修改意见）。"
    )


def critique(task: str, own: str, others: Sequence[tuple[str, str]]) -> str:
    quoted = _quoted(task, [("你上一轮的回答", own), *others])
    return (
        f"任务：\n{task}\n\n以下是你和其他智能体上一轮的回答：\n{quoted}\n\n"
        "请先指出这些回答中的错误和遗漏，再给出你修订后的完整答案。"
    )


def synthesis(task: str, answers: Sequence[tuple[str, str]]) -> str:
    quoted = _quoted(task, answers)
    return (
        f"任务：\n{task}\n\n以下是多个智能体的回答：\n{quoted}\n\n"
        "请综合这些回答，取长补短、纠正错误，给出一个完整、准确的最终答案。"
    )
