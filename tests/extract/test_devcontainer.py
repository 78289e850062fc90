"""Dev container configurations: the top-level `image`, its exact place, JSONC around it."""

from __future__ import annotations

import pytest

from basepin.extract.devcontainer import parse_devcontainer
from extract.helpers import D1, assert_uses_fit, fixed, rows

CONFIG = ".devcontainer/devcontainer.json"

TEXT = """\
// For format details, see https://aka.ms/devcontainer.json.
{
  "name": "Python 3",
  // basepin: ignore[latest]
  "image": "mcr.microsoft.com/devcontainers/python:1-3.12-bookworm", // the base
  "features": {
    "ghcr.io/devcontainers/features/node:1": {},
  },
  /* "image": "not/this" */
}
"""


def test_image() -> None:
    parsed = parse_devcontainer(TEXT, CONFIG)
    assert rows(parsed) == [
        (
            "devcontainer-image",
            5,
            13,
            67,
            "mcr.microsoft.com/devcontainers/python:1-3.12-bookworm",
            True,
        )
    ]
    (use,) = parsed.uses
    assert use.ignored_rules == frozenset({"latest"})
    assert use.instruction_line == 5
    assert use.stage is None
    assert parsed.problems == ()
    assert_uses_fit(parsed)


def test_fix_keeps_comments_and_commas() -> None:
    text = TEXT.replace("\n", "\r\n")
    after, _ = fixed({CONFIG: text}, parse_devcontainer(text, CONFIG).uses)
    assert after[CONFIG] == text.replace('bookworm"', f'bookworm@{D1}"')


@pytest.mark.parametrize(
    ("text", "expected", "reason"),
    [
        ('{"build": {"dockerfile": "Dockerfile"}}', [], None),
        ('{"dockerComposeFile": "compose.yaml", "service": "app"}', [], None),
        ('{"image": "a", "image": "b"}', [("devcontainer-image", 1, 26, 27, "b", True)], None),
        (
            '{"image": "mcr.microsoft.com/devcontainers/${templateOption:imageVariant}"}',
            [
                (
                    "devcontainer-image",
                    1,
                    12,
                    74,
                    "mcr.microsoft.com/devcontainers/${templateOption:imageVariant}",
                    False,
                )
            ],
            "dev container variable",
        ),
        (
            '{"image": "mcr.microsoft.com\\/x"}',
            [("devcontainer-image", 1, 12, 32, "mcr.microsoft.com/x", False)],
            "JSON escapes",
        ),
        ('{"nested": {"image": "x"}}', [], None),
    ],
)
def test_shapes(text: str, expected: list[tuple[object, ...]], reason: str | None) -> None:
    parsed = parse_devcontainer(text, CONFIG)
    assert rows(parsed) == expected
    if reason is not None:
        assert reason in (parsed.uses[0].unresolved_reason or "")
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ('{\n  "image": "x",\n  oops\n}', 3, 3, "not valid JSON (with comments): a member name"),
        ('["image"]', 1, 1, "not a dev container configuration"),
        ('{"image": 3}', 1, 11, "image must be a string"),
        ('{"image": "x"', 1, 14, "not valid JSON (with comments): ',' or '}'"),
    ],
)
def test_problems(text: str, line: int, column: int, message: str) -> None:
    parsed = parse_devcontainer(text, CONFIG)
    assert [(p.line, p.column, p.message[: len(message)]) for p in parsed.problems] == [
        (line, column, message)
    ]
    assert parsed.uses == ()
