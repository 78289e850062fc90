"""`primaryLocationLineHash` as GitHub's upload action computes it.

Sources: github/codeql-action `src/fingerprints.ts` (the algorithm) and
`src/fingerprints.test.ts` (its own vectors, repeated below as recorded data). The hand-made
vectors are worked out from the definition the algorithm implements: for the line starting at
unit p of the normalised stream s (spaces and tabs out, CR and CRLF as LF, then 65535 and
zeros), sum of s[p+j] * 37**(99-j) for j < 100, modulo 2**64.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basepin.report.fingerprints import line_hashes

M = 2**64


def _hash(units: list[int]) -> str:
    """The window hash of the units a line starts with (zeros after them)."""
    units = (units + [0] * 100)[:100]
    return f"{sum(u * pow(37, 99 - j, M) for j, u in enumerate(units)) % M:x}"


# From github/codeql-action src/fingerprints.test.ts.
UPSTREAM = [
    pytest.param("", ["c129715d7a2bc9a3:1"], id="empty"),
    pytest.param(
        " a\nb\n  \t\tc\n d",
        ["271789c17abda88f:1", "54703d4cd895b18:1", "180aee12dab6264:1", "a23a3dc5e078b07b:1"],
        id="spaces-and-tabs",
    ),
    pytest.param(
        " hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End",
        [
            "8b7cf3e952e7aeb2:1",
            "b1ae1287ec4718d9:1",
            "bff680108adb0fcc:1",
            "c6805c5e1288b612:1",
            "b86d3392aea1be30:1",
            "e6ceba753e1a442:1",
        ],
        id="no-final-newline",
    ),
    *[
        pytest.param(
            text,
            [
                "e9496ae3ebfced30:1",
                "fb7c023a8b9ccb3f:1",
                "ce8ba1a563dcdaca:1",
                "e20e36e16fcb0cc8:1",
                "b3edc88f2938467e:1",
                "c8e28b0b4002a3a0:1",
                "c129715d7a2bc9a3:1",
            ],
            id=name,
        )
        for name, text in [
            ("lf", " hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End\n"),
            ("cr", " hello; \t\nworld!!!\r\r\r  \t\tGreetings\r End\r"),
            ("crlf", " hello; \t\r\nworld!!!\r\n\r\n\r\n  \t\tGreetings\r\n End\r\n"),
            ("mixed", " hello; \t\nworld!!!\r\n\n\r  \t\tGreetings\r End\r\n"),
        ]
    ],
    pytest.param(
        "Lorem ipsum dolor sit amet.\n" * 10,
        [
            *(f"a7f2ff13bc495cf2:{n}" for n in range(1, 7)),
            "a7f2ff1481e87703:1",
            "a9cf91f7bbf1862b:1",
            "55ec222b86bcae53:1",
            "cc97dc7b1d7d8f7b:1",
            "c129715d7a2bc9a3:1",
        ],
        id="repeated-lines",
    ),
]


@pytest.mark.parametrize(("text", "expected"), UPSTREAM)
def test_the_upload_actions_own_vectors(text: str, expected: list[str]) -> None:
    assert line_hashes(text.encode()) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # "a": the stream is a, end; one line.
        pytest.param(b"a", [_hash([97, 65535]) + ":1"], id="one-unit"),
        # "FROM x\n": F R O M x LF (the space is left out), end; two lines, the second empty.
        pytest.param(
            b"FROM x\n",
            [_hash([70, 82, 79, 77, 120, 10, 65535]) + ":1", _hash([65535]) + ":1"],
            id="dockerfile-line",
        ),
        # A blank line starts with its LF; a line of spaces is a blank line.
        pytest.param(
            b"a\n  \nb",
            [
                _hash([97, 10, 10, 98, 65535]) + ":1",
                _hash([10, 98, 65535]) + ":1",
                _hash([98, 65535]) + ":1",
            ],
            id="blank-line",
        ),
        # The BOM is a unit (U+FEFF) like any other: the action reads it, it does not skip it.
        pytest.param(b"\xef\xbb\xbfa", [_hash([0xFEFF, 97, 65535]) + ":1"], id="bom"),
        # A byte that does not decode is U+FFFD.
        pytest.param(b"\xffa", [_hash([0xFFFD, 97, 65535]) + ":1"], id="undecodable"),
        # A character past U+FFFF is two UTF-16 units.
        pytest.param("😀".encode(), [_hash([0xD83D, 0xDE00, 65535]) + ":1"], id="surrogate-pair"),
        # A CR, spaces, then LF: the spaces end the CRLF, so the LF is a line of its own.
        pytest.param(
            b"a\r \nb",
            [
                _hash([97, 10, 10, 98, 65535]) + ":1",
                _hash([10, 98, 65535]) + ":1",
                _hash([98, 65535]) + ":1",
            ],
            id="cr-space-lf",
        ),
    ],
)
def test_hand_computed_vectors(data: bytes, expected: list[str]) -> None:
    assert line_hashes(data) == expected


def test_a_line_sees_only_the_next_hundred_units() -> None:
    long = b"x" * 150
    hashes = line_hashes(b"a\n" + long)
    assert hashes[0] == _hash([97, 10, *[120] * 98]) + ":1"
    assert hashes[1] == _hash([120] * 100) + ":1"


def _naive(data: bytes) -> list[str]:
    """The definition, written out without the rolling window."""
    # (A CR, then spaces, then an LF is two line breaks: the strategy below makes none.)
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    encoded = text.encode("utf-16-le", "surrogatepass")
    units = [int.from_bytes(encoded[i : i + 2], "little") for i in range(0, len(encoded), 2)]
    stream = [u for u in units if u not in (9, 32)] + [65535]
    starts = [0] + [i + 1 for i, u in enumerate(stream[:-1]) if u == 10]
    counts: dict[str, int] = {}
    hashes = []
    for start in starts:
        value = _hash(stream[start:])
        counts[value] = counts.get(value, 0) + 1
        hashes.append(f"{value}:{counts[value]}")
    return hashes


@given(
    st.lists(
        st.sampled_from(["FROM", " ", "\t", "\n", "\r\n", "python:3.12", "ü", "😀", "x" * 60]),
        max_size=40,
    )
)
def test_matches_the_definition(pieces: list[str]) -> None:
    data = "".join(pieces).encode()
    assert line_hashes(data) == _naive(data)


def test_one_hash_per_line_as_the_action_counts_them() -> None:
    for text in ("", "a", "a\n", "a\n\nb", "a\r\nb\r\n"):
        lines = text.replace("\r\n", "\n").split("\n")
        assert len(line_hashes(text.encode())) == len(lines)
