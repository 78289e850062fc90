"""Monorepo benchmark: `basepin check` on 200 (and 2,000) multi-stage Dockerfiles against a
real registry 30 ms away, next to the floor any online checker has to pay.

    .venv/bin/python bench/monorepo.py [--runs 5] [--delay 0.03] [--files 200] [--large 2000]
        [--references 60] [--yaml 0]

It needs Debian's docker-registry (/usr/bin/docker-registry, distribution 2.8) and git, and
reuses the test harness in tests/fixtures. What it sets up, all on loopback:
- the registry with token auth from the test token server, both behind a TCP proxy
  (latency_proxy.py) that adds `--delay` seconds each way, and one round trip more before a
  new connection's first bytes, and counts the HTTP requests by kind; the registry's token
  realm points at the proxy's port for the token server;
- 60 repositories with five tags each over three images (OCI indexes, Docker manifest lists,
  single manifests, some with attestations, some built 400 days ago);
- git work trees of multi-stage Dockerfiles using 60 unique references (plain tags, tags
  pinned to their current digest, references built from global ARGs; no `latest`), with a
  `.basepin.toml` that lists the registry as insecure (it is plain HTTP: basepin would try TLS
  first on a loopback host) and, for the second configuration, turns `old-image`, `outdated`,
  `platforms`, `eol` and `eol-soon` off;
- endoflife.date served locally (tests/fixtures/eol.py, the tests' recorded answers), its
  requests counted per check apart from the registry's (a third of the repositories sit under
  `library/`, where the `eol` rules know their products);
- with `--yaml N`, N YAML files more in each tree naming the same references (Compose files
  and their `.env`, Kubernetes manifests, Helm templates, YAML that is no manifest, CI files;
  see monorepo_tree.py).

Each row is the median of `--runs` runs (half as many for the large tree) of `python -m basepin
check --format json .` as a subprocess, with BASEPIN_CACHE_DIR fresh for every cold run and
filled for the warm ones, BASEPIN_HUB_URL at a closed port and DOCKER_CONFIG empty. Columns:
wall time (median, best), the child's CPU time, its peak RSS (from /usr/bin/time where there
is one), HTTP requests per unique reference at the proxy, the requests by kind (token, /v2/
ping, HEAD manifest, GET manifest, GET blob, tags/list) and the TCP connections opened.

The floor is `python -c pass` plus what bench/floor_client.py (httpx, through the same proxy)
takes from building its client to its last answer: one batched token request with a realm
known in advance, then one HEAD per reference, all at once. The whole floor client process,
imports included, is a row of its own; the cold checks are printed as multiples of both.

Prints the table, then each target with what this run measured and whether it holds (cold
within 1.2x the floor, one manifest request a reference (a GET: the digest basepin writes is
the hash of its bytes), one token request, warm under 0.3 s with no request, peak memory from
the small tree to the large one within 10%). Exits 0; exits 1 when a check fails or leaves
references unchecked.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from latency_proxy import KINDS, LatencyProxy, RequestCounter, registry_kind, token_kind  # noqa: E402
from monorepo_tree import ImageSpec, image_specs, reference_text, write_monorepo  # noqa: E402

from fixtures.eol import EolServer  # noqa: E402
from fixtures.registry import (  # noqa: E402
    Registry,
    _PushAuth,
    add_tag,
    push_image,
    running_registry,
)
from fixtures.tokenserver import SigningKey, TokenPolicy, TokenServer  # noqa: E402

SERVICE = "basepin-bench-registry"
ISSUER = "basepin-bench-issuer"
PUSHER = "pusher"
RULES_OFF = (
    '[severity]\nold-image = "off"\noutdated = "off"\nplatforms = "off"\n'
    'eol = "off"\n"eol-soon" = "off"\n'
)
# GNU time reports a child's own peak RSS (see run_measured).
TIME = ["/usr/bin/time"] if Path("/usr/bin/time").is_file() else []
SHOWN_KINDS = ("token", "ping", "HEAD manifest", "GET manifest", "GET blob", "tags/list")


@dataclass(frozen=True)
class Sample:
    seconds: float
    cpu_seconds: float
    max_rss_kib: int
    requests: Counter[str]


@dataclass(frozen=True)
class Row:
    label: str
    samples: list[Sample]
    references: int

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def rss_mib(self) -> float:
        return statistics.median(s.max_rss_kib for s in self.samples) / 1024

    def most(self, kind: str) -> int:
        """The most requests of `kind` any of the runs made."""
        return max(s.requests[kind] for s in self.samples)

    def requests(self) -> int:
        return max(
            sum(v for k, v in s.requests.items() if k != "connections") for s in self.samples
        )

    def render(self) -> str:
        best = min(s.seconds for s in self.samples)
        cpu = statistics.median(s.cpu_seconds for s in self.samples)
        rss = statistics.median(s.max_rss_kib for s in self.samples) / 1024
        counts = {k: statistics.median(s.requests[k] for s in self.samples) for k in KINDS}
        total = sum(counts[k] for k in KINDS if k != "connections")
        per_ref = f"{total / self.references:6.2f}" if self.references else "     -"
        kinds = " ".join(f"{counts[k]:>5g}" for k in SHOWN_KINDS)
        return (
            f"{self.label:<34} {self.median:>7.3f} {best:>7.3f} {cpu:>7.3f} {rss:>7.1f} {per_ref} "
            f"{kinds} {counts['connections']:>5g}"
        )


HEADER = (
    f"{'run':<34} {'median':>7} {'best':>7} {'CPU':>7} {'RSS MiB':>7} {'req/ref':>6} "
    + " ".join(f"{label:>5}" for label in ("token", "ping", "HEAD", "GETm", "blob", "tags"))
    + f" {'conns':>5}"
)


# -- the registry, its images and the proxy ------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """The running set-up: where basepin sees the registry, and what it holds."""

    host: str  # the proxy's host:port, as references name the registry
    realm: str  # the token realm behind the proxy
    digests: Mapping[str, str]  # repository -> digest of the tag the monorepo uses
    counter: RequestCounter


@contextmanager
def stage(delay: float, folder: Path, specs: Sequence[ImageSpec]) -> Iterator[Stage]:
    counter = RequestCounter()
    proxy = LatencyProxy(delay, counter)
    password = os.urandom(16).hex()
    policy = TokenPolicy(ISSUER, SERVICE, "private", {PUSHER: password}, PUSHER)
    server = TokenServer(policy, SigningKey.generate())
    try:
        realm = f"http://127.0.0.1:{proxy.listen(server.port, token_kind)}/token"
        auth = {
            "token": {
                "realm": realm,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(server.write_bundle(folder / "token-ca.pem")),
            }
        }
        with running_registry(folder, auth=auth) as url:
            push_auth = _PushAuth(PUSHER, password, server.realm, SERVICE)
            with httpx.Client(base_url=url, auth=push_auth) as pusher:
                registry = Registry("token", httpx.URL(url).netloc.decode(), url, pusher)
                digests = push_images(registry, specs)
            port = proxy.listen(httpx.URL(url).port or 80, registry_kind)
            counter.take()
            yield Stage(f"127.0.0.1:{port}", realm, digests, counter)
    finally:
        proxy.close()
        server.close()


def push_images(registry: Registry, specs: Sequence[ImageSpec]) -> dict[str, str]:
    """Push every repository's images; the digest of each used tag."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    digests: dict[str, str] = {}
    for spec in specs:
        pushed = {}
        for age, tag in enumerate(reversed(spec.image_tags)):
            created = now - timedelta(days=spec.age_days + 30 * age)
            if spec.shape == "single":
                image = push_image(registry, spec.repository, tag, created=created)
            else:
                image = push_image(
                    registry,
                    spec.repository,
                    tag,
                    platforms=["linux/amd64", "linux/arm64/v8"],
                    image_format="oci" if spec.shape == "attested" else "docker",
                    attestations=spec.shape == "attested",
                    created=created,
                )
            pushed[tag] = image
        for extra, target in spec.shared_tags:
            pushed[extra] = add_tag(pushed[target], extra)
        digests[spec.repository] = pushed[spec.used_tag].digest
    return digests


