"""The files an online check holds while the registries answer: in order, kept or spilled."""

from __future__ import annotations

import pytest

from basepin.extract.dockerfile import parse_dockerfile
from basepin.file_queue import FileQueue
from basepin.model import ParsedDockerfile

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=python:3.12-slim
FROM ${BASE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.4 /uv /bin/uv
RUN --mount=from=busybox:1.36,target=/bb true
FROM build
BOGUS instruction
"""


def _files(count: int) -> list[ParsedDockerfile]:
    return [
        parse_dockerfile(DOCKERFILE.encode(), f"svc-{number}/Dockerfile")._replace(text="")
        for number in range(count)
    ]


@pytest.mark.parametrize(
    ("in_memory", "count"), [(256, 0), (256, 3), (2, 5), (0, 4), (3, 3), (1, 40), (0, 32)]
)
def test_files_come_back_whole_and_in_order(in_memory: int, count: int) -> None:
    files = _files(count)
    queue = FileQueue(in_memory)
    for parsed in files:
        queue.put(parsed)
    assert len(queue) == count
    assert list(queue.drain()) == files
    assert len(queue) == 0
    assert list(queue.drain()) == []


def test_spilled_files_keep_problems_and_ignores() -> None:
    (parsed,) = _files(1)
    assert parsed.problems, "the sample has an unknown instruction"
    queue = FileQueue(0)
    queue.put(parsed)
    (back,) = queue.drain()
    assert back.problems == parsed.problems
    assert [use.source for use in back.uses] == [use.source for use in parsed.uses]
