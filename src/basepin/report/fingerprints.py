"""`primaryLocationLineHash`: the line fingerprint GitHub code scanning tracks alerts by.

GitHub's upload action (github/codeql-action, `src/fingerprints.ts`) computes it for each result
that has none; basepin writes it itself, computed the same way, so that alerts keep their
identity across runs whether the SARIF file is uploaded by that action or through the API.

The file is read as UTF-8 (a byte that does not decode counts as U+FFFD) and hashed in UTF-16
code units. Spaces and tabs are left out, and CR, LF and CRLF all count as one LF. After the
last unit comes the value 65535, then zeros. A line's hash is the polynomial hash, base 37
modulo 2**64, of the 100 units that start with the line's first unit left in (a blank line's
first unit is its LF), written as unsigned hexadecimal without leading zeros; `:n` says it is
the n-th line of the file with that hash. A file that ends with a line break has one more
(empty) line after it, as the action counts.
"""

from __future__ import annotations

import struct

WINDOW = 100  # units hashed per line
_BASE = 37
_MASK = (1 << 64) - 1
_END = 65535
_TAB, _LF, _CR, _SPACE = 9, 10, 13, 32
_DROPPED = pow(_BASE, WINDOW, 1 << 64)  # the weight a unit has when it leaves the window


def line_hashes(data: bytes) -> list[str]:
    """The `hash:count` fingerprint of every line of a file, line 1 first."""
    units = _units(data.decode("utf-8", "replace"))
    stream: list[int] = []
    starts: list[int] = []  # where each line's first unit is in `stream`
    line_start, after_cr = True, False
    for unit in (*units, _END):
        if unit in (_SPACE, _TAB) or (after_cr and unit == _LF):
            after_cr = False
            continue
        after_cr = unit == _CR
        if after_cr:
            unit = _LF
        if line_start:
            starts.append(len(stream))
            line_start = False
        line_start = unit == _LF
        stream.append(unit)
    stream.extend([0] * WINDOW)

    # The hash of the window that ends at each unit, kept where a line's window ends.
    ends = {start + WINDOW - 1 for start in starts}
    at: dict[int, int] = {}
    value = 0
    for index, unit in enumerate(stream):
        leaving = stream[index - WINDOW] if index >= WINDOW else 0
        value = (value * _BASE + unit - _DROPPED * leaving) & _MASK
        if index in ends:
            at[index] = value
    counts: dict[int, int] = {}
    hashes = []
    for start in starts:
        value = at[start + WINDOW - 1]
        counts[value] = counts.get(value, 0) + 1
        hashes.append(f"{value:x}:{counts[value]}")
    return hashes


def _units(text: str) -> list[int]:
    """UTF-16 code units, as JavaScript's `charCodeAt` sees the text."""
    encoded = text.encode("utf-16-le", "surrogatepass")
    return list(struct.unpack(f"<{len(encoded) // 2}H", encoded))
