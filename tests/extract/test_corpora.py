"""Real files from public projects (tests/data/corpora/<kind>/, sources in SOURCES.md): every
file is read without a problem, every span holds its text, the references found are those an
independent reader (PyYAML's constructor, json5) finds where each tool looks, and pinning
every reference changes those values and nothing else."""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import json5
import pytest
import yaml

from basepin.extract import reader
from basepin.extract.compose import EnvFile, parse_compose
from basepin.model import Edit, ParsedDockerfile
from extract.helpers import D1, assert_uses_fit, differences, fixed, outside_spans, pinned

CORPORA = Path(__file__).parent.parent / "data" / "corpora"
KINDS = ("compose", "workflow", "action", "kubernetes", "devcontainer", "gitlab-ci")
# What the corpora hold, counted: use kind -> uses, for each kind of file.
COUNTS = {
    "compose": {"compose-image": 109},
    "workflow": {"workflow-service": 57, "workflow-container": 21, "workflow-step": 3},
    "action": {"action-image": 33, "action-step": 13},
    "kubernetes": {"kubernetes-container": 92},
    "devcontainer": {"devcontainer-image": 22},
    "gitlab-ci": {"gitlab-image": 125, "gitlab-service": 37},
}


def entries(kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads((CORPORA / kind / "manifest.json").read_text())
    return found


def read(kind: str, entry: dict[str, Any]) -> tuple[ParsedDockerfile, dict[str, str]]:
    data = (CORPORA / kind / entry["file"]).read_bytes()
    texts = {entry["file"]: data.decode("utf-8")}
    if "env" in entry:
        env_text = (CORPORA / kind / entry["env"]["file"]).read_text(encoding="utf-8")
        texts[entry["env"]["file"]] = env_text
        return parse_compose(data, entry["file"], EnvFile(entry["env"]["file"], env_text)), texts
    return reader(kind)(data, entry["file"]), texts


def test_the_corpora_are_described() -> None:
    for kind in KINDS:
        sources = (CORPORA / kind / "SOURCES.md").read_text(encoding="utf-8")
        for entry in entries(kind):
            assert (CORPORA / kind / entry["file"]).is_file()
            assert f"| {entry['file']} | {entry['repo']} | {entry['path']} |" in sources
            assert len(entry["commit"]) == 40


@pytest.mark.parametrize("kind", KINDS)
def test_every_file_reads_cleanly(kind: str) -> None:
    counts: Counter[str] = Counter()
    for entry in entries(kind):
        parsed, texts = read(kind, entry)
        assert parsed.problems == (), entry["file"]
        assert_uses_fit(parsed, texts)
        counts.update(use.kind for use in parsed.uses)
        for note in parsed.notes:  # only Helm-style templates are left unread
            assert kind == "kubernetes"
            assert note.message.startswith("skipped: a Go template")
    assert dict(counts) == COUNTS[kind]


# --- an independent reading ----------------------------------------------------------------


class _Loader(yaml.CSafeLoader):
    """PyYAML's safe constructor, with GitLab's `!reference` read as the path it names."""


class _Reference(tuple[Any, ...]):
    pass


def _reference(loader: yaml.SafeLoader, node: yaml.Node) -> _Reference:
    assert isinstance(node, yaml.SequenceNode)
    return _Reference(loader.construct_sequence(node, deep=True))


_Loader.add_constructor("!reference", _reference)


def _strings(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _compose(document: Any) -> Iterator[str]:
    services = document.get("services") if isinstance(document, dict) else None
    for service in (services or {}).values() if isinstance(services, dict) else ():
        built = not isinstance(service, dict) or service.get("build") is not None
        if not built and (found := _strings(service.get("image"))):
            yield found


def _docker(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("docker://"):
        yield value[len("docker://") :]


def _steps(owner: dict[str, Any]) -> Iterator[str]:
    for step in owner.get("steps") or ():
        if isinstance(step, dict):
            yield from _docker(step.get("uses"))


def _workflow(document: Any) -> Iterator[str]:
    for job in (document.get("jobs") or {}).values():
        container = job.get("container")
        if isinstance(container, dict):
            container = container.get("image")
        if found := _strings(container):
            yield found
        for service in (job.get("services") or {}).values():
            if found := _strings(service.get("image")):
                yield found
        yield from _steps(job)


def _action(document: Any) -> Iterator[str]:
    runs = document.get("runs") or {}
    if str(runs.get("using")).lower() == "docker":
        yield from _docker(runs.get("image"))
    if str(runs.get("using")).lower() == "composite":
        yield from _steps(runs)


def _kubernetes(document: Any) -> Iterator[str]:
    if not (isinstance(document, dict) and "apiVersion" in document and "kind" in document):
        return
    seen: set[int] = set()
    todo = [document]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            if isinstance(node.get("containers"), list):
                for key in ("containers", "initContainers", "ephemeralContainers"):
                    for container in node.get(key) or ():
                        if found := _strings(container.get("image")):
                            yield found
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)


_GITLAB_KEYWORDS = {
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "spec",
    "types",
}


def _follow(root: dict[str, Any], value: Any) -> Any:
    while isinstance(value, _Reference):
        target: Any = root
        for step in value:
            if isinstance(target, list) and isinstance(step, int):
                target = target[step] if step < len(target) else None
            else:
                target = target.get(step) if isinstance(target, dict) else None
        value = target
    return value


def _gitlab_owner(root: dict[str, Any], owner: dict[str, Any]) -> Iterator[str]:
    image = _follow(root, owner.get("image"))
    if isinstance(image, dict):
        image = image.get("name")
    if found := _strings(image):
        yield found
    services = _follow(root, owner.get("services"))
    for service in services if isinstance(services, list) else ():
        service = _follow(root, service)
        name = service.get("name") if isinstance(service, dict) else service
        if found := _strings(name):
            yield found


def _gitlab(document: Any) -> Iterator[str]:
    if not isinstance(document, dict):
        return
    yield from _gitlab_owner(document, document)
    if isinstance(document.get("default"), dict):
        yield from _gitlab_owner(document, document["default"])
    for name, job in document.items():
        if name not in _GITLAB_KEYWORDS and isinstance(job, dict):
            yield from _gitlab_owner(document, job)


ORACLES: dict[str, Callable[[Any], Iterator[str]]] = {
    "compose": _compose,
    "workflow": _workflow,
    "action": _action,
    "kubernetes": _kubernetes,
    "gitlab-ci": _gitlab,
}


@functools.cache
def _json5(text: str) -> Any:
    """json5 is slow (pure Python): each file is read once."""
    return json5.loads(text)


def written_values(kind: str, text: str) -> Counter[str]:
    if kind == "devcontainer":
        image = _json5(text).get("image")
        return Counter([image] if image else [])
    found: Counter[str] = Counter()
    for document in yaml.load_all(text, Loader=_Loader):
        found.update(ORACLES[kind](document))
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_the_references_an_independent_reader_finds(kind: str) -> None:
    for entry in entries(kind):
        parsed, texts = read(kind, entry)
        if parsed.notes:
            continue
        mine: Counter[str] = Counter()
        for use in parsed.uses:
            # the value as the file writes it at the place it names the image
            written = use.reference if use.via_arg is None else None
            mine[written if written is not None and use.resolved else "<variable>"] += 1
        expected = Counter(
            value if "$" not in value else "<variable>"
            for value in written_values(kind, texts[entry["file"]]).elements()
        )
        for value in list(mine):
            if value != "<variable>" and "$" in value:
                mine["<variable>"] += mine.pop(value)
        assert +mine == +expected, entry["file"]


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "devcontainer"])
def test_pinning_everything_changes_the_references_and_nothing_else(kind: str) -> None:
    for entry in entries(kind):
        parsed, texts = read(kind, entry)
        if parsed.notes:
            continue
        checkable = [u for u in parsed.uses if u.resolved and "$" not in u.reference]
        after, plans = fixed(texts, checkable)
        for path, text in texts.items():
            edits = {
                (plan.start, plan.end): plan
                for plan in plans.values()
                if isinstance(plan, Edit) and plan.path == path
            }
            # every edit appends the digest to the reference's own text, and that is all
            assert all(e.replacement == f"{e.original}@{D1}" for e in edits.values())
            appended = "".join(
                piece + (f"@{D1}" if index < len(edits) else "")
                for index, piece in enumerate(outside_spans(text, sorted(edits), keep=True))
            )
            assert after[path] == appended, path
        if "env" in entry:
            continue
        name = entry["file"]
        old = list(yaml.load_all(texts[name], Loader=_Loader))
        new = list(yaml.load_all(after[name], Loader=_Loader))
        for before, changed in differences(old, new):
            assert isinstance(before, str), name
            assert changed in (pinned(before), "docker://" + pinned(before[9:])), name


def test_dev_container_pins_keep_the_rest() -> None:
    for entry in entries("devcontainer"):
        parsed, texts = read("devcontainer", entry)
        checkable = [u for u in parsed.uses if u.resolved]
        if not checkable:
            continue
        after, _ = fixed(texts, checkable)
        before = dict(_json5(texts[entry["file"]]))
        before["image"] = pinned(before["image"])
        assert json5.loads(after[entry["file"]]) == before
