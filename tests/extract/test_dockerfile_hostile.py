"""A 1 MiB Dockerfile of patterns that make a backtracking matcher run for ever is checked
offline, with BuildKit's answers. The timeout is a hang guard only: bench/patterns.py measures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SIZE = 1 << 20
HANG_GUARD = 120  # seconds; the check takes well under one on a loaded machine

# (FROM operand, the reference it names or the reason it cannot be known)
CASES = [
    ("alpine:${V##*a*a*a*a*a*b}", "alpine:3.20"),
    ("alpine:${V#*a*a*a*a*a*b}", "alpine:3.20"),
    ("alpine:${V%%b*a*a*a*a*a*}", "alpine:3.20"),
    ("alpine:${V%b*a*a*a*a*a*}", "alpine:3.20"),
    ("alpine:${V//*a*a*a*a*a*b/}", "alpine:3.20"),
    ("alpine:${V/*a*a*a*a*a*b/}", "alpine:3.20"),
    ("alpine:${V##?*?*?*?*?*b}", "alpine:3.20"),
    ("alpine:${V##" + "*a" * 40 + "*b}", "alpine:3.20"),
    ("alpine:${V##*a?a?a*a?a?b}", "alpine:3.20"),
    ("alpine:${V//a/}", "alpine:3.20bb3.20"),
    ("alpine:${V//*a*a*a*a*a*c/x}", "more than 65536 characters"),
    ("alpine:${V##*a?a?a*a?a?c}", "more than 65536 characters"),
    ("alpine:${V%%*a*a*a*a*a*c}", "more than 65536 characters"),
]


def test_a_file_of_hostile_patterns_is_checked(tmp_path: Path) -> None:
    froms = "".join(f"FROM {operand}\n" for operand, _ in CASES)
    value = "3.20b" + "a" * (SIZE - len(froms) - 20) + "b3.20"
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"ARG V={value}\n{froms}")
    assert abs(dockerfile.stat().st_size - SIZE) < 100

    done = subprocess.run(
        [sys.executable, "-m", "basepin", "check", "--offline", "--format", "json", dockerfile],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    uses = report["uses"]
    unresolved = {f["line"]: f["message"] for f in report["findings"] if f["rule"] == "unresolved"}
    assert len(uses) == len(CASES)
    for line, (use, (operand, expected)) in enumerate(zip(uses, CASES, strict=True), start=2):
        if use["resolved"]:
            assert use["reference"] == expected, operand
        else:
            assert use["reference"] == operand
            assert expected in unresolved[line], operand
