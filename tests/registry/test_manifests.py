"""Manifests as registries send them, read without a registry."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basepin.registry.manifests import parse_created


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            "2024-02-03T04:05:06.123456789Z",
            datetime(2024, 2, 3, 4, 5, 6, 123456, tzinfo=timezone.utc),
            id="nanoseconds",
        ),
        pytest.param(
            "2024-02-03T04:05:06.5Z",
            datetime(2024, 2, 3, 4, 5, 6, 500000, tzinfo=timezone.utc),
            id="one-digit",
        ),
        pytest.param(
            "2024-02-03T04:05:06+02:00",
            datetime(2024, 2, 3, 2, 5, 6, tzinfo=timezone.utc),
            id="offset",
        ),
        pytest.param(
            "2024-02-03T04:05:06", datetime(2024, 2, 3, 4, 5, 6, tzinfo=timezone.utc), id="naive"
        ),
        pytest.param("1970-01-01T00:00:00Z", None, id="epoch"),
        pytest.param("1980-01-01T00:00:01Z", None, id="zip-epoch"),
        pytest.param("0001-01-01T00:00:00Z", None, id="go-zero"),
        pytest.param("yesterday", None, id="garbage"),
        pytest.param(1700000000, None, id="number"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_created_dates(value: object, expected: datetime | None) -> None:
    assert parse_created(value) == expected


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.just(timezone.utc),
    ),
    st.integers(min_value=0, max_value=999),
)
def test_created_dates_round_trip_to_the_microsecond(when: datetime, nanos: int) -> None:
    text = when.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{nanos:03d}Z"
    assert parse_created(text) == when
