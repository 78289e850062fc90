"""Properties over generated files of every YAML kind, written in every style a person might
use (quotes, block scalars, flow mappings, comments, anchors, CRLF, a BOM): the extractor finds
exactly the references written, each span holds its reference, and a fix changes the reference
spans and not one other byte (and, read back as YAML, not one other value)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from basepin.extract.compose import parse_compose
from basepin.extract.gitlab import parse_gitlab_ci
from basepin.extract.kubernetes import parse_kubernetes
from basepin.extract.workflows import parse_workflow
from basepin.model import Edit, ParsedDockerfile
from extract.helpers import D1, assert_uses_fit, differences, fixed, outside_spans

REFERENCES = st.from_regex(
    r"(ghcr\.io/|localhost:5000/)?[a-z][a-z0-9]{0,5}(/[a-z0-9]{1,4})?(:[a-z0-9][a-z0-9.-]{0,5})?",
    fullmatch=True,
).filter(lambda r: r not in ("null", "yes", "no", "on", "off", "true", "false", "y", "n"))
COMMENTS = st.sampled_from(["", "# note", "#", "# basepin: something else", "#: x"])


@st.composite
def scalar(draw: st.DrawFn, indent: str) -> tuple[str, str]:
    """A reference written in one of YAML's styles; returns (text after `key: `, reference)."""
    reference = draw(REFERENCES)
    style = draw(st.sampled_from(["plain", "single", "double", "literal", "folded", "anchor"]))
    trailing = draw(st.sampled_from(["", "  # trailing", " #x"]))
    if style == "plain":
        return reference + trailing, reference
    if style == "single":
        return f"'{reference}'{trailing}", reference
    if style == "double":
        return f'"{reference}"{trailing}', reference
    if style == "anchor":
        return f"&a{draw(st.integers(0, 999))} {reference}{trailing}", reference
    indicator = "|-" if style == "literal" else ">-"
    return f"{indicator}{trailing}\n{indent}  {reference}", reference


def comment_lines(draw: st.DrawFn, indent: str) -> str:
    return "".join(f"{indent}{c}\n" for c in draw(st.lists(COMMENTS, max_size=2)) if c)


@st.composite
def compose(draw: st.DrawFn) -> tuple[str, list[str]]:
    lines, expected = ["services:\n"], []
    for number in range(draw(st.integers(1, 4))):
        lines.append(comment_lines(draw, "  "))
        lines.append(f"  svc{number}:\n")
        built = draw(st.booleans()) and draw(st.booleans())
        if built:
            lines.append("    build: .\n")
        if draw(st.booleans()):
            lines.append("    ports: ['80:80']\n")
        text, reference = draw(scalar("    "))
        lines.append(comment_lines(draw, "    "))
        lines.append(f"    image: {text}\n")
        if not built:
            expected.append(reference)
        if draw(st.booleans()):
            lines.append("    environment: {A: b}\n")
    return "".join(lines), expected


@st.composite
def kubernetes(draw: st.DrawFn) -> tuple[str, list[str]]:
    documents, expected = [], []
    for number in range(draw(st.integers(1, 3))):
        lines = [
            "apiVersion: apps/v1\n",
            "kind: Deployment\n",
            f"metadata: {{name: d{number}}}\n",
            "spec:\n  template:\n    spec:\n",
        ]
        for list_name in ("initContainers", "containers"):
            count = draw(st.integers(0 if list_name == "initContainers" else 1, 2))
            if not count:
                continue
            lines.append(f"      {list_name}:\n")
            for index in range(count):
                lines.append(comment_lines(draw, "        "))
                if draw(st.booleans()):
                    reference = draw(REFERENCES)
                    lines.append(f"        - {{name: c{index}, image: '{reference}'}}\n")
                else:
                    text, reference = draw(scalar("          "))
                    lines.append(f"        - name: c{index}\n          image: {text}\n")
                expected.append(reference)
        documents.append("".join(lines))
    return "---\n".join(documents), expected


@st.composite
def workflow(draw: st.DrawFn) -> tuple[str, list[str]]:
    lines, expected = ["on: push\njobs:\n"], []
    for number in range(draw(st.integers(1, 3))):
        lines.append(f"  job{number}:\n    runs-on: ubuntu-latest\n")
        if draw(st.booleans()):
            text, reference = draw(scalar("    "))
            lines.append(f"    container: {text}\n")
            expected.append(reference)
        if draw(st.booleans()):
            text, reference = draw(scalar("        "))
            lines.append(f"    services:\n      db:\n        image: {text}\n")
            expected.append(reference)
        lines.append("    steps:\n      - uses: actions/checkout@v4\n")
        if draw(st.booleans()):
            reference = draw(REFERENCES)
            quote = draw(st.sampled_from(["", "'", '"']))
            lines.append(f"      - uses: {quote}docker://{reference}{quote}\n")
            expected.append(reference)
    return "".join(lines), expected


@st.composite
def gitlab(draw: st.DrawFn) -> tuple[str, list[str]]:
    lines, expected = [], []
    for number in range(draw(st.integers(1, 3))):
        lines.append(comment_lines(draw, ""))
        lines.append(f"job{number}:\n  script: [echo]\n")
        if draw(st.booleans()):
            text, reference = draw(scalar("    "))
            lines.append(f"  image:\n    name: {text}\n")
        else:
            text, reference = draw(scalar("  "))
            lines.append(f"  image: {text}\n")
        expected.append(reference)
        services = draw(st.lists(REFERENCES, max_size=2))
        if services:
            lines.append("  services:\n")
            lines.extend(f"    - {service}\n" for service in services)
            expected.extend(services)
    return "".join(lines), expected


KINDS: list[tuple[Any, Callable[[str, str], ParsedDockerfile]]] = [
    (compose(), parse_compose),
    (kubernetes(), parse_kubernetes),
    (workflow(), parse_workflow),
    (gitlab(), parse_gitlab_ci),
]


def check(text: str, expected: list[str], parse: Callable[[str, str], ParsedDockerfile]) -> None:
    parsed = parse(text, "file.yaml")
    assert parsed.problems == ()
    assert sorted(use.reference for use in parsed.uses) == sorted(expected)
    assert all(use.source == use.reference and use.resolved for use in parsed.uses)
    assert_uses_fit(parsed)
    after, plans = fixed({"file.yaml": text}, parsed.uses)
    edits = sorted({(p.start, p.end) for p in plans.values() if isinstance(p, Edit)})
    assert len(edits) == len({(u.span.start, u.span.end) for u in parsed.uses})
    pieces = outside_spans(text, edits, keep=True)
    assert after["file.yaml"] == f"@{D1}".join(pieces)
    old = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    new = list(yaml.load_all(after["file.yaml"], Loader=yaml.CSafeLoader))
    changed = list(differences(old, new))
    assert sorted(before.removeprefix("docker://") for before, _ in changed) == sorted(expected)
    assert all(after == f"{before}@{D1}" for before, after in changed)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(range(len(KINDS))), st.data(), st.booleans(), st.booleans())
def test_generated_files(kind: int, data: st.DataObject, crlf: bool, bom: bool) -> None:
    strategy, parse = KINDS[kind]
    text, expected = data.draw(strategy)
    numbers = itertools.count()
    text = re.sub(r"&a\d+", lambda _: f"&a{next(numbers)}", text)  # an anchor once a file
    if crlf:
        text = text.replace("\n", "\r\n")
    if bom:
        text = "\ufeff" + text
    check(text, expected, parse)
