"""Start-up benchmark: `basepin check --offline` on one multi-stage Dockerfile against
`python -c pass` on the same machine.

    .venv/bin/python bench/offline.py [--runs 30]

Prints the median and best wall time of each and the ratio of the medians (the aim: <= 3x).

    .venv/bin/python bench/offline.py --tree 2000 [--yaml 300] [--runs 10]

times `basepin check --offline .` on the monorepo of bench/monorepo_tree.py instead: `--tree`
multi-stage Dockerfiles (digests made up: nothing is asked of a registry) and, with `--yaml`,
that many YAML files more (Compose, Kubernetes, Helm templates, YAML that is no manifest, CI);
it prints the wall time and the child's CPU time (steadier on a busy machine).
To compare with another version of basepin, put its `src` first on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from monorepo_tree import image_specs, write_monorepo

DOCKERFILE = """\
# syntax=docker/dockerfile:1.9
ARG PYTHON_VERSION=3.12.4
ARG DEBIAN=bookworm

FROM python:${PYTHON_VERSION}-slim-${DEBIAN} AS build
WORKDIR /src
COPY --from=ghcr.io/astral-sh/uv:0.4.18 /uv /bin/uv
RUN --mount=type=cache,target=/root/.cache \\
    --mount=from=docker.io/library/busybox:1.36.1,source=/bin/busybox,target=/bb \\
    uv pip install --system -r requirements.txt
RUN <<SCRIPT
FROM not-an-image
echo heredoc bodies are data
SCRIPT

FROM node:20.15.0-alpine3.20 AS assets
COPY . /app
RUN npm ci && npm run build

FROM gcr.io/distroless/python3-debian12:nonroot
COPY --from=build /usr/local /usr/local
COPY --from=assets /app/dist /app/static
ENTRYPOINT ["python", "-m", "app"]
"""


# An installed package has its bytecode compiled; let the warm-up runs write it here too.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time(command: list[str], runs: int, cwd: Path | None = None) -> list[float]:
    return [wall for wall, _ in _measure(command, runs, cwd)]


def _measure(command: list[str], runs: int, cwd: Path | None = None) -> list[tuple[float, float]]:
    """Wall time and CPU time (user and system, of the child) of each run."""
    samples = []
    for _ in range(runs):
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            env=ENV,
            cwd=cwd,
        )
        wall = time.perf_counter() - start
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = now.ru_utime - used.ru_utime + now.ru_stime - used.ru_stime
        samples.append((wall, cpu))
    return samples


def _row(label: str, samples: list[float]) -> str:
    median = statistics.median(samples) * 1000
    return f"{label:<40} {median:>7.1f}ms {min(samples) * 1000:>7.1f}ms"


def tree(args: argparse.Namespace) -> int:
    """`basepin check --offline .` on a monorepo of `--tree` Dockerfiles and `--yaml` YAML files."""
    specs = image_specs(60)
    digests = {s.repository: "sha256:" + f"{n:064x}" for n, s in enumerate(specs)}
    command = [sys.executable, "-m", "basepin", "check", "--offline", "--format", "json", "."]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder, "monorepo")
        write_monorepo(root, args.tree, specs, "registry.example:5000", digests, "", yaml=args.yaml)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        check = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        if check.returncode not in (0, 1):
            print(check.stderr, file=sys.stderr)
            return 1
        report = json.loads(check.stdout)
        kinds = Counter(use["kind"] for use in report["uses"])
        _time(command, 2, cwd=root)
        samples = _measure(command, args.runs, cwd=root)
    print(f"{args.tree} Dockerfiles, {args.yaml} YAML files: {len(report['files'])} files read,")
    print("  uses: " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())))
    print(f"{'command':<40} {'median':>9} {'best':>9}")
    print(_row("basepin check --offline . (wall)", [wall for wall, _ in samples]))
    print(_row("basepin check --offline . (CPU)", [cpu for _, cpu in samples]))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--tree", type=int, default=0, help="Dockerfiles in a monorepo to check")
    parser.add_argument("--yaml", type=int, default=0, help="YAML files more in the monorepo")
    args = parser.parse_args()
    if args.tree:
        return tree(args)
    with tempfile.TemporaryDirectory() as folder:
        dockerfile = Path(folder, "Dockerfile")
        dockerfile.write_text(DOCKERFILE)
        baseline_cmd = [sys.executable, "-c", "pass"]
        basepin_cmd = [sys.executable, "-m", "basepin", "check", "--offline", str(dockerfile)]
        script = Path(sys.executable).with_name("basepin")
        script_cmd = [str(script), "check", "--offline", str(dockerfile)]
        check = subprocess.run(basepin_cmd, capture_output=True, text=True, check=False)
        if check.returncode not in (0, 1):
            print(check.stderr, file=sys.stderr)
            return 1
        _time(basepin_cmd, 3)  # warm the file system cache and .pyc files
        baseline = _time(baseline_cmd, args.runs)
        basepin = _time(basepin_cmd, args.runs)
        entry = _time(script_cmd, args.runs) if script.exists() else []
    print(f"{'command':<40} {'median':>9} {'best':>9}")
    print(_row("python -c pass", baseline))
    print(_row("python -m basepin check --offline", basepin))
    ratio = statistics.median(basepin) / statistics.median(baseline)
    print(f"ratio of medians: {ratio:.2f}x (runs: {args.runs})")
    if entry:
        print(_row("basepin check --offline (console script)", entry))
        print(f"ratio of medians: {statistics.median(entry) / statistics.median(baseline):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
