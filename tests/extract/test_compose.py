"""Compose files: which services name images, where each reference's text stands, what a fix
rewrites (through the pipeline's own fix planning), `.env` values in their own file."""

from __future__ import annotations

import pytest

from basepin.extract.compose import EnvFile, parse_compose
from basepin.model import Edit
from extract.helpers import D1, assert_uses_fit, fixed, pinned, rows

COMPOSE = "compose.yaml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "services:\n  web:\n    image: nginx:1.27\n",
            [("compose-image", 3, 12, 22, "nginx:1.27", True)],
        ),
        (
            "services:\n  web:\n    image: 'nginx:1.27'  # pinned soon\n",
            [("compose-image", 3, 13, 23, "nginx:1.27", True)],
        ),
        (
            'services: {web: {image: "nginx:1.27"}, db: {image: postgres}}\n',
            [
                ("compose-image", 1, 26, 36, "nginx:1.27", True),
                ("compose-image", 1, 52, 60, "postgres", True),
            ],
        ),
        (
            "services:\n  web:\n    image: >-\n      nginx:1.27\n",
            [("compose-image", 4, 7, 17, "nginx:1.27", True)],
        ),
        (  # an image built here is the project's own name for it
            "services:\n  app:\n    build: .\n    image: me/app:dev\n  db:\n    image: pg\n",
            [("compose-image", 6, 12, 14, "pg", True)],
        ),
        (
            "services:\n  app:\n    build: {context: ., dockerfile: Dockerfile.dev}\n"
            "    image: me/app\n",
            [],
        ),
        (  # `build:` left empty builds nothing
            "services:\n  app:\n    build:\n    image: x:1\n",
            [("compose-image", 4, 12, 15, "x:1", True)],
        ),
        ("services:\n  app:\n    image:\n  b: ~\n  c: {}\n", []),
        ("x-nothing: 1\nvolumes: {db: {}}\n", []),
        ("services: [a, b]\nimage: x\n", []),
        (
            "x-common: &common\n  image: busybox:1.36\n  restart: always\n"
            "services:\n  a:\n    <<: *common\n  b:\n    <<: *common\n    image: alpine\n",
            [
                ("compose-image", 2, 10, 22, "busybox:1.36", True),
                ("compose-image", 9, 12, 18, "alpine", True),
            ],
        ),
        (
            'services:\n  a:\n    image: "ng\\x69nx"\n',
            [("compose-image", 3, 12, 22, "nginx", False)],
        ),
        (
            "services:\n  a:\n    image: a$$b\n",
            [("compose-image", 3, 12, 16, "a$b", True)],
        ),
    ],
)
def test_uses(text: str, expected: list[tuple[object, ...]]) -> None:
    parsed = parse_compose(text, COMPOSE)
    assert rows(parsed) == expected
    assert parsed.problems == ()
    assert_uses_fit(parsed)


