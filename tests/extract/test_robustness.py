"""Hostile and broken input for every kind of file: one problem with a place, never a
traceback, bounded time."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basepin.extract import FILE_KINDS, reader
from basepin.model import ParsedDockerfile

NEW_KINDS = [kind for kind in FILE_KINDS if kind != "dockerfile"]

# A word of each kind's vocabulary, so that generated text gets past the cheap test for images.
SEEDS = {
    "compose": "services:\n  a:\n    image: ",
    "workflow": "jobs:\n  a:\n    container: ",
    "action": "runs:\n  using: docker\n  image: docker://",
    "kubernetes": "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: ",
    "devcontainer": '{"image": ',
    "gitlab-ci": "job:\n  image: ",
}


def read(kind: str, data: bytes | str) -> ParsedDockerfile:
    return reader(kind)(data, "file")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(NEW_KINDS), st.text(max_size=200))
def test_any_text_is_read_or_refused_with_a_problem(kind: str, tail: str) -> None:
    parsed = read(kind, SEEDS[kind] + tail)
    for problem in parsed.problems:
        assert problem.line >= 1
        assert problem.column >= 1
        assert 0 <= problem.offset <= len(parsed.text)
    for use in parsed.uses:
        assert parsed.text[use.span.start : use.span.end] == use.source or use.path != "file"


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(NEW_KINDS), st.binary(max_size=120))
def test_any_bytes(kind: str, tail: bytes) -> None:
    read(kind, SEEDS[kind].encode() + tail)


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_not_utf8(kind: str) -> None:
    parsed = read(kind, SEEDS[kind].encode() + b"\xc3\x28 image\n")
    (problem,) = parsed.problems
    assert problem.message.startswith("not valid UTF-8: byte 0xc3")
    assert parsed.uses == ()


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_one_problem_for_broken_syntax(kind: str) -> None:
    broken = SEEDS[kind] + ('"x", ]' if kind == "devcontainer" else "x\n[\n")
    parsed = read(kind, broken)
    assert len(parsed.problems) == 1
    assert parsed.problems[0].message.startswith("not valid")


BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)
)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("compose", BOMB + "services:\n  s: {image: x, x: *j}\n  t:\n    <<: [*j]\n"),
        ("workflow", BOMB + "jobs:\n  a: {container: x, env: *j}\n"),
        ("kubernetes", BOMB + "apiVersion: v1\nkind: List\nitems: *j\nx: {image: 1}\n"),
        ("gitlab-ci", BOMB + "variables: {A: x}\njob: {image: x, services: *j}\n"),
        ("kubernetes", "apiVersion: v1\nkind: Pod\nimage: x\nspec: " + "[" * 50_000),
        ("compose", "services: " + "{a: " * 50_000 + "image"),
        ("devcontainer", '{"image": "x", "a": ' + "[" * 50_000),
        ("gitlab-ci", "job:\n  image: x\n" + "".join("  " * i + "a:\n" for i in range(2000))),
    ],
)
def test_bombs_and_deep_nesting_are_bounded(kind: str, text: str) -> None:
    started = time.perf_counter()
    parsed = read(kind, text)
    assert time.perf_counter() - started < 2
    assert len(parsed.uses) < 1000


def test_a_billion_laughs_in_services_reads_each_node_once() -> None:
    parsed = read("gitlab-ci", BOMB + "job:\n  services: *j\n")
    assert len(parsed.uses) <= 9  # `*j` lists nine aliases of one sequence, itself no image


def test_every_kind_has_a_reader() -> None:
    assert set(SEEDS) == set(NEW_KINDS)


def test_variables_that_double_each_other_stop() -> None:
    names = [f"V{i}" for i in range(40)]
    variables = [f"  {names[0]}: x"] + [
        f"  {name}: {''.join(f'${previous}' for _ in range(4))}"
        for previous, name in itertools.pairwise(names)
    ]
    text = "variables:\n" + "\n".join(variables) + f"\njob:\n  image: ${names[-1]}\n"
    started = time.perf_counter()
    (use,) = read("gitlab-ci", text).uses
    assert time.perf_counter() - started < 1
    assert not use.resolved
    assert "longer than" in (use.unresolved_reason or "") or "nested" in (
        use.unresolved_reason or ""
    )


def test_env_values_that_double_each_other_stop() -> None:
    from basepin.extract.compose import EnvFile, parse_compose

    lines = ["V0=x"] + [f"V{i}=${{V{i - 1}}}${{V{i - 1}}}${{V{i - 1}}}" for i in range(1, 40)]
    started = time.perf_counter()
    parsed = parse_compose(
        "services:\n  a:\n    image: $V39\n", "c.yaml", EnvFile(".env", "\n".join(lines))
    )
    assert time.perf_counter() - started < 1
    (use,) = parsed.uses
    assert not use.resolved
    assert "longer than" in (use.unresolved_reason or "")


def test_many_services_merging_one_big_mapping() -> None:
    keys = "".join(f"  k{i}: {i}\n" for i in range(2000))
    services = "".join(f"  s{i}:\n    <<: *base\n" for i in range(3000))
    text = f"x-base: &base\n  image: busybox:1.36\n{keys}services:\n{services}"
    started = time.perf_counter()
    parsed = read("compose", text)
    assert time.perf_counter() - started < 3
    assert len(parsed.uses) == 3000
    assert len({use.span for use in parsed.uses}) == 1
