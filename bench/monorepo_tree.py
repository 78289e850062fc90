"""The benchmark's images and its monorepo of multi-stage Dockerfiles.

`IMAGES` names 60 repositories, each with five tags over three pushed images, as index (two
platforms, some with attestations) or single manifest, some built long ago. One reference per
repository is used across the monorepo: plain tags (some an older version than the newest),
tags pinned to their current digest, and references built from global ARGs.
"""

from __future__ import annotations

import random
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

NAMES = (
    "python", "node", "golang", "ruby", "rust", "temurin", "alpine", "debian", "ubuntu", "nginx",
    "postgres", "redis", "busybox", "curl", "git", "uv", "syft", "dotnet", "php", "perl",
)  # fmt: skip
# A third under `library/`, as a mirror keeps official images: the `eol` rules know them.
NAMESPACES = ("library", "lang", "tools")


@dataclass(frozen=True)
class ImageSpec:
    """One repository: the tags to push (three images, two more tags sharing them)."""

    repository: str
    major: int
    # "index" (two platforms), "attested" (index with attestations) or "single".
    shape: str
    # How many days before now the images were built.
    age_days: int
    # The tag the monorepo uses, and how it writes it.
    used_tag: str
    style: str  # "tag", "pinned" or "arg"

    @property
    def image_tags(self) -> tuple[str, str, str]:
        return (f"{self.major}.0", f"{self.major}.1", f"{self.major}.2")

    @property
    def shared_tags(self) -> tuple[tuple[str, str], ...]:
        """(extra tag, the image tag it points at)."""
        return (
            (f"{self.major}.1-slim", f"{self.major}.1"),
            (f"{self.major}.2-slim", f"{self.major}.2"),
        )

    @property
    def arg_name(self) -> str:
        return self.repository.replace("/", "_").upper() + "_VERSION"


def image_specs(count: int = 60) -> list[ImageSpec]:
    specs = []
    for number in range(count):
        namespace, name = NAMESPACES[number % 3], NAMES[number % 20]
        major = 1 + number % 7
        # A third of the references lag one minor version behind (outdated).
        minor = 1 if number % 3 == 0 else 2
        slim = number % 2 == 0
        specs.append(
            ImageSpec(
                repository=f"{namespace}/{name}",
                major=major,
                shape=("index", "attested", "single")[number % 3 if number % 4 else 0],
                age_days=400 if number % 5 == 3 else 10,
                used_tag=f"{major}.{minor}" + ("-slim" if slim else ""),
                style=("pinned", "arg", "tag", "tag", "tag")[number % 5],
            )
        )
    return specs


def reference_text(spec: ImageSpec, host: str, digests: Mapping[str, str]) -> str:
    """The reference as BuildKit reads it after ARG expansion."""
    text = f"{host}/{spec.repository}:{spec.used_tag}"
    return f"{text}@{digests[spec.repository]}" if spec.style == "pinned" else text


def _written(spec: ImageSpec, host: str, digests: Mapping[str, str]) -> str:
    """The reference as the Dockerfile writes it."""
    if spec.style == "arg":
        return f"${{REGISTRY}}/{spec.repository}:${{{spec.arg_name}}}"
    return reference_text(spec, host, digests)


def dockerfile(
    number: int, specs: Sequence[ImageSpec], host: str, digests: Mapping[str, str]
) -> str:
    """One multi-stage Dockerfile using three or four of the references."""
    pick = random.Random(number)
    own = specs[number % len(specs)]
    froms = [own, *pick.sample(specs, 1)]
    copied = pick.sample([s for s in specs if s.style != "arg"], pick.choice((1, 2)))
    args = [f"ARG REGISTRY={host}"] + [
        f"ARG {s.arg_name}={s.used_tag}" for s in froms if s.style == "arg"
    ]
    mount = copied[0]
    lines = [
        f"# service {number}: build, then a small runtime image",
        *dict.fromkeys(args),
        "",
        f"FROM {_written(froms[0], host, digests)} AS build",
        "WORKDIR /src",
        "COPY requirements.txt package.json ./",
        "RUN --mount=type=cache,target=/root/.cache \\",
        f"    --mount=from={_written(mount, host, digests)},source=/usr/bin,target=/tools \\",
        "    /tools/setup --prefix /opt/app \\",
        "        --with-tests \\",
        "    && make -j4 install",
        "COPY . .",
        "RUN <<EOF",
        "set -eu",
        "FROM not-an-image",
        "./build.sh --release",
        "EOF",
        "",
        f"FROM {_written(froms[1], host, digests)} AS runtime",
        "# basepin: ignore[old-image]" if number % 17 == 0 else "# runtime user",
        "USER 10001:10001",
        "COPY --from=build /opt/app /opt/app",
        *(
            f"COPY --from={_written(s, host, digests)} /usr/bin/tool /usr/local/bin/tool{i}"
            for i, s in enumerate(copied[1:])
        ),
        'ENV PATH="/opt/app/bin:${PATH}"',
        "EXPOSE 8080",
        'HEALTHCHECK CMD ["/opt/app/bin/health"]',
        'ENTRYPOINT ["/opt/app/bin/serve"]',
        "",
    ]
    return "\n".join(lines)


def write_monorepo(
    root: Path,
    count: int,
    specs: Sequence[ImageSpec],
    host: str,
    digests: Mapping[str, str],
    config: str,
) -> None:
    """`count` Dockerfiles under `root` (a new git work tree) and a `.basepin.toml`."""
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".basepin.toml").write_text(config)
    for number in range(count):
        folder = root / "services" / f"svc-{number:04d}"
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text(dockerfile(number, specs, host, digests))