# -- running basepin ----------------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def run_measured(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], counter: RequestCounter
) -> tuple[Sample, int, bytes, bytes]:
    """Run `command`; its wall time, peak RSS, requests, exit code, stdout and stderr.

    The peak RSS comes from /usr/bin/time where there is one: a child of this (large) process
    reports at least this process's RSS as its own, as Linux keeps the peak across exec.
    """
    with tempfile.TemporaryDirectory() as folder:
        peak_file = Path(folder, "peak")
        wrapped = [*TIME, "-f", "%M", "-o", str(peak_file), *command] if TIME else command
        with Path(folder, "out").open("w+b") as out, Path(folder, "err").open("w+b") as err:
            counter.take()
            start = time.perf_counter()
            process = subprocess.Popen(wrapped, cwd=cwd, env=dict(env), stdout=out, stderr=err)
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - start
            process.returncode = code = os.waitstatus_to_exitcode(status)
            requests = counter.take()
            out.seek(0)
            err.seek(0)
            output, errors = out.read(), err.read()
        peak = int(peak_file.read_text().split()[-1]) if TIME else usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime
    return Sample(seconds, cpu, peak, requests), code, output, errors


class Bench:
    def __init__(self, stage: Stage, folder: Path, runs: int, yaml: int = 0) -> None:
        self.yaml = yaml
        self.stage = stage
        self.folder = folder
        self.runs = runs
        empty_docker_config = folder / "docker-config"
        empty_docker_config.mkdir()
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("BASEPIN_", "DOCKER", "SSL_CERT"))
        } | {
            "BASEPIN_HUB_URL": f"http://127.0.0.1:{closed_port()}",
            "DOCKER_CONFIG": str(empty_docker_config),
        }
        # endoflife.date, served locally from the tests' recorded answers; its requests are
        # counted apart from the registry's.
        self.eol = EolServer().start()
        self.env["BASEPIN_EOL_URL"] = self.eol.url
        self.eol_requests: dict[str, list[int]] = {}
        self._caches = 0

    def monorepo(self, name: str, count: int, config: str, specs: Sequence[ImageSpec]) -> Path:
        root = self.folder / name
        # The registry is plain HTTP on loopback: say so, or basepin tries TLS first.
        insecure = f'insecure-registries = ["{self.stage.host}"]\n'
        write_monorepo(
            root,
            count,
            specs,
            self.stage.host,
            self.stage.digests,
            insecure + config,
            yaml=self.yaml,
        )
        return root

    def new_cache(self) -> Path:
        self._caches += 1
        return self.folder / f"cache-{self._caches}"

    def check(self, root: Path, cache: Path, *, offline: bool = False) -> Sample:
        command = [sys.executable, "-m", "basepin", "check", "--format", "json", "."]
        command += ["--offline"] if offline else []
        env = dict(self.env, BASEPIN_CACHE_DIR=str(cache))
        sample, code, out, err = run_measured(command, root, env, self.stage.counter)
        try:
            report = json.loads(out)
        except ValueError:
            report = None
        if code not in (0, 1) or report is None or report["incomplete"]:
            sys.stderr.write(err.decode(errors="replace"))
            problems = report["incomplete"] if report else []
            raise SystemExit(f"basepin check in {root} exited {code}; incomplete: {problems}")
        return sample

    def eol_counted(self, label: str, root: Path, cache: Path) -> Sample:
        before = len(self.eol.requests)
        sample = self.check(root, cache)
        self.eol_requests.setdefault(label, []).append(len(self.eol.requests) - before)
        return sample

    def rows(self, label: str, root: Path, references: int, runs: int) -> list[Row]:
        caches = [self.new_cache() for _ in range(runs)]
        cold = [self.eol_counted(f"{label}: cold", root, cache) for cache in caches]
        warm = [self.eol_counted(f"{label}: warm", root, caches[0]) for _ in range(runs)]
        offline = [self.check(root, caches[0], offline=True) for _ in range(runs)]
        return [
            Row(f"{label}: cold", cold, references),
            Row(f"{label}: warm", warm, references),
            Row(f"{label}: offline", offline, references),
        ]

    def floor(self, references: Sequence[str]) -> tuple[Row, Row, float]:
        """`python -c pass`, the floor client, and the floor in seconds: `python -c pass`
        plus the client's time from its token request to its last answer."""
        python_pass = [sys.executable, "-c", "pass"]
        passes = [
            run_measured(python_pass, self.folder, self.env, self.stage.counter)[0]
            for _ in range(self.runs * 2)
        ]
        base_url = f"http://{self.stage.host}"
        targets = [text.partition("/")[2].partition("@")[0] for text in references]
        command = [sys.executable, str(BENCH / "floor_client.py"), self.stage.realm, SERVICE,
                   base_url, *targets]  # fmt: skip
        samples, network = [], []
        for _ in range(self.runs):
            sample, code, out, err = run_measured(
                command, self.folder, self.env, self.stage.counter
            )
            if code != 0:
                raise SystemExit(f"floor client failed: {err.decode(errors='replace')}")
            samples.append(sample)
            network.append(float(out))
        python = Row("python -c pass", passes, 0)
        client = Row("floor client (httpx, whole process)", samples, len(references))
        return python, client, python.median + statistics.median(network)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (5)")
    parser.add_argument("--delay", type=float, default=0.03, help="one-way latency (0.03 s)")
    parser.add_argument("--files", type=int, default=200, help="Dockerfiles in the tree (200)")
    parser.add_argument("--large", type=int, default=2000, help="in the large tree (0: none)")
    parser.add_argument("--references", type=int, default=60, help="unique references (60)")
    parser.add_argument(
        "--yaml", type=int, default=0, help="YAML files more in each tree, same references (0)"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="basepin-bench-") as temporary:
        folder = Path(temporary)
        specs = image_specs(args.references)
        with stage(args.delay, folder, specs) as running:
            bench = Bench(running, folder, args.runs, args.yaml)
            references = [reference_text(s, running.host, running.digests) for s in specs]
            python, client, floor = bench.floor(references)
            rows = [python, client]
            cold: dict[str, float] = {}
            for name, config in (("default", ""), ("rules off", RULES_OFF)):
                slug = name.replace(" ", "-")
                sizes = ((args.files, args.runs), (args.large, max(1, args.runs // 2)))
                for count, runs in (size for size in sizes if size[0] > 0):
                    root = bench.monorepo(f"{slug}-{count}", count, config, specs)
                    found = bench.rows(f"{name}, {count} files", root, len(references), runs)
                    rows += found
                    if count == args.files:
                        cold[name] = found[0].median
    bench.eol.close()
    print(f"one-way delay {args.delay * 1000:g} ms; {len(references)} unique references; "
          f"medians of {args.runs} runs ({max(1, args.runs // 2)} for {args.large} files); "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")  # fmt: skip
    print(HEADER)
    for row in rows:
        print(row.render())
    print(f"floor = python -c pass + the client's token request and HEADs: {floor:.3f} s")
    products = sorted({p for spec in specs for p in _products(spec)})
    print(f"endoflife.date: {len(products)} distinct products ({', '.join(products)})")
    for label, counts in bench.eol_requests.items():
        print(f"endoflife.date requests per check, {label}: {counts}")
    for name, seconds in cold.items():
        print(
            f"cold check, {name}, {args.files} files: {seconds:.3f} s = "
            f"{seconds / floor:.2f}x the floor, "
            f"{seconds / client.median:.2f}x the whole floor client"
        )
    print()
    for line in targets(rows, floor, args.files, args.large, len(references)):
        print(line)
    return 0


def _products(spec: ImageSpec) -> set[str]:
    from basepin.products import products_of
    from basepin.reference import parse_reference

    return {v.product for v in products_of(parse_reference(f"x.io/{spec.repository}:1"))}


def targets(rows: Sequence[Row], floor: float, files: int, large: int, refs: int) -> list[str]:
    """The benchmark's targets, each with what this run measured and whether it holds."""
    by_label = {row.label: row for row in rows}

    def row(config: str, count: int, kind: str) -> Row | None:
        return by_label.get(f"{config}, {count} files: {kind}")

    lines = ["targets:"]

    def target(holds: bool, text: str) -> None:
        lines.append(f"  [{'met' if holds else 'MISSED'}] {text}")

    cold_off = row("rules off", files, "cold")
    if cold_off is not None:
        ratio = cold_off.median / floor
        target(ratio <= 1.2, f"cold check within 1.2x the floor (rules off): {ratio:.2f}x")
        # A GET, not a HEAD: the digest written is the hash of the manifest's bytes.
        reads = cold_off.most("HEAD manifest") + cold_off.most("GET manifest")
        target(
            reads == refs,
            f"one manifest request per unique reference cold (rules off): {reads}/{refs}",
        )
    for config in ("default", "rules off"):
        cold, warm = row(config, files, "cold"), row(config, files, "warm")
        if cold is not None:
            tokens = cold.most("token")
            target(tokens <= 1, f"one token request per registry ({config}): {tokens}")
        if warm is not None:
            target(warm.median < 0.3, f"warm check under 0.3 s ({config}): {warm.median:.3f} s")
            target(warm.requests() == 0, f"no request warm ({config}): {warm.requests()}")
    if large:
        for config in ("default", "rules off"):
            for kind in ("cold", "warm", "offline"):
                small, big = row(config, files, kind), row(config, large, kind)
                if small is None or big is None:
                    continue
                growth = big.rss_mib / small.rss_mib
                target(
                    growth <= 1.1,
                    f"memory flat from {files} to {large} files within 10% ({config}, {kind}): "
                    f"{small.rss_mib:.1f} -> {big.rss_mib:.1f} MiB ({growth:.2f}x)",
                )
    lines.append(
        "  (offline start-up of one Dockerfile: bench/offline.py, target 3x python -c pass)"
    )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
