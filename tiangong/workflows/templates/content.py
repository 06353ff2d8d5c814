"""Templates for writing and publishing: drafts, reviews, approvals."""

from __future__ import annotations

from typing import Any

from tiangong.workflows.templates.build import edge, field, node, start

ASSEMBLE = """\
def main(sections, results, banned):
    parts = []
    for title, result in zip(sections, results):
        parts.append("## " + str(title) + "\\n\\n" + result["text"].strip())
    article = "\\n\\n".join(parts)
    lowered = article.lower()
    flagged = sorted({str(w) for w in banned if str(w).strip() and str(w).lower() in lowered})
    return {"article": article, "word_count": len(article.split()), "flagged": flagged}
"""

CONTENT_REVIEW_LOOP: dict[str, Any] = {
    "id": "content_review_loop",
    "name": "Content review loop",
    "category": "content",
    "tags": ["writing", "review", "approval", "loop"],
    "description": (
        "Writes an article section by section and sends it to a person for approval before it "
        "is published. Inputs: `topic` (string, required); `sections` (list of section titles, "
        "default Introduction / Main points / Conclusion); `banned_words` (list of strings, "
        "default empty). A loop asks the model for one paragraph per section (in order, one at a "
        "time); a sandboxed code step joins them and counts words and banned words; a condition "
        "blocks an article with banned words (status `blocked`), ends an empty one (status "
        "`empty`), and otherwise pauses at the `review` approval. Approved: outputs status "
        "`published`, the article with its title, `word_count` and the reviewer's comment; "
        "rejected: status `rejected` and the comment."
    ),
    "definition": {
        "nodes": [
            start(
                field("topic", description="What the article is about"),
                field(
                    "sections",
                    "array",
                    "Section titles, in order",
                    required=False,
                    default=["Introduction", "Main points", "Conclusion"],
                ),
                field(
                    "banned_words",
                    "array",
                    "Words that must not appear",
                    required=False,
                    default=[],
                ),
            ),
            node(
                "write_sections",
                "loop",
                "Write each section",
                items="{{start.sections}}",
                concurrency=1,
                node={
                    "type": "llm",
                    "config": {
                        "system": "You are a concise technical writer.",
                        "prompt": (
                            "Write one short paragraph for the section "
                            "'{{write_sections.item}}' of an article about {{start.topic}}."
                        ),
                        "temperature": 0.3,
                    },
                },
            ),
            node(
                "assemble",
                "code",
                "Assemble and check",
                code=ASSEMBLE,
                inputs={
                    "sections": "{{start.sections}}",
                    "results": "{{write_sections.results}}",
                    "banned": "{{start.banned_words}}",
                },
            ),
            node(
                "gate",
                "condition",
                "Blocked, empty or ready for review",
                variables={
                    "word_count": "{{assemble.result.word_count}}",
                    "flagged": "{{assemble.result.flagged}}",
                },
                cases=[
                    {"id": "blocked", "expression": "len(flagged) > 0"},
                    {"id": "review", "expression": "word_count > 0"},
                ],
            ),
            node(
                "review",
                "approval",
                "Editor review",
                title="Publish the article about {{start.topic}}?",
                description="Read the draft; approve to publish it, reject to drop it.",
                data={
                    "article": "{{assemble.result.article}}",
                    "word_count": "{{assemble.result.word_count}}",
                },
            ),
            node(
                "publish",
                "template",
                "Final article",
                template="# {{ topic }}\n\n{{ article }}\n",
                variables={"topic": "{{start.topic}}", "article": "{{assemble.result.article}}"},
            ),
            node(
                "end_published",
                "end",
                "Published",
                outputs={
                    "status": "published",
                    "article": "{{publish.text}}",
                    "word_count": "{{assemble.result.word_count}}",
                    "comment": "{{review.comment}}",
                },
            ),
            node(
                "end_rejected",
                "end",
                "Rejected",
                outputs={"status": "rejected", "comment": "{{review.comment}}"},
            ),
            node(
                "end_blocked",
                "end",
                "Blocked",
                outputs={"status": "blocked", "flagged": "{{assemble.result.flagged}}"},
            ),
            node("end_empty", "end", "Nothing to review", outputs={"status": "empty"}),
        ],
        "edges": [
            edge("start", "write_sections"),
            edge("write_sections", "assemble"),
            edge("assemble", "gate"),
            edge("gate", "end_blocked", "blocked"),
            edge("gate", "review", "review"),
            edge("gate", "end_empty", "else"),
            edge("review", "publish", "approved"),
            edge("publish", "end_published"),
            edge("review", "end_rejected", "rejected"),
        ],
    },
}

SUMMARISE_AND_PUBLISH: dict[str, Any] = {
    "id": "summarise_and_publish",
    "name": "Summarise, approve, publish",
    "category": "content",
    "tags": ["summary", "approval", "webhook"],
    "description": (
        "Counts the words of a text (text_stats tool) while the model summarises it, asks a "
        "person to approve the summary, then POSTs it as JSON ({title, summary, source_words}) "
        "to `webhook_url`. Inputs: `text`, `webhook_url`, `title` (default 'Summary')."
    ),
    "definition": {
        "nodes": [
            start(
                field("text", description="The text to summarise"),
                field("webhook_url", description="Where the approved summary is POSTed"),
                field("title", description="Title sent with it", required=False, default="Summary"),
            ),
            node(
                "stats",
                "tool",
                "Count words",
                tool="text_stats",
                arguments={"text": "{{start.text}}"},
            ),
            node(
                "summarise",
                "llm",
                "Summarise",
                system="You write faithful, plain summaries.",
                prompt="Summarise in at most three sentences:\n\n{{start.text}}",
                temperature=0.2,
            ),
            node(
                "review",
                "approval",
                "Approve the summary",
                title="Publish this summary?",
                data={"summary": "{{summarise.text}}", "source_words": "{{stats.result.words}}"},
            ),
            node(
                "publish",
                "http_request",
                "POST to the webhook",
                method="POST",
                url="{{start.webhook_url}}",
                body={
                    "title": "{{start.title}}",
                    "summary": "{{summarise.text}}",
                    "source_words": "{{stats.result.words}}",
                },
            ),
            node(
                "end_published",
                "end",
                "Published",
                outputs={
                    "published": True,
                    "status": "{{publish.status}}",
                    "summary": "{{summarise.text}}",
                },
            ),
            node(
                "end_rejected",
                "end",
                "Not published",
                outputs={"published": False, "comment": "{{review.comment}}"},
            ),
        ],
        "edges": [
            edge("start", "stats"),
            edge("start", "summarise"),
            edge("stats", "review"),
            edge("summarise", "review"),
            edge("review", "publish", "approved"),
            edge("publish", "end_published"),
            edge("review", "end_rejected", "rejected"),
        ],
    },
}