def test_fields_of_a_use() -> None:
    text = (
        "services:\n"
        "  web:\n"
        "    platform: ${PLATFORM:-linux/arm64}\n"
        "    # basepin: ignore[latest]\n"
        "    image: nginx\n"
    )
    (use,) = parse_compose(text, COMPOSE).uses
    assert use.stage == "web"
    assert use.platform == "linux/arm64"
    assert use.ignored_rules == frozenset({"latest"})
    assert use.instruction_line == 5
    assert use.source == "nginx"
    assert use.via_arg is None
    assert use.path == COMPOSE


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        (  # whole from .env: the span is in .env, where the value is written
            "services:\n  db:\n    image: ${DB_IMAGE}\n",
            "# images\nDB_IMAGE=postgres:16\n",
            (".env", 2, 10, "postgres:16", "postgres:16", "DB_IMAGE", True, None),
        ),
        (
            "services:\n  db:\n    image: $DB_IMAGE\n",
            "export DB_IMAGE='postgres:16'  \n",
            (".env", 1, 18, "postgres:16", "postgres:16", "DB_IMAGE", True, None),
        ),
        (  # a default that is another variable: its value, and its place
            "services:\n  db:\n    image: ${UNSET:-$DB_IMAGE}\n",
            "DB_IMAGE=postgres:16\n",
            (".env", 1, 10, "postgres:16", "postgres:16", "DB_IMAGE", True, None),
        ),
        (  # a default written in the Compose file
            "services:\n  db:\n    image: ${DB_IMAGE:-postgres:16}\n",
            "OTHER=1\n",
            (COMPOSE, 3, 24, "postgres:16", "postgres:16", "DB_IMAGE", True, None),
        ),
        (  # the .env value wins over the default
            'services:\n  db:\n    image: "${DB_IMAGE:-postgres:16}"\n',
            "DB_IMAGE=postgres:17\n",
            (".env", 1, 10, "postgres:17", "postgres:17", "DB_IMAGE", True, None),
        ),
        (  # a variable inside a reference: resolved, but no fix may touch it
            "services:\n  py:\n    image: python:${TAG:-3.13}-alpine\n",
            "",
            (
                COMPOSE,
                3,
                12,
                "python:${TAG:-3.13}-alpine",
                "python:3.13-alpine",
                "TAG",
                True,
                "assembled from variables (TAG)",
            ),
        ),
        (
            "services:\n  py:\n    image: ${REG}/python:${TAG}\n",
            "REG=ghcr.io\nTAG=3\n",
            (
                COMPOSE,
                3,
                12,
                "${REG}/python:${TAG}",
                "ghcr.io/python:3",
                "REG",
                True,
                "assembled from variables (REG, TAG)",
            ),
        ),
        (  # an .env value built from others
            "services:\n  db:\n    image: ${IMG}\n",
            "TAG=16\nIMG=postgres:${TAG}\n",
            (".env", 2, 5, "postgres:${TAG}", "postgres:16", "IMG", True, "IMG in .env is built"),
        ),
        (
            "services:\n  db:\n    image: ${IMG}\n",
            "",
            (COMPOSE, 3, 12, "${IMG}", "${IMG}", "IMG", False, "IMG is not set"),
        ),
        (
            "services:\n  db:\n    image: ${IMG:?set IMG first}\n",
            "",
            (
                COMPOSE,
                3,
                12,
                "${IMG:?set IMG first}",
                "${IMG:?set IMG first}",
                "IMG",
                False,
                "required variable IMG is missing a value: set IMG first",
            ),
        ),
        (
            "services:\n  db:\n    image: ${IMG\n",
            "",
            (COMPOSE, 3, 12, "${IMG", "${IMG", None, False, "invalid interpolation '${IMG'"),
        ),
        (  # a name alone in .env takes the environment's value: unknown here
            "services:\n  db:\n    image: ${IMG:-x}\n",
            "IMG\n",
            (COMPOSE, 3, 12, "${IMG:-x}", "${IMG:-x}", "IMG", False, "IMG takes its value"),
        ),
    ],
)
def test_variables(text: str, env: str, expected: tuple[object, ...]) -> None:
    parsed = parse_compose(text, COMPOSE, EnvFile(".env", env))
    assert parsed.problems == ()
    (use,) = parsed.uses
    path, line, column, source, reference, via, resolved, reason = expected
    assert (use.path, use.span.line, use.span.column, use.source) == (path, line, column, source)
    assert (use.reference, use.via_arg, use.resolved) == (reference, via, resolved)
    assert (use.unresolved_reason or "").startswith(str(reason or ""))
    assert reason is not None or use.unresolved_reason is None
    assert use.instruction_line == 3
    assert_uses_fit(parsed, {".env": env})


def test_variables_from_a_mapping_have_no_place_to_fix() -> None:
    text = "services:\n  db:\n    image: ${IMG}\n"
    (use,) = parse_compose(text, COMPOSE, {"IMG": "postgres:16"}).uses
    assert (use.reference, use.source, use.via_arg) == ("postgres:16", "${IMG}", "IMG")
    assert use.unresolved_reason is not None
    assert "no value written in a file" in use.unresolved_reason
    _, plans = fixed({COMPOSE: text}, [use])
    plan = plans[use]
    assert isinstance(plan, str)
    assert plan.startswith("not fixed")


def test_the_process_environment_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMG", "postgres:16")
    (use,) = parse_compose("services:\n  db:\n    image: ${IMG}\n", COMPOSE).uses
    assert not use.resolved


