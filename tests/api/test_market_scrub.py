"""Published workflow snapshots lose the author's credentials wherever they sit in a node."""

from __future__ import annotations

from tiangong.market import scrub


def test_credentials_are_blanked_in_any_node_at_any_depth() -> None:
    definition = {
        "nodes": [
            {
                "id": "call",
                "type": "http_request",
                "config": {
                    "url": "https://u:pw@api.example.com/v1?api_key=k-1&city=Paris",
                    "headers": {"Authorization": "Bearer sk-1", "Accept": "*/*"},
                    "body": {"auth": {"password": "p-1", "user": "me"}},
                },
            },
            {"id": "code", "type": "code", "config": {"env": [{"ACCESS_KEY": "a-1"}]}},
            {"id": "end", "type": "end"},
        ],
        "edges": [{"source": "call", "target": "code"}],
    }
    cleaned = scrub.graph(definition)
    assert cleaned is not None
    text = str(cleaned)
    for secret in ("sk-1", "k-1", "p-1", "a-1", "u:pw"):
        assert secret not in text
    call = cleaned["nodes"][0]["config"]
    assert call["url"] == "https://api.example.com/v1?api_key=&city=Paris"
    assert call["headers"] == {"Authorization": "", "Accept": "*/*"}
    assert call["body"]["auth"]["user"] == "me"
    assert cleaned["nodes"][2] == {"id": "end", "type": "end"}
    assert cleaned["edges"] == definition["edges"]
    assert definition["nodes"][0]["config"]["headers"]["Authorization"] == "Bearer sk-1"


def test_no_graph_stays_none() -> None:
    assert scrub.graph(None) is None
