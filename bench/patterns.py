"""Worst-case benchmark of the word expander's pattern operators on hostile input.

    .venv/bin/python bench/patterns.py [--sizes 1024,65536,1048576] [--timeout 10]

Each case expands one word (`${V//*a*a*a*a*a*b/x}`, `${V##...}`, ...) with `V` set to a value
of the given length, in a subprocess of its own, so a case that backtracks for ever is killed
at --timeout (wall clock) and shown as such. Prints the processor time of each case (best of
--repeat; processor time, so that other work on the machine counts less) and the worst per
size. An expansion the lexer rejects (a result over its size cap, say) still counts: the
time is what it took to decide.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

# (name, word, unit, tail): the value is the unit repeated, then the tail, to the size asked.
# Without a tail most results are the whole value, which the lexer refuses past 64 KiB as
# soon as that is certain; the cases with a tail match across the whole value instead.
CASES: list[tuple[str, str, str, str]] = [
    ("replace-all stars", "${V//*a*a*a*a*a*b/x}", "a", ""),
    ("replace-all stars, match", "${V//*a*a*a*a*a*b/x}", "a", "b"),
    ("replace-one stars", "${V/*a*a*a*a*a*b/x}", "a", ""),
    ("longest prefix stars", "${V##*a*a*a*a*a*b}", "a", ""),
    ("longest prefix, match", "${V##*a*a*a*a*a*b}", "a", "b"),
    ("shortest prefix stars", "${V#*a*a*a*a*a*b}", "a", ""),
    ("shortest prefix, match", "${V#*a*a*a*a*a*b}", "a", "b"),
    ("longest suffix stars", "${V%%b*a*a*a*a*a*}", "a", ""),
    ("shortest suffix stars", "${V%b*a*a*a*a*a*}", "a", ""),
    ("40 stars", "${V//" + "*a" * 40 + "*b/x}", "a", ""),
    ("40 stars, match", "${V//" + "*a" * 40 + "*b/x}", "a", "b"),
    ("stars and wildcards", "${V//?*?*?*?*?*b/x}", "a", ""),
    ("stars and wildcards, match", "${V//?*?*?*?*?*b/x}", "a", "b"),
    ("wildcard runs", "${V//*a?a?a*a?a?b/x}", "ab", ""),
    ("wildcard runs, match", "${V//*a?a?a*a?a?b/x}", "ab", "aaaab"),
    ("lines", "${V//*a*a*a*b/x}", "a" * 63 + "\n", ""),
    ("leading star, lines", "${V//*b*c/x}", "b\n", ""),
    ("every char removed", "${V//?/}", "ab", ""),
    ("every char doubled", "${V//?/'$0$0'}", "ab", ""),
    ("matches that succeed", "${V##*a*a*a*a*a*a}", "a", ""),
    ("many-piece wildcard", "${V//" + "a?" * 30 + "b/x}", "a", ""),
    ("many-piece wildcard, match", "${V//*" + "a?" * 30 + "b/}", "a", "b"),
]

RUNNER = """
import sys, time
from basepin.extract.dockerfile.expansion import ExpansionError
from basepin.extract.dockerfile.words import ShellLexer
word, unit, tail = sys.argv[1], sys.argv[2], sys.argv[3]
size, repeat = int(sys.argv[4]), int(sys.argv[5])
value = (unit * (size // len(unit) + 1))[: size - len(tail)] + tail
lexer = ShellLexer("\\\\", lambda name: value)
best = None
for _ in range(repeat):
    start = time.process_time()
    try:
        lexer.expand(word)
        outcome = "ok"
    except ExpansionError as err:
        outcome = "rejected: " + str(err)[:40]
    took = time.process_time() - start
    best = took if best is None else min(best, took)
print(best, outcome)
"""


def _case(
    word: str, unit: str, tail: str, size: int, repeat: int, timeout: float
) -> tuple[float, str]:
    command = [sys.executable, "-c", RUNNER, word, unit, tail, str(size), str(repeat)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, "killed"
    took, _, outcome = done.stdout.strip().partition(" ")
    return float(took), outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1024,65536,1048576")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    for size in sizes:
        worst = 0.0
        print(f"value length {size}")
        for name, word, unit, tail in CASES:
            took, outcome = _case(word, unit, tail, size, args.repeat, args.timeout)
            worst = max(worst, took)
            shown = f">{args.timeout:.0f} s" if outcome == "killed" else f"{took * 1000:9.2f} ms"
            print(f"  {name:<28} {shown:>12}  {outcome}")
        print(f"  {'worst':<28} {worst * 1000:9.2f} ms\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
