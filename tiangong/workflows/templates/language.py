"""Templates around conversations and language: triage, follow-ups, translation, debate."""

from __future__ import annotations

from typing import Any

from tiangong.workflows.templates.build import edge, field, node, start


def _reply(node_id: str, role: str, topic: str) -> dict[str, Any]:
    return node(
        node_id,
        "llm",
        f"{role} reply",
        system=f"You are a friendly {role} support agent. Answer in a few sentences.",
        prompt=(
            f"Write a short reply to {{{{start.customer_name}}}} about this {topic}:\n\n"
            "{{start.message}}"
        ),
    )


CUSTOMER_SUPPORT_TRIAGE: dict[str, Any] = {
    "id": "customer_support_triage",
    "name": "Customer support triage",
    "category": "customer service",
    "tags": ["support", "classification", "routing"],
    "description": (
        "The model classifies a customer message as billing, technical or other; a condition "
        "routes it to a reply written for that kind. Inputs: `message`, `customer_name` "
        "(default 'there'). Outputs: `category` and `reply`."
    ),
    "definition": {
        "nodes": [
            start(
                field("message", description="What the customer wrote"),
                field("customer_name", required=False, default="there"),
            ),
            node(
                "classify",
                "llm",
                "Classify",
                system=(
                    "You are a support triage assistant. Answer with exactly one word: "
                    "billing, technical or other."
                ),
                prompt="Customer message:\n{{start.message}}",
                temperature=0,
            ),
            node(
                "label",
                "template",
                "Normalise the label",
                template="{{ category | trim | lower }}",
                variables={"category": "{{classify.text}}"},
            ),
            node(
                "route",
                "condition",
                "Route by category",
                variables={"label": "{{label.text}}"},
                cases=[
                    {"id": "billing", "expression": "'billing' in label"},
                    {"id": "technical", "expression": "'technical' in label"},
                ],
            ),
            _reply("billing_reply", "billing", "billing question"),
            _reply("technical_reply", "technical", "technical problem"),
            _reply("general_reply", "customer", "request"),
            node(
                "compose",
                "template",
                "Pick the reply",
                # Only one branch ran; the others resolve to null.
                template="{{ billing or technical or general }}",
                variables={
                    "billing": "{{billing_reply.text}}",
                    "technical": "{{technical_reply.text}}",
                    "general": "{{general_reply.text}}",
                },
            ),
            node(
                "end",
                "end",
                "End",
                outputs={"category": "{{label.text}}", "reply": "{{compose.text}}"},
            ),
        ],
        "edges": [
            edge("start", "classify"),
            edge("classify", "label"),
            edge("label", "route"),
            edge("route", "billing_reply", "billing"),
            edge("route", "technical_reply", "technical"),
            edge("route", "general_reply", "else"),
            edge("billing_reply", "compose"),
            edge("technical_reply", "compose"),
            edge("general_reply", "compose"),
            edge("compose", "end"),
        ],
    },
}

PAIR = """\
def main(texts, results):
    return [
        {"source": text, "translation": result["text"].strip()}
        for text, result in zip(texts, results)
    ]
"""

TRANSLATE_LIST: dict[str, Any] = {
    "id": "translate_list",
    "name": "Translate a list",
    "category": "language",
    "tags": ["translation", "loop", "batch"],
    "description": (
        "Translates every text of a list (up to 4 at a time) and pairs each source with its "
        "translation. Inputs: `texts` (list of strings), `target_language` (default English)."
    ),
    "definition": {
        "nodes": [
            start(
                field("texts", "array", "The texts to translate"),
                field("target_language", required=False, default="English"),
            ),
            node(
                "translate",
                "loop",
                "Translate each text",
                items="{{start.texts}}",
                concurrency=4,
                node={
                    "type": "llm",
                    "config": {
                        "system": (
                            "You are a professional translator. Reply with the translation only."
                        ),
                        "prompt": "Translate into {{start.target_language}}:\n{{translate.item}}",
                        "temperature": 0,
                    },
                    "retry": {"max_attempts": 2, "backoff_s": 1},
                },
            ),
            node(
                "pair",
                "code",
                "Pair sources and translations",
                code=PAIR,
                inputs={"texts": "{{start.texts}}", "results": "{{translate.results}}"},
            ),
            node(
                "end",
                "end",
                "End",
                outputs={"translations": "{{pair.result}}", "count": "{{translate.count}}"},
            ),
        ],
        "edges": [edge("start", "translate"), edge("translate", "pair"), edge("pair", "end")],
    },
}


