"""Templates for data: cleaning records, fetching an API, writing a report."""

from __future__ import annotations

from typing import Any

from tiangong.workflows.templates.build import edge, field, node, start

CLEAN = """\
def main(records):
    seen, clean, invalid, duplicates = set(), [], 0, 0
    for row in records:
        if not isinstance(row, dict):
            invalid += 1
            continue
        name = " ".join(str(row.get("name") or "").split())
        email = str(row.get("email") or "").strip().lower()
        if not name or "@" not in email:
            invalid += 1
            continue
        if email in seen:
            duplicates += 1
            continue
        seen.add(email)
        age = row.get("age")
        if isinstance(age, bool) or not isinstance(age, (int, float)):
            age = None
        clean.append({"name": name.title(), "email": email, "age": age})
    ages = [row["age"] for row in clean if row["age"] is not None]
    return {"records": clean, "invalid": invalid, "duplicates": duplicates, "ages": ages}
"""

REPORT = (
    "Kept {{ kept | length }} records; dropped {{ invalid }} invalid and "
    "{{ duplicates }} duplicate."
    "{% if stats %} Age: mean {{ stats.mean | round(1) }}, min {{ stats.min }}, "
    "max {{ stats.max }}.{% endif %}"
)

DATA_CLEANUP: dict[str, Any] = {
    "id": "data_cleanup",
    "name": "Clean up contact records",
    "category": "data",
    "tags": ["cleanup", "dedupe", "statistics"],
    "description": (
        "Sandboxed code normalises names and emails, drops rows without a name or a valid "
        "email and removes duplicate emails (the first wins); when ages are present the "
        "statistics tool describes them; a template writes a one-line report. Input: "
        "`records` (list of {name, email, age}). Outputs: `records`, `report`."
    ),
    "definition": {
        "nodes": [
            start(field("records", "array", "Objects with name, email and age")),
            node(
                "clean",
                "code",
                "Clean and dedupe",
                code=CLEAN,
                inputs={"records": "{{start.records}}"},
            ),
            node(
                "has_ages",
                "condition",
                "Any ages?",
                variables={"ages": "{{clean.result.ages}}"},
                cases=[{"id": "ages", "expression": "len(ages) > 0"}],
            ),
            node(
                "age_stats",
                "tool",
                "Describe the ages",
                tool="statistics",
                arguments={"values": "{{clean.result.ages}}", "percentiles": [50]},
            ),
            node(
                "report",
                "template",
                "Write the report",
                template=REPORT,
                variables={
                    "kept": "{{clean.result.records}}",
                    "invalid": "{{clean.result.invalid}}",
                    "duplicates": "{{clean.result.duplicates}}",
                    "stats": "{{age_stats.result}}",
                },
            ),
            node(
                "end",
                "end",
                "End",
                outputs={"records": "{{clean.result.records}}", "report": "{{report.text}}"},
            ),
        ],
        "edges": [
            edge("start", "clean"),
            edge("clean", "has_ages"),
            edge("has_ages", "age_stats", "ages"),
            edge("has_ages", "report", "else"),
            edge("age_stats", "report"),
            edge("report", "end"),
        ],
    },
}

PICK = """\
def main(data, fields):
    if isinstance(data, dict):
        rows = next((value for value in data.values() if isinstance(value, list)), [data])
    elif isinstance(data, list):
        rows = data
    else:
        rows = [data]
    if fields:
        rows = [{f: row.get(f) for f in fields} if isinstance(row, dict) else row for row in rows]
    return {"items": rows, "count": len(rows)}
"""

