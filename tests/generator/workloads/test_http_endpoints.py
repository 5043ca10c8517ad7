"""The endpoints file: every problem reported at once, with the file's name; the shipped example
for the mock backend is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import InvalidInput
from generator.workloads.endpoints import load_endpoints, parse_endpoints

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_every_problem_is_reported_at_once_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """
- name: ok
  path: /health
- name: nopath
  method: FETCH
- name: relative
  path: api/x
  weight: 0
  expect_status: [200, 700]
- name: both
  path: /x
  body: {json: {a: 1}, form: {b: "2"}}
  headers: {Authorization: Bearer abc}
  colour: red
- name: ok
  path: /again
"""
    )
    with pytest.raises(InvalidInput) as info:
        load_endpoints(path)
    message = str(info.value)
    assert str(path) in message
    problems = info.value.problems
    expected = [
        "endpoint 2 (nopath): method",
        "endpoint 2 (nopath): path",
        "endpoint 3 (relative): path",
        "endpoint 3 (relative): weight",
        "endpoint 3 (relative): expect_status",
        "endpoint 4 (both): headers",
        "endpoint 4 (both): body",
        "endpoint 4 (both): colour",
        "'ok' is used twice",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("[", "not valid YAML"), ("{a: 1}", "non-empty list"), ("[]", "non-empty list")],
)
def test_unreadable_files_say_why(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput, match=fragment):
        load_endpoints(path)


def test_a_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        load_endpoints(tmp_path / "absent.yaml")


def test_defaults_and_expectations() -> None:
    (plain, listed) = parse_endpoints(
        [
            {"name": "a", "path": "/a", "method": "post", "body": {"form": {"x": "1"}}},
            {"name": "b", "path": "/b", "expect_status": [200, 404]},
        ],
        "inline",
    )
    assert plain.method == "POST"
    assert plain.weight == 1.0
    assert plain.expects(204)
    assert not plain.expects(302)
    assert listed.expects(404)
    assert not listed.expects(201)


def test_the_shipped_mock_backend_file_is_valid() -> None:
    endpoints = load_endpoints(EXAMPLES / "endpoints-mock-backend.yaml")
    paths = {e.path: e for e in endpoints}
    assert set(paths) >= {
        "/health",
        "/",
        "/api/calls-dashboard",
        "/api/vapi/webhook/health",
        "/api/assistants",
    }
    assert paths["/api/calls-dashboard"].bearer
    assert paths["/api/assistants"].bearer
    assert not paths["/health"].bearer
