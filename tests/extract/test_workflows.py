"""GitHub workflows and actions: containers, services, `docker://` steps and Docker actions."""

from __future__ import annotations

import pytest

from basepin.extract.workflows import parse_action, parse_workflow
from extract.helpers import D1, assert_uses_fit, fixed, rows

WORKFLOW = ".github/workflows/ci.yml"

JOB = (
    """\
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    container: node:20-bookworm
    services:
      postgres:
        image: postgres:16
        env: {POSTGRES_PASSWORD: x}
      redis:
        # basepin: ignore[latest,unpinned]
        image: 'redis'
      skipped:
        image: ''
    steps:
      - uses: actions/checkout@v4
      - uses: docker://alpine:3.20
        with: {args: echo hi}
      - uses: "docker://ghcr.io/org/tool:1@sha256:"""
    + "a" * 64
    + """"
      - run: "echo image: docker://not-a-step"
  matrix:
    strategy: {matrix: {image: [a, b]}}
    container:
      image: ${{ matrix.image }}
      options: --user 1001
    services:
      db:
        image: mysql:8.4
  reusable:
    uses: org/repo/.github/workflows/x.yml@v1
"""
)


def test_workflow_uses() -> None:
    parsed = parse_workflow(JOB, WORKFLOW)
    assert rows(parsed) == [
        ("workflow-container", 5, 16, 32, "node:20-bookworm", True),
        ("workflow-service", 8, 16, 27, "postgres:16", True),
        ("workflow-service", 12, 17, 22, "redis", True),
        ("workflow-step", 17, 24, 35, "alpine:3.20", True),
        ("workflow-step", 19, 25, 115, f"ghcr.io/org/tool:1@sha256:{'a' * 64}", True),
        ("workflow-container", 24, 14, 33, "${{ matrix.image }}", False),
        ("workflow-service", 28, 16, 25, "mysql:8.4", True),
    ]
    assert [use.stage for use in parsed.uses] == [
        "test",
        "test/postgres",
        "test/redis",
        "test",
        "test",
        "matrix",
        "matrix/db",
    ]
    assert parsed.uses[2].ignored_rules == frozenset({"latest", "unpinned"})
    assert parsed.uses[5].unresolved_reason is not None
    assert "expression" in parsed.uses[5].unresolved_reason
    assert parsed.problems == ()
    assert_uses_fit(parsed)


def test_workflow_fixes_keep_every_other_byte() -> None:
    text = JOB.replace("\n", "\r\n")
    parsed = parse_workflow(text, WORKFLOW)
    after, _ = fixed(
        {WORKFLOW: text}, [u for u in parsed.uses if u.resolved and "@" not in u.reference]
    )
    expected = (
        text.replace("node:20-bookworm", f"node:20-bookworm@{D1}")
        .replace("postgres:16\r", f"postgres:16@{D1}\r")
        .replace("'redis'", f"'redis@{D1}'")
        .replace("docker://alpine:3.20", f"docker://alpine:3.20@{D1}")
        .replace("mysql:8.4", f"mysql:8.4@{D1}")
    )
    assert after[WORKFLOW] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jobs:\n  a:\n    container: ''\n", []),
        ("jobs:\n  a:\n    container: {options: --x}\n", []),
        ("jobs:\n  a:\n    services: {s: {ports: [1]}}\n", []),
        ("jobs:\n  a:\n    steps: {uses: docker://x}\n", []),
        ("jobs: [a]\n", []),
        ("jobs:\n  a:\n    steps:\n      - uses: ./local/action\n      - uses: docker:/x\n", []),
        (
            "jobs:\n  a:\n    steps:\n      - uses: |-\n          docker://busybox\n",
            [("workflow-step", 5, 20, 27, "busybox", True)],
        ),
        (
            "jobs:\n  a:\n    steps:\n      - uses: docker://${{ env.IMAGE }}\n",
            [("workflow-step", 4, 24, 40, "${{ env.IMAGE }}", False)],
        ),
        (
            "jobs:\n  a:\n    steps:\n      - uses: docker://\n",
            [("workflow-step", 4, 24, 24, "", True)],
        ),
    ],
)
def test_workflow_shapes(text: str, expected: list[tuple[object, ...]]) -> None:
    parsed = parse_workflow(text, WORKFLOW)
    assert rows(parsed) == expected
    assert parsed.problems == ()


def test_broken_workflow() -> None:
    parsed = parse_workflow("jobs:\n  a:\n    container: [node\n", WORKFLOW)
    assert [(p.line, p.message[:15]) for p in parsed.problems] == [(4, "not valid YAML:")]


ACTION = "action.yml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\nruns:\n  using: 'docker'\n  image: 'docker://debian:12-slim'\n",
            [("action-image", 4, 20, 34, "debian:12-slim", True)],
        ),
        ("runs:\n  using: docker\n  image: Dockerfile\n", []),
        ("runs:\n  using: node20\n  main: index.js\n  image: docker://x\n", []),
        (
            "runs:\n  using: composite\n  steps:\n    - uses: docker://alpine\n"
            "    - run: echo\n      shell: bash\n",
            [("action-step", 4, 22, 28, "alpine", True)],
        ),
        ("runs: docker\n", []),
    ],
)
def test_actions(text: str, expected: list[tuple[object, ...]]) -> None:
    parsed = parse_action(text, ACTION)
    assert rows(parsed) == expected
    assert [use.stage for use in parsed.uses] == [None] * len(expected)
    assert_uses_fit(parsed)


def test_action_fix() -> None:
    text = 'runs:\n  using: docker\n  image: "docker://debian:12" # base\n'
    after, _ = fixed({ACTION: text}, parse_action(text, ACTION).uses)
    assert after[ACTION] == f'runs:\n  using: docker\n  image: "docker://debian:12@{D1}" # base\n'
