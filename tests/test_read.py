"""Reading files by their kind, and where their references stand for `fix`: every corpus
file pinned through the spans its own reader finds, planned again and found made."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from basepin.config import Config
from basepin.fix import plan_file
from basepin.model import Edit, ImageUse
from basepin.read import parse, reference_spans

CORPORA = Path(__file__).parent / "data" / "corpora"
KINDS = ("compose", "workflow", "action", "kubernetes", "devcontainer", "gitlab-ci")


def pinned(reference: str) -> str:
    name = reference.partition("@")[0]
    return f"{name}@sha256:{hashlib.sha256(name.encode()).hexdigest()}"


def edit_of(use: ImageUse) -> Edit:
    span = use.span
    return Edit(
        use.path,
        span.line,
        span.column,
        span.end_column,
        span.start,
        span.end,
        use.source,
        pinned(use.reference),
    )


def corpus_files() -> list[Any]:
    params = []
    for kind in KINDS:
        for entry in json.loads((CORPORA / kind / "manifest.json").read_text()):
            params.append(pytest.param(kind, entry, id=f"{kind}/{entry['file']}"))
    return params


@pytest.mark.parametrize(("kind", "entry"), corpus_files())
def test_every_corpus_file_is_pinned_through_its_own_spans(
    kind: str, entry: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Laid out under its own name, so that its kind (and a Compose file's .env) is found.
    monkeypatch.chdir(tmp_path)
    path = Path(entry["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (CORPORA / kind / entry["file"]).read_bytes()
    path.write_bytes(data)
    if "env" in entry:
        (path.parent / ".env").write_bytes((CORPORA / kind / entry["env"]["file"]).read_bytes())
    if kind == "gitlab-ci" and not path.name.endswith(".gitlab-ci.yml"):
        path = path.with_name(".gitlab-ci.yml")  # an included template, named as a CI file
        path.write_bytes(data)
    config = Config()
    parsed = parse(data, str(path), config)
    assert parsed.problems == ()
    edits = [
        edit_of(use)
        for use in parsed.uses
        if use.resolved and use.source == use.reference and use.path == str(path)
    ]
    spans = reference_spans(config, str(path), data)
    assert {(e.start, e.end) for e in edits} <= spans
    change = plan_file(str(path), edits, data, lambda p, d: reference_spans(config, p, d))
    assert change.refused == ()
    assert len(change.applied) == len(set(edits))
    again = plan_file(str(path), edits, change.after, lambda p, d: reference_spans(config, p, d))
    assert (again.after, again.applied, again.refused) == (change.after, (), ())
    assert set(again.done) == set(edits)
    reread = parse(change.after, str(path), config)
    assert [u.reference for u in reread.uses] == [
        pinned(u.reference) if edit_of(u) in edits else u.reference for u in parsed.uses
    ]


def test_the_spans_of_a_env_file_are_its_values(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    data = b'# images\nA=alpine:3.20\nexport B="busybox:1" # quoted\nC\n'
    env.write_bytes(data)
    text = data.decode()
    spans = reference_spans(Config(), str(env), data)
    assert {text[start:end] for start, end in spans} == {"alpine:3.20", "busybox:1", ""}


def test_a_compose_file_is_read_with_the_env_beside_it(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  a:\n    image: ${A:-alpine:3.19}\n")
    data = compose.read_bytes()
    (uses_default,) = parse(data, str(compose), Config()).uses
    assert (uses_default.path, uses_default.reference) == (str(compose), "alpine:3.19")
    assert reference_spans(Config(), str(compose), data) == {
        (uses_default.span.start, uses_default.span.end)
    }
    (tmp_path / ".env").write_text("A=alpine:3.20\n")
    (from_env,) = parse(data, str(compose), Config()).uses
    assert (from_env.path, from_env.reference) == (str(tmp_path / ".env"), "alpine:3.20")
    # The value stands in .env now: the Compose file itself holds no reference to fix.
    assert reference_spans(Config(), str(compose), data) == set()
