"""Docker Hub benchmark: the Hub API requests of `basepin check` on docker.io references.

    .venv/bin/python bench/hub.py [--references 60] [--src PATH]

bench/monorepo.py names its registry by address, so it never asks the Hub API. This one
checks `--references` unique docker.io references (three tags of each of references/3
repositories: a version tag, the same tag pinned to its digest, and `latest`) in one
Dockerfile each, with a real registry (distribution 2.8) standing in for docker.io through
`--registry-mirror` and the local Hub API of tests/fixtures/hub.py at `BASEPIN_HUB_URL`. Every
repository has 150 tags on the Hub, so its list takes two pages. Each check runs as a
subprocess, cold (empty cache) then warm, and the Hub API requests are counted by kind.

`--src` runs another checkout's source (PYTHONPATH), e.g. the code before a change, against
the same set-up: that Hub serves the documented and the older paths alike. `--older-paths`
makes it a Hub that knows only the older paths; `--next-host https://registry.hub.docker.com`
makes its `next` links name another name of the service, as the live Hub has.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))

import httpx  # noqa: E402

from fixtures.hub import HubServer, RecordedRequest, image_entry  # noqa: E402
from fixtures.registry import Registry, add_tag, push_image, running_registry  # noqa: E402

TAGS_PER_REPOSITORY = 150


def kind(request: RecordedRequest) -> str:
    if request.path == "/v2/auth/token":
        return "login"
    family = "documented" if request.path.startswith("/v2/namespaces/") else "older"
    listing = request.path.rstrip("/").endswith("/tags")
    return f"{family} {'tag list page' if listing else 'tag detail'}"


def stage(registry: Registry, hub: HubServer, references: int) -> list[str]:
    """Push the images and show them on the Hub; the reference texts, in file order."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    texts: list[str] = []
    for number in range(max(1, references // 3)):
        repository = f"acme/svc-{number:03d}"
        for minor in range(TAGS_PER_REPOSITORY):
            hub.add_tag(repository, f"1.{minor}", pushed=now - timedelta(days=minor))
        image = push_image(registry, repository, "2.0", platforms=["linux/amd64", "linux/arm64"])
        add_tag(image, "latest")
        entries = [
            image_entry(
                manifest.digest,
                architecture=manifest.platform.split("/")[1],
                last_pushed=now - timedelta(days=120),
            )
            for manifest in image.manifests
        ]
        for tag in ("2.0", "latest"):
            hub.add_tag(repository, tag, digest=image.digest, pushed=now, images=entries, size=0)
        texts += [f"{repository}:2.0", f"{repository}:2.0@{image.digest}", repository]
    return texts[:references]


def check(root: Path, env: dict[str, str], mirror: str) -> tuple[int, dict[str, object], float]:
    command = [sys.executable, "-m", "basepin", "check", "--format", "json"]
    command += ["--registry-mirror", f"docker.io={mirror}", "."]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - start
    try:
        report = json.loads(done.stdout)
    except ValueError:
        sys.stderr.write(done.stderr.decode(errors="replace"))
        raise SystemExit(f"basepin check exited {done.returncode} without a report") from None
    return done.returncode, report, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=60, help="unique references (60)")
    parser.add_argument("--src", type=Path, help="run basepin from this source folder")
    parser.add_argument("--older-paths", action="store_true", help="a Hub without the new paths")
    parser.add_argument("--next-host", help="scheme and host the next links name")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="basepin-hub-bench-") as temporary:
        folder = Path(temporary)
        (folder / "registry").mkdir()
        with (
            running_registry(folder / "registry") as url,
            httpx.Client(base_url=url) as pusher,
            HubServer(
                paths="older" if args.older_paths else "both", next_host=args.next_host
            ) as hub,
        ):
            registry = Registry("plain", httpx.URL(url).netloc.decode(), url, pusher)
            texts = stage(registry, hub, args.references)
            root = folder / "tree"
            for number, text in enumerate(texts):
                (root / f"svc-{number:03d}").mkdir(parents=True)
                (root / f"svc-{number:03d}" / "Dockerfile").write_text(f"FROM {text}\n")
            (folder / "docker-config").mkdir()
            env = {
                key: value
                for key, value in os.environ.items()
                if not key.startswith(("BASEPIN_", "DOCKER", "PYTHONPATH"))
            } | {
                "BASEPIN_HUB_URL": hub.url,
                "BASEPIN_CACHE_DIR": str(folder / "cache"),
                "DOCKER_CONFIG": str(folder / "docker-config"),
            }
            if args.src:
                env["PYTHONPATH"] = str(args.src.resolve())
            print(f"{len(texts)} unique docker.io references over {len(texts) // 3} repositories")
            for run in ("cold", "warm"):
                hub.requests.clear()
                code, report, seconds = check(root, env, url)
                counts = Counter(kind(request) for request in hub.requests)
                incomplete = report["incomplete"]
                assert isinstance(incomplete, list)
                by_kind = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
                print(
                    f"{run}: {sum(counts.values())} Hub API requests ({by_kind or 'none'}),"
                    f" exit {code}, {len(incomplete)} unchecked, {seconds:.2f} s"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
