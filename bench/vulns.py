"""The `vulnerable` rule's cost: `basepin check --vulns` on 20 unique official images.

    .venv/bin/python bench/vulns.py [--runs 5] [--delay 0.03] [--images 20] [--packages 120]

It reuses the test harness in tests/fixtures. What it sets up, all on loopback, each behind
the latency proxy of bench/latency_proxy.py (`--delay` seconds each way, one round trip more
for a new connection):
- Debian's docker-registry (distribution 2.8) standing in for Docker Hub's registry
  (`BASEPIN_HUB_REGISTRY_URL`: its manifest GETs count as pulls), with `--images` images
  `library/<name>:<tag>`, each an OCI index of linux/amd64 and linux/arm64 with BuildKit
  attestation manifests whose SPDX SBOMs (Docker Scout's purl shape) list `--packages`
  Debian 12 packages, most shared between images as official images share their base, and
  every package's files with checksums (SBOMs of a few hundred KB, as Scout writes them);
- the Docker Hub API stand-in (tests/fixtures/hub.py) confirming each tag's digest;
- the OSV API stand-in (tests/fixtures/osv.py) knowing two vulnerabilities for one package
  in five.

A Dockerfile pins each image at its current digest. Rows: `python -m basepin check --vulns
--format json .` with an empty cache (cold: the network is asked) and a filled one (warm),
each the median of `--runs` runs; then `basepin vulns` on the recorded SBOM of the Docker
Official Image ubuntu:24.04 (tests/data/sbom), pushed as that image's attestation. Prints
packages found, OSV queries and requests, Docker Hub pulls and times, then the targets: cold
under 5 s, from the cache under 1 s with no request. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from latency_proxy import LatencyProxy, RequestCounter, registry_kind  # noqa: E402

from fixtures.hub import HubServer, image_entry  # noqa: E402
from fixtures.osv import OsvServer  # noqa: E402
from fixtures.registry import Registry, push_image, running_registry  # noqa: E402
from fixtures.sboms import CRITICAL, SBOM_DATA, record  # noqa: E402


def scout_sbom(subject: str, packages: list[tuple[str, str]], files_each: int) -> bytes:
    """An in-toto SPDX statement as Docker Scout writes one for a Debian 12 image."""
    entries: list[dict[str, object]] = [
        {"name": "sbom", "SPDXID": "SPDXRef-DocumentRoot", "primaryPackagePurpose": "FILE"}
    ]
    files = []
    for n, (name, version) in enumerate(packages):
        purl = f"pkg:deb/debian/{name}@{version}?os_distro=bookworm&os_name=debian&os_version=12"
        entries.append(
            {
                "name": name,
                "SPDXID": f"SPDXRef-Package-{n}",
                "versionInfo": version,
                "supplier": "Person: Debian maintainers",
                "downloadLocation": "NOASSERTION",
                "externalRefs": [
                    {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                     "referenceLocator": purl}
                ],
            }
        )  # fmt: skip
        for f in range(files_each):
            files.append(
                {
                    "fileName": f"/usr/lib/{name}/file{f}",
                    "SPDXID": f"SPDXRef-File-{n}-{f}",
                    "checksums": [
                        {"algorithm": "SHA1", "checksumValue": f"{n:020x}{f:020x}"},
                        {"algorithm": "SHA256", "checksumValue": f"{n:032x}{f:032x}"},
                    ],
                }
            )
    statement = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://spdx.dev/Document",
        "subject": [{"name": "_", "digest": {"sha256": subject.removeprefix("sha256:")}}],
        "predicate": {
            "spdxVersion": "SPDX-2.3",
            "SPDXID": "SPDXRef-DOCUMENT",
            "creationInfo": {"creators": ["Organization: Docker, Inc", "Tool: docker-scout"]},
            "packages": entries,
            "files": files,
        },
    }
    return json.dumps(statement).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.03)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--packages", type=int, default=120)
    args = parser.parse_args()
    counter = RequestCounter()
    proxy = LatencyProxy(args.delay, counter)
    with tempfile.TemporaryDirectory() as temp, running_registry(Path(temp)) as url:
        folder = Path(temp)
        pusher = httpx.Client(base_url=url)
        registry = Registry("plain", httpx.URL(url).netloc.decode(), url, pusher)
        with HubServer() as hub, OsvServer() as osv:
            lines, sizes, packages_total = setup(registry, hub, osv, args)
            registry_port = proxy.listen(httpx.URL(url).port or 80, registry_kind)
            hub_port = proxy.listen(int(hub.url.rsplit(":", 1)[1]), lambda m, p: "hub")
            osv_port = proxy.listen(int(osv.url.rsplit(":", 1)[1]), lambda m, p: "osv")
            tree = folder / "tree"
            tree.mkdir()
            (tree / "Dockerfile").write_text("".join(lines))
            env = {
                **os.environ,
                "PYTHONPATH": str(BENCH.parent / "src"),
                "BASEPIN_HUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}",
                "BASEPIN_HUB_URL": f"http://127.0.0.1:{hub_port}",
                "BASEPIN_OSV_URL": f"http://127.0.0.1:{osv_port}",
                "DOCKER_CONFIG": str(folder / "docker-config"),
            }
            cold, warm, report, requests = measure(tree, env, args.runs, counter, folder)
            queries = sum(
                len(seen.body["queries"]) for seen in osv.requests if seen.path == "/v1/querybatch"
            )
            runs = args.runs
            scan = report["vulnerability_scan"]
            print(f"{args.images} images, {args.packages} packages each "
                  f"({packages_total} package versions in all), SBOMs "
                  f"{min(sizes) / 1e3:.0f}-{max(sizes) / 1e3:.0f} kB, {args.delay * 1e3:.0f} ms "
                  "each way")  # fmt: skip
            print(f"cold (empty cache): {statistics.median(cold):.2f} s (best {min(cold):.2f}); "
                  f"{scan['docker_hub_pulls']} Docker Hub pulls, {scan['osv_requests']} OSV "
                  f"requests, {queries // runs} package queries a run; requests: "
                  f"{dict(requests)}")  # fmt: skip
            print(f"from the cache: {statistics.median(warm):.2f} s (best {min(warm):.2f})")
            found = [use["vulnerabilities"]["total"] for use in report["uses"]]
            print(f"vulnerabilities found per image: {sorted(found)}")
            recorded = real_sbom(registry, hub, osv, env, folder, counter)
        pusher.close()
    proxy.close()
    print(recorded)
    ok = statistics.median(cold) < 5.0 and statistics.median(warm) < 1.0
    print(f"target: cold under 5 s: {statistics.median(cold):.2f} s; from the cache under 1 s: "
          f"{statistics.median(warm):.2f} s -> {'met' if ok else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


def setup(
    registry: Registry, hub: HubServer, osv: OsvServer, args: argparse.Namespace
) -> tuple[list[str], list[int], int]:
    shared = [(f"lib{n}", f"1.{n}-1+deb12u1") for n in range(args.packages * 3 // 4)]
    versions: set[tuple[str, str]] = set()
    lines: list[str] = []
    sizes: list[int] = []
    for image in range(args.images):
        own = [(f"img{image}pkg{n}", f"2.{n}-1") for n in range(args.packages - len(shared))]
        packages = shared + own
        new = [package for package in packages if package not in versions]
        versions.update(packages)
        for name, version in new[::5]:
            for k in range(2):
                osv.add(record(f"DEBIAN-CVE-2026-{len(osv.records)}", "Debian:12", name,
                               cvss=CRITICAL if k else None), version)  # fmt: skip

        def sbom(child: object, packages: list[tuple[str, str]] = packages) -> bytes:
            data = scout_sbom(getattr(child, "digest"), packages, files_each=8)  # noqa: B009
            sizes.append(len(data))
            return data

        name = f"official{image}"
        pushed = push_image(
            registry, f"library/{name}", "1.0", platforms=["linux/amd64", "linux/arm64"],
            attestations=True, sbom=sbom,
        )  # fmt: skip
        hub.add_tag(
            f"library/{name}", "1.0", digest=pushed.digest,
            images=[image_entry(m.digest, architecture=m.platform.split("/")[1])
                    for m in pushed.manifests],
        )  # fmt: skip
        lines.append(f"FROM {name}:1.0@{pushed.digest} AS s{image}\n")
    return lines, sizes, len(versions)


def measure(
    tree: Path, env: dict[str, str], runs: int, counter: RequestCounter, folder: Path
) -> tuple[list[float], list[float], dict[str, Any], Counter[str]]:
    command = [sys.executable, "-m", "basepin", "check", "--vulns", "--format", "json", "."]
    cold: list[float] = []
    warm: list[float] = []
    report: dict[str, Any] = {}
    requests: Counter[str] = Counter()
    for run in range(runs):
        cache = folder / f"cache{run}"
        for times in (cold, warm):
            counter.take()
            start = time.perf_counter()
            done = subprocess.run(
                command, cwd=tree, env={**env, "BASEPIN_CACHE_DIR": str(cache)},
                capture_output=True, check=False,
            )  # fmt: skip
            times.append(time.perf_counter() - start)
            if done.returncode not in (0, 1):
                sys.exit(f"basepin exited {done.returncode}: {done.stderr.decode()[-2000:]}")
            taken = counter.take()
            if times is cold:
                report, requests = json.loads(done.stdout), taken
            elif sum(taken.values()):
                sys.exit(f"a run from the cache sent requests: {dict(taken)}")
    return cold, warm, report, requests


def real_sbom(
    registry: Registry,
    hub: HubServer,
    osv: OsvServer,
    env: dict[str, str],
    folder: Path,
    counter: RequestCounter,
) -> str:
    """`basepin vulns` on the recorded ubuntu:24.04 SBOM, pushed as that image's."""
    data = (SBOM_DATA / "ubuntu-24.04-amd64.intoto.json").read_bytes()
    pushed = push_image(
        registry, "library/ubuntu", "24.04", platforms=["linux/amd64"], attestations=True,
        sbom=lambda _: data,
    )  # fmt: skip
    hub.add_tag("library/ubuntu", "24.04", digest=pushed.digest,
                images=[image_entry(pushed.manifests[0].digest)])  # fmt: skip
    osv.add(record("UBUNTU-CVE-2026-1", "Ubuntu:24.04:LTS", "acl",
                   rating={"top": {"severity": [{"type": "Ubuntu", "score": "low"}]}}),
            "2.3.2-1build1.1")  # fmt: skip
    cache = folder / "ubuntu-cache"
    out = []
    for label in ("cold", "cached"):
        counter.take()
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "basepin", "vulns", "ubuntu:24.04"],
            env={**env, "BASEPIN_CACHE_DIR": str(cache)}, capture_output=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        taken = counter.take()
        last = done.stderr.decode().strip().splitlines()[-1]
        out.append(f"  {label}: {seconds:.2f} s, {last.removeprefix('basepin: ')}, "
                   f"requests {dict(taken)}")  # fmt: skip
        head = done.stdout.decode().splitlines()[0]
    return "recorded ubuntu:24.04 SBOM (1 package, 1 query): " + head + "\n" + "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
