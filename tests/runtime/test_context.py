"""Token estimates and trimming history to a context budget by whole turns."""

from __future__ import annotations

from tiangong.runtime.agent import build_context, count_tokens, message_tokens
from tiangong.runtime.llm import ChatMessage, ToolCall

SYSTEM = "You are helpful."
NEW = ChatMessage(role="user", content="And now?")


def user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


def assistant(text: str) -> ChatMessage:
    return ChatMessage(role="assistant", content=text)


def tool_turn(question: str, call_id: str) -> list[ChatMessage]:
    call = ToolCall(id=call_id, name="search", arguments='{"q": "x"}')
    return [
        user(question),
        ChatMessage(role="assistant", tool_calls=[call]),
        ChatMessage(role="tool", tool_call_id=call_id, content="result " * 10),
        assistant("answer " * 5),
    ]


def cost(messages: list[ChatMessage]) -> int:
    return sum(message_tokens(m) for m in messages)


def test_ascii_text_counts_one_token_per_four_characters_rounded_up() -> None:
    assert count_tokens("") == 0
    assert count_tokens("abcd") == 1
    assert count_tokens("hello") == 2


def test_cjk_characters_count_one_token_each() -> None:
    assert count_tokens("你好世界") == 4
    assert count_tokens("こんにちは") == 5
    assert count_tokens("안녕") == 2
    assert count_tokens("你好 world") == 2 + 2
    assert count_tokens("，。！") == 3


def test_message_tokens_include_overhead_and_tool_call_arguments() -> None:
    call = ToolCall(id="c1", name="search", arguments='{"q": "weather in Rome"}')
    plain = ChatMessage(role="user", content="hello")
    with_call = ChatMessage(role="assistant", tool_calls=[call])

    assert message_tokens(plain) == 4 + 2
    assert message_tokens(with_call) == 4 + count_tokens("search") + count_tokens(call.arguments)


def test_everything_fits_within_a_large_budget() -> None:
    history = [user("hi"), assistant("hello"), *tool_turn("weather?", "c1")]

    context = build_context(SYSTEM, history, NEW, budget_tokens=10_000)

    assert context == [ChatMessage(role="system", content=SYSTEM), *history, NEW]


def test_oldest_turns_are_dropped_first() -> None:
    turns = [[user(f"question {i} " * 5), assistant(f"answer {i} " * 5)] for i in range(4)]
    history = [m for turn in turns for m in turn]
    fixed = cost([ChatMessage(role="system", content=SYSTEM), NEW])
    budget = fixed + cost(turns[2]) + cost(turns[3]) + 100

    context = build_context(SYSTEM, history, NEW, budget_tokens=budget, reserve_output_tokens=100)

    assert context == [ChatMessage(role="system", content=SYSTEM), *turns[2], *turns[3], NEW]


def test_a_tool_turn_is_kept_or_dropped_whole() -> None:
    old, recent = tool_turn("first?", "c1"), tool_turn("second?", "c2")
    budget = cost([NEW]) + cost(recent) + cost(old) - 1

    context = build_context(
        None, [*old, *recent], NEW, budget_tokens=budget, reserve_output_tokens=0
    )

    assert context == [*recent, NEW]
    calls = [m for m in context if m.tool_calls]
    results = [m for m in context if m.role == "tool"]
    assert [c.tool_calls[0].id for c in calls if c.tool_calls] == ["c2"]
    assert [r.tool_call_id for r in results] == ["c2"]


def test_a_turn_that_does_not_fit_is_not_skipped_over() -> None:
    small_old = [user("hi"), assistant("hello")]
    big_middle = [user("essay " * 400), assistant("ok")]
    small_new = [user("and?"), assistant("yes")]
    budget = cost([NEW]) + cost(small_new) + cost(small_old) + 5

    context = build_context(
        None,
        [*small_old, *big_middle, *small_new],
        NEW,
        budget_tokens=budget,
        reserve_output_tokens=0,
    )

    assert context == [*small_new, NEW]


def test_system_prompt_and_new_message_survive_a_tiny_budget() -> None:
    history = [user("hi"), assistant("hello")]
    long_question = user("为什么天空是蓝色的？" * 50)

    context = build_context(SYSTEM, history, long_question, budget_tokens=10)

    assert context == [ChatMessage(role="system", content=SYSTEM), long_question]


def test_chinese_history_is_budgeted_per_character() -> None:
    turn = [user("请介绍一下长城"), assistant("长城是中国古代的军事防御工程。" * 10)]
    exact = cost([NEW]) + cost(turn)

    kept = build_context(None, turn, NEW, budget_tokens=exact, reserve_output_tokens=0)
    dropped = build_context(None, turn, NEW, budget_tokens=exact - 1, reserve_output_tokens=0)

    assert kept == [*turn, NEW]
    assert dropped == [NEW]
    # 150 CJK characters: an ASCII-style estimate (len / 4) would undercount about fourfold.
    assert message_tokens(turn[1]) == 4 + 150


def test_messages_before_the_first_user_message_form_their_own_turn() -> None:
    history = [assistant("Welcome! Ask me anything."), user("hi"), assistant("hello")]

    context = build_context(None, history, NEW, budget_tokens=10_000)

    assert context == [*history, NEW]