def _view(node_id: str, label: str, ask: str) -> dict[str, Any]:
    return node(node_id, "llm", label, prompt=f"{ask}: {{{{start.question}}}}", temperature=0.7)


PARALLEL_PERSPECTIVES: dict[str, Any] = {
    "id": "parallel_perspectives",
    "name": "Multi-perspective analysis",
    "category": "analysis",
    "tags": ["parallel", "decision", "join"],
    "description": (
        "Three model calls run in parallel (the case for, the case against, practical first "
        "steps); a join collects them and a final call weighs them into a recommendation. "
        "Input: `question`. Outputs: `recommendation` and each perspective."
    ),
    "definition": {
        "nodes": [
            start(field("question", description="A decision or question to examine")),
            _view("case_for", "The case for", "Give the strongest case FOR"),
            _view("case_against", "The case against", "Give the strongest case AGAINST"),
            _view("first_steps", "First steps", "Give three practical first steps for"),
            node("merge", "join", "Collect the perspectives"),
            node(
                "weigh",
                "llm",
                "Weigh them",
                prompt=(
                    "Question: {{start.question}}\n\nFor:\n{{merge.case_for.text}}\n\n"
                    "Against:\n{{merge.case_against.text}}\n\nFirst steps:\n"
                    "{{merge.first_steps.text}}\n\nWeigh these and give a balanced recommendation."
                ),
                temperature=0.3,
            ),
            node(
                "end",
                "end",
                "End",
                outputs={
                    "recommendation": "{{weigh.text}}",
                    "for": "{{case_for.text}}",
                    "against": "{{case_against.text}}",
                    "first_steps": "{{first_steps.text}}",
                },
            ),
        ],
        "edges": [
            edge("start", "case_for"),
            edge("start", "case_against"),
            edge("start", "first_steps"),
            edge("case_for", "merge"),
            edge("case_against", "merge"),
            edge("first_steps", "merge"),
            edge("merge", "weigh"),
            edge("weigh", "end"),
        ],
    },
}

DELAYED_FOLLOWUP: dict[str, Any] = {
    "id": "delayed_followup",
    "name": "Follow-up after a pause",
    "category": "customer service",
    "tags": ["follow-up", "delay", "email"],
    "description": (
        "Drafts a follow-up message, waits `wait_seconds` (default 0; e.g. to space out "
        "messages), then formats it as an email. Inputs: `customer_name`, `issue`, "
        "`wait_seconds`. Output: `email`."
    ),
    "definition": {
        "nodes": [
            start(
                field("customer_name"),
                field("issue", description="What the customer asked about"),
                field(
                    "wait_seconds", "number", "Pause before formatting", required=False, default=0
                ),
            ),
            node(
                "draft",
                "llm",
                "Draft the follow-up",
                prompt=(
                    "Write two friendly sentences following up with {{start.customer_name}} "
                    "to check that this is solved: {{start.issue}}"
                ),
            ),
            node("wait", "delay", "Wait", seconds="{{start.wait_seconds}}"),
            node(
                "email",
                "template",
                "Format the email",
                template=(
                    "Subject: Following up on your request\n\nHi {{ name }},\n\n{{ body | trim }}"
                    "\n\nBest regards,\nSupport team\n"
                ),
                variables={"name": "{{start.customer_name}}", "body": "{{draft.text}}"},
            ),
            node("end", "end", "End", outputs={"email": "{{email.text}}"}),
        ],
        "edges": [
            edge("start", "draft"),
            edge("draft", "wait"),
            edge("wait", "email"),
            edge("email", "end"),
        ],
    },
}
