"""``POST /graph/validate``: the first problem of a typed spec, at its line and column."""

from __future__ import annotations

from fastapi.testclient import TestClient

GOOD = """\
name: demo
entry: a
nodes:
  a:
    tool: t.inc
  b:
    tool: t.double
edges:
  - {from: a, to: b}
  - {from: b, to: END}
"""


def _check(client: TestClient, text: str) -> dict[str, object]:
    response = client.post("/graph/validate", json={"text": text})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_valid_spec(client: TestClient) -> None:
    body = _check(client, GOOD)
    assert body["valid"] is True and body["error"] is None
    assert body["nodes"] == ["a", "b"]
    assert client.get("/graphs").json()["graphs"] == []  # nothing stored


def test_an_unknown_tool_is_reported_at_its_node(client: TestClient) -> None:
    body = _check(client, GOOD.replace("tool: t.double", "tool: t.nope"))
    assert body["valid"] is False and body["spec"] is not None  # parsed: still drawable
    error = body["error"]
    assert isinstance(error, dict)
    assert error["where"] == "nodes.b.tool" and "t.nope" in error["message"]
    assert (error["line"], error["column"]) == (7, 5)


def test_a_bad_condition_is_reported_at_its_edge(client: TestClient) -> None:
    text = GOOD.replace("- {from: b, to: END}", "- {from: b, to: END, when: {key: n, op: '~~'}}")
    error = _check(client, text)["error"]
    assert isinstance(error, dict)
    assert str(error["where"]).startswith("edges[1]") and error["line"] == 10


def test_a_yaml_syntax_error_has_its_line_and_column(client: TestClient) -> None:
    error = _check(client, GOOD.replace("  b:\n", "  b: [\n"))["error"]
    assert isinstance(error, dict)
    # the parser notices on the next line, where the open '[' meets 'tool:'
    assert "YAML syntax error" in str(error["message"]) and error["line"] == 8


def test_json_and_a_non_mapping(client: TestClient) -> None:
    assert (
        _check(
            client,
            '{"name": "j", "entry": "a", "nodes": {"a": {"tool": "t.inc"}}, '
            '"edges": [{"from": "a", "to": "END"}]}',
        )["valid"]
        is True
    )
    error = _check(client, "- just\n- a list\n")["error"]
    assert isinstance(error, dict) and "mapping" in str(error["message"])