JSON_API_FETCH: dict[str, Any] = {
    "id": "json_api_fetch",
    "name": "Fetch and reshape a JSON API",
    "category": "integration",
    "tags": ["http", "json", "transform"],
    "description": (
        "GETs a JSON API through the SSRF-safe client; on a 2xx JSON answer sandboxed code "
        "takes its list of items (the answer itself, or the first list inside it) and keeps "
        "only `fields` (all when empty); otherwise the run ends with the status and body. "
        "Inputs: `url`, `fields` (list, default all). Outputs: `ok`, `items`, `count`."
    ),
    "definition": {
        "nodes": [
            start(
                field("url", description="A JSON endpoint"),
                field("fields", "array", "Fields to keep", required=False, default=[]),
            ),
            node(
                "fetch",
                "http_request",
                "GET the API",
                url="{{start.url}}",
                headers={"Accept": "application/json"},
                raise_for_status=False,
                request_timeout_s=20,
            ),
            node(
                "check",
                "condition",
                "JSON success?",
                variables={"status": "{{fetch.status}}", "data": "{{fetch.json}}"},
                cases=[{"id": "ok", "expression": "status < 300 and data != None"}],
            ),
            node(
                "reshape",
                "code",
                "Keep the wanted fields",
                code=PICK,
                inputs={"data": "{{fetch.json}}", "fields": "{{start.fields}}"},
            ),
            node(
                "end_ok",
                "end",
                "Items",
                outputs={
                    "ok": True,
                    "items": "{{reshape.result.items}}",
                    "count": "{{reshape.result.count}}",
                },
            ),
            node(
                "end_failed",
                "end",
                "Not usable",
                outputs={"ok": False, "status": "{{fetch.status}}", "body": "{{fetch.body}}"},
            ),
        ],
        "edges": [
            edge("start", "fetch"),
            edge("fetch", "check"),
            edge("check", "reshape", "ok"),
            edge("reshape", "end_ok"),
            edge("check", "end_failed", "else"),
        ],
    },
}

TABLE = (
    "# {{ title }}\n\n| Metric | Value |\n|---|---|\n"
    "{% for name, value in metrics | dictsort %}| {{ name }} | {{ value }} |\n{% endfor %}"
    "{% if highlights %}\n## Highlights\n\n{% for item in highlights %}- {{ item }}\n"
    "{% endfor %}{% endif %}"
)

DAILY_REPORT: dict[str, Any] = {
    "id": "daily_report",
    "name": "Daily report",
    "category": "reporting",
    "tags": ["report", "markdown", "summary"],
    "description": (
        "Turns the day's metrics and highlights into a Markdown report (a table and a list) "
        "and adds a two-sentence executive summary from the model. Inputs: `date`, `metrics` "
        "(object name -> value), `highlights` (list, default empty). Outputs: `title`, "
        "`report`, `summary`."
    ),
    "definition": {
        "nodes": [
            start(
                field("date", description="The day reported, e.g. 2025-01-31"),
                field("metrics", "object", "Metric name -> value"),
                field("highlights", "array", "Notable events", required=False, default=[]),
            ),
            node(
                "facts",
                "variable_assign",
                "Name the facts",
                assignments={
                    "title": "Daily report {{start.date}}",
                    "metrics": "{{start.metrics}}",
                    "highlights": "{{start.highlights}}",
                },
            ),
            node(
                "table",
                "template",
                "Markdown body",
                template=TABLE,
                variables={
                    "title": "{{facts.title}}",
                    "metrics": "{{facts.metrics}}",
                    "highlights": "{{facts.highlights}}",
                },
            ),
            node(
                "summary",
                "llm",
                "Executive summary",
                prompt="Write a two-sentence executive summary of this report:\n\n{{table.text}}",
                temperature=0.2,
            ),
            node(
                "report",
                "template",
                "Full report",
                template="{{ body }}\n## Summary\n\n{{ summary | trim }}\n",
                variables={"body": "{{table.text}}", "summary": "{{summary.text}}"},
            ),
            node(
                "end",
                "end",
                "End",
                outputs={
                    "title": "{{facts.title}}",
                    "report": "{{report.text}}",
                    "summary": "{{summary.text}}",
                },
            ),
        ],
        "edges": [
            edge("start", "facts"),
            edge("facts", "table"),
            edge("table", "summary"),
            edge("summary", "report"),
            edge("report", "end"),
        ],
    },
}