FIXES = [
    pytest.param(
        "services:\n  web:\n    image: nginx:1.27 # web\n",
        None,
        {COMPOSE: f"services:\n  web:\n    image: nginx:1.27@{D1} # web\n"},
        id="plain",
    ),
    pytest.param(
        '\ufeffservices:\r\n  web:\r\n    image: "nginx:1.27"\r\n',
        None,
        {COMPOSE: f'\ufeffservices:\r\n  web:\r\n    image: "nginx:1.27@{D1}"\r\n'},
        id="bom-crlf-quoted",
    ),
    pytest.param(
        "x: &i {image: 'redis:7'}\nservices:\n  a: *i\n  b:\n    <<: *i\n",
        None,
        {COMPOSE: f"x: &i {{image: 'redis:7@{D1}'}}\nservices:\n  a: *i\n  b:\n    <<: *i\n"},
        id="anchors-flow",
    ),
    pytest.param(
        "services:\n  db:\n    image: ${DB:-postgres:16}\n",
        "",
        {COMPOSE: f"services:\n  db:\n    image: ${{DB:-postgres:16@{D1}}}\n"},
        id="default",
    ),
    pytest.param(
        "services:\n  db:\n    image: ${DB}\n  db2:\n    image: $DB\n",
        'DB="postgres:16" # db\nX=1\n',
        {
            COMPOSE: "services:\n  db:\n    image: ${DB}\n  db2:\n    image: $DB\n",
            ".env": f'DB="postgres:16@{D1}" # db\nX=1\n',
        },
        id="env-file",
    ),
    pytest.param(
        "services:\n  py:\n    image: python:${TAG:-3.13}\n",
        "",
        {COMPOSE: "services:\n  py:\n    image: python:${TAG:-3.13}\n"},
        id="assembled-is-left-alone",
    ),
]


@pytest.mark.parametrize(("text", "env", "expected"), FIXES)
def test_fixes(text: str, env: str | None, expected: dict[str, str]) -> None:
    files = {COMPOSE: text} if env is None else {COMPOSE: text, ".env": env}
    parsed = parse_compose(text, COMPOSE, None if env is None else EnvFile(".env", env))
    after, _ = fixed(files, parsed.uses)
    assert after == {**files, **expected}
    again = parse_compose(
        after[COMPOSE], COMPOSE, None if env is None else EnvFile(".env", after[".env"])
    )
    assert [use.reference for use in again.uses] == [
        use.reference if "$" in use.source and use.via_arg == "TAG" else pinned(use.reference)
        for use in parsed.uses
    ]


def test_an_env_value_shared_by_files_is_fixed_once() -> None:
    env = "DB=postgres:16\n"
    first = parse_compose("services:\n  a:\n    image: $DB\n", "compose.yaml", EnvFile(".env", env))
    second = parse_compose(
        "services:\n  b:\n    image: ${DB}\n", "compose.override.yaml", EnvFile(".env", env)
    )
    after, plans = fixed(
        {".env": env, "compose.yaml": first.text, "compose.override.yaml": second.text},
        [*first.uses, *second.uses],
    )
    assert after[".env"] == f"DB=postgres:16@{D1}\n"
    assert all(isinstance(plan, Edit) for plan in plans.values())


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("services:\n  a:\n    image: [x]\n", 3, "service a: image must be a string"),
        ("services:\n  a:\n    image: x\n    image: y\n", 4, "service a: image is given twice"),
        ("services:\n  a: {image: x\n", 3, "not valid YAML"),
        ("services:\n  a:\n    # basepin: ignore[nope]\n    image: x\n", 3, "unknown rule nope"),
        (b"services:\n  a:\n    image: \xff\n", 3, "not valid UTF-8: byte 0xff"),
    ],
)
def test_problems(text: str | bytes, line: int, message: str) -> None:
    parsed = parse_compose(text, COMPOSE)
    assert [(p.line, p.message[: len(message)]) for p in parsed.problems] == [(line, message)]
    assert all(p.path == COMPOSE for p in parsed.problems)


def test_a_broken_env_file_is_its_own_problem() -> None:
    parsed = parse_compose(
        "services:\n  a:\n    image: ${A}\n", COMPOSE, EnvFile("sub/.env", "A=1\nB C=2\n")
    )
    (problem,) = parsed.problems
    assert (problem.path, problem.line, problem.column) == ("sub/.env", 2, 1)
    assert problem.message == "not a valid .env file: key cannot contain a space"
    assert parsed.uses[0].path == "sub/.env"


def test_files_without_images_are_not_parsed() -> None:
    parsed = parse_compose("services: {a: {build: .}}\n{{{ not yaml", COMPOSE)
    assert parsed.uses == ()
    assert parsed.problems == ()


def test_an_ignore_above_image_covers_a_value_from_env() -> None:
    text = "services:\n  db:\n    # basepin: ignore[unpinned]\n    image: ${DB}\n"
    (use,) = parse_compose(text, COMPOSE, EnvFile(".env", "DB=postgres:16\n")).uses
    assert (use.path, use.instruction_line) == (".env", 4)
    assert use.ignored_rules == frozenset({"unpinned"})
