"""The table of kinds of file, and what reading them costs a check that reads none."""

from __future__ import annotations

from pathlib import Path

import pytest

from basepin.discover import KINDS
from basepin.extract import FILE_KINDS, READERS, reader
from basepin.model import USE_KINDS, ParsedDockerfile
from fixtures.runs import imported_by

READS = {
    "dockerfile": (b"FROM alpine:3.20\n", {"from"}),
    "compose": (b"services: {a: {image: alpine:3.20}}\n", {"compose-image"}),
    "workflow": (b"jobs: {a: {container: alpine:3.20}}\n", {"workflow-container"}),
    "action": (b"runs: {using: docker, image: 'docker://alpine:3.20'}\n", {"action-image"}),
    "kubernetes": (
        b"apiVersion: v1\nkind: Pod\nspec: {containers: [{image: alpine:3.20}]}\n",
        {"kubernetes-container"},
    ),
    "devcontainer": (b'{"image": "alpine:3.20"}', {"devcontainer-image"}),
    "gitlab-ci": (b"job: {image: alpine:3.20}\n", {"gitlab-image"}),
}


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_each_kind_has_a_reader(kind: str) -> None:
    data, kinds = READS[kind]
    parsed = reader(kind)(data, "file")
    assert isinstance(parsed, ParsedDockerfile)
    assert {use.kind for use in parsed.uses} == kinds
    assert [use.reference for use in parsed.uses] == ["alpine:3.20"]
    assert kinds <= set(USE_KINDS)


def test_discovery_knows_the_kinds_there_are_readers_for() -> None:
    assert KINDS == FILE_KINDS


def test_every_use_kind_has_a_reader() -> None:
    assert set(FILE_KINDS) == set(READERS) == set(READS)
    named = {kind for kinds in (k for _, k in READS.values()) for kind in kinds}
    assert named <= set(USE_KINDS)


def test_an_offline_check_of_dockerfiles_reads_no_yaml(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM alpine:3.20\n")
    result, imported = imported_by("check", "--offline", str(path))
    assert result.returncode == 1, result.stderr
    assert "yaml" not in imported
    readers = {module for module in imported if module.startswith("basepin.extract.")}
    assert "basepin.extract.dockerfile" in readers
    # Beside the Dockerfile reader, only what every kind shares: the ignore comment.
    others = {module for module in readers if not module.startswith("basepin.extract.dockerfile")}
    assert others <= {"basepin.extract.ignores"}, readers
