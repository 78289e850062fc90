"""Batched token requests: as few as the URL length allows, every repository in exactly one."""

from __future__ import annotations

import itertools
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basepin.registry.auth import MAX_SCOPE_QUERY_BYTES, pull_scope, scope_batches

_NAMES = st.from_regex(r"[a-z0-9]{1,30}(/[a-z0-9._-]{1,60}){0,3}", fullmatch=True)


def _cost(repositories: list[str]) -> int:
    return sum(len("&scope=") + len(quote(pull_scope(r), safe="")) for r in repositories)


@pytest.mark.parametrize(
    ("repositories", "batches"),
    [
        pytest.param([], 0, id="nothing to ask"),
        pytest.param([f"team/app-{n}" for n in range(60)], 1, id="a monorepo's 60 in one"),
        pytest.param([f"team/{'x' * 200}-{n}" for n in range(60)], 3, id="long names: split"),
    ],
)
def test_batches(repositories: list[str], batches: int) -> None:
    assert len(scope_batches(repositories)) == batches


@given(st.lists(_NAMES, unique=True, max_size=300))
def test_every_repository_once_in_order_within_the_limit(repositories: list[str]) -> None:
    batches = scope_batches(repositories)
    assert [name for batch in batches for name in batch] == repositories
    assert all(batch and _cost(batch) <= MAX_SCOPE_QUERY_BYTES for batch in batches)
    # Greedy: a batch closes only when the next scope would not have fitted.
    for batch, following in itertools.pairwise(batches):
        assert _cost([*batch, following[0]]) > MAX_SCOPE_QUERY_BYTES
