"""GitLab CI: images and services at the top level, in `default:` and in jobs, and the
variables of the file that name them."""

from __future__ import annotations

import pytest

from basepin.extract.gitlab import parse_gitlab_ci
from extract.helpers import D1, assert_uses_fit, fixed, rows

CI = ".gitlab-ci.yml"

PIPELINE = """\
variables:
  ALPINE: "alpine:3.20"
  PY: {value: '3.13', description: Python}
  REG: registry.example.com
  APP: $REG/app:1
  RAW: {value: $REG/raw:1, expand: false}
image: $ALPINE
default:
  image:
    name: ruby:3.3
    docker: {platform: linux/arm64}
  services:
    # basepin: ignore[unpinned]
    - postgres:16
    - name: redis:7
      alias: cache
.template:
  image: python:${PY}-alpine
build:
  variables:
    ALPINE: alpine:3.19
  image: ${ALPINE}
  services: [$CI_REGISTRY_IMAGE/x:1, $APP, $NOPE, "docker:27-dind"]
isolated:
  inherit: {variables: false}
  image: $ALPINE
some:
  inherit:
    variables: [REG]
  image: $REG/some:2
raw:
  image: $RAW
reused:
  image: !reference [.template, image]
stages: [build]
"""


def test_uses() -> None:
    parsed = parse_gitlab_ci(PIPELINE, CI)
    assert [
        (u.kind, u.span.line, u.reference, u.resolved, u.via_arg, u.stage, u.source)
        for u in parsed.uses
    ] == [
        ("gitlab-image", 2, "alpine:3.20", True, "ALPINE", None, "alpine:3.20"),
        ("gitlab-image", 10, "ruby:3.3", True, None, "default", "ruby:3.3"),
        ("gitlab-service", 14, "postgres:16", True, None, "default", "postgres:16"),
        ("gitlab-service", 15, "redis:7", True, None, "default", "redis:7"),
        ("gitlab-image", 18, "python:3.13-alpine", True, "PY", ".template", "python:${PY}-alpine"),
        ("gitlab-image", 18, "python:3.13-alpine", True, "PY", "reused", "python:${PY}-alpine"),
        ("gitlab-image", 21, "alpine:3.19", True, "ALPINE", "build", "alpine:3.19"),
        (
            "gitlab-service",
            23,
            "$CI_REGISTRY_IMAGE/x:1",
            False,
            "CI_REGISTRY_IMAGE",
            "build",
            "$CI_REGISTRY_IMAGE/x:1",
        ),
        ("gitlab-service", 5, "registry.example.com/app:1", True, "APP", "build", "$REG/app:1"),
        ("gitlab-service", 23, "$NOPE", False, "NOPE", "build", "$NOPE"),
        ("gitlab-service", 23, "docker:27-dind", True, None, "build", "docker:27-dind"),
        ("gitlab-image", 26, "$ALPINE", False, "ALPINE", "isolated", "$ALPINE"),
        ("gitlab-image", 30, "registry.example.com/some:2", True, "REG", "some", "$REG/some:2"),
        ("gitlab-image", 6, "$REG/raw:1", True, "RAW", "raw", "$REG/raw:1"),
    ]
    by_stage = {(u.stage, u.reference): u for u in parsed.uses}
    assert by_stage[("default", "ruby:3.3")].platform == "linux/arm64"
    assert by_stage[("default", "postgres:16")].ignored_rules == frozenset({"unpinned"})
    assert by_stage[("default", "postgres:16")].instruction_line == 14
    assert by_stage[(None, "alpine:3.20")].instruction_line == 7
    reason = by_stage[("build", "$CI_REGISTRY_IMAGE/x:1")].unresolved_reason or ""
    assert reason.startswith("variable CI_REGISTRY_IMAGE is not set in this file")
    note = by_stage[(".template", "python:3.13-alpine")].unresolved_reason or ""
    assert note.startswith("assembled from variables (PY)")
    assert parsed.problems == ()
    assert_uses_fit(parsed)


def test_fixes() -> None:
    parsed = parse_gitlab_ci(PIPELINE, CI)
    checkable = [u for u in parsed.uses if u.resolved and "$" not in u.reference]
    after, plans = fixed({CI: PIPELINE}, checkable)
    expected = (
        PIPELINE.replace('"alpine:3.20"', f'"alpine:3.20@{D1}"')
        .replace("ruby:3.3", f"ruby:3.3@{D1}")
        .replace("- postgres:16", f"- postgres:16@{D1}")
        .replace("redis:7", f"redis:7@{D1}")
        .replace("ALPINE: alpine:3.19", f"ALPINE: alpine:3.19@{D1}")
        .replace('"docker:27-dind"', f'"docker:27-dind@{D1}"')
    )
    assert after[CI] == expected
    not_fixed = sorted(u.reference for u, plan in plans.items() if isinstance(plan, str))
    assert not_fixed == [
        "python:3.13-alpine",
        "python:3.13-alpine",
        "registry.example.com/app:1",
        "registry.example.com/some:2",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("image: ''\nservices: []\n", []),
        ("job:\n  image: {entrypoint: ['']}\n", []),
        ("job:\n  services: [{alias: x}]\n", []),
        ("include: {local: x.yml}\nstages: [a]\nworkflow: {rules: []}\n", []),
        (
            "spec:\n  inputs: {img: {default: a}}\n---\njob:\n  image: $[[ inputs.img ]]\n",
            [("gitlab-image", 5, 10, 27, "$[[ inputs.img ]]", False)],
        ),
        ("job:\n  image: $$notavar\n", [("gitlab-image", 2, 10, 19, "$notavar", True)]),
        (
            "variables: {A: $B, B: $A}\njob:\n  image: $A\n",
            [("gitlab-image", 3, 10, 12, "$A", False)],
        ),
        (
            "job:\n  image:\n    name: |-\n      node:20\n",
            [("gitlab-image", 4, 7, 14, "node:20", True)],
        ),
    ],
)
def test_shapes(text: str, expected: list[tuple[object, ...]]) -> None:
    parsed = parse_gitlab_ci(text, CI)
    assert rows(parsed) == expected
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("job:\n  image: a\n  image: b\n", 3, "image is given twice"),
        ("job:\n  image: [a\n", 3, "not valid YAML"),
        ("job:\n  # basepin: ignore[]\n  image: a\n", 2, "no rule in basepin: ignore"),
    ],
)
def test_problems(text: str, line: int, message: str) -> None:
    parsed = parse_gitlab_ci(text, CI)
    assert [(p.line, p.message[: len(message)]) for p in parsed.problems] == [(line, message)]
