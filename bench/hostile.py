"""What a hostile registry costs a check: wall time against a silent and a trickling registry,
peak memory against a flood, each for `basepin check` in a process of its own.

    .venv/bin/python bench/hostile.py [--timeout 2] [--runs 3]

The registry is tests/fixtures/hostile.py on loopback, serving one image whose tag answers as
each row says:
- silent ping: `/v2/` accepts the request and never answers;
- silent manifest: the manifest request is accepted and never answered;
- trickled manifest: the manifest comes a byte every 0.2 s;
- endless manifest: a manifest that never ends;
- 16 MiB tag page: the tag list is one 16 MiB page (the check still pins; the list is
  reported as not read to its end).
Each row: the median and worst wall time over `--runs` runs, the worst peak RSS of the check
process (as its parent sees it), and its exit code. Prints a table; always exits 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from fixtures.hostile import Answer, HostileRegistry, ServedImage, endless  # noqa: E402

# Measures its one child from a fresh process, so no earlier child's peak counts.
MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True)\n"
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _silent_ping(registry: HostileRegistry, image: ServedImage) -> None:
    registry.answer("GET", "/v2/", Answer(silent=True))


def _silent_manifest(registry: HostileRegistry, image: ServedImage) -> None:
    registry.answer("GET", image.manifest_path, Answer(silent=True))


def _trickled_manifest(registry: HostileRegistry, image: ServedImage) -> None:
    length = {"Content-Length": str(len(image.manifest))}
    registry.answer("GET", image.manifest_path, Answer(200, length, image.manifest, 0.2))


def _endless_manifest(registry: HostileRegistry, image: ServedImage) -> None:
    registry.answer("GET", image.manifest_path, Answer(200, {}, endless()))


def _large_tag_page(registry: HostileRegistry, image: ServedImage) -> None:
    names = [f"{index}.0" for index in range(1_900_000)]
    page = json.dumps({"name": image.repository, "tags": names}).encode()
    assert len(page) >= 16 * 1024 * 1024, len(page)
    registry.answer("GET", f"/v2/{image.repository}/tags/list", Answer(200, {}, page))


CASES: dict[str, Callable[[HostileRegistry, ServedImage], None]] = {
    "silent ping": _silent_ping,
    "silent manifest": _silent_manifest,
    "trickled manifest": _trickled_manifest,
    "endless manifest": _endless_manifest,
    "16 MiB tag page": _large_tag_page,
}


def _run_once(folder: Path, timeout: float) -> tuple[float, int, int]:
    command = [sys.executable, "-m", "basepin", "check", "--no-cache", "--timeout", str(timeout)]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command, str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    took = time.monotonic() - started
    code, peak_kib = done.stdout.split()
    return took, int(code), int(peak_kib)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"basepin check --timeout {args.timeout:g}, {args.runs} runs each")
    print(f"{'case':<20} {'median s':>9} {'worst s':>8} {'peak MiB':>9} {'exit':>5}")
    for name, script in CASES.items():
        registry = HostileRegistry().start()
        try:
            image = registry.serve_image("team/app", "1")
            script(registry, image)
            with tempfile.TemporaryDirectory() as folder:
                (Path(folder) / "Dockerfile").write_text(f"FROM {image.reference}\n")
                runs = [_run_once(Path(folder), args.timeout) for _ in range(args.runs)]
        finally:
            registry.close()
        times = [took for took, _, _ in runs]
        peak = max(peak for _, _, peak in runs) / 1024
        codes = sorted({code for _, code, _ in runs})
        print(
            f"{name:<20} {statistics.median(times):>9.2f} {max(times):>8.2f} {peak:>9.1f} "
            f"{','.join(map(str, codes)):>5}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
