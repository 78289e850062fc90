"""The benchmark's images and its monorepo of multi-stage Dockerfiles (and YAML files).

`IMAGES` names 60 repositories, each with five tags over three pushed images, as index (two
platforms, some with attestations) or single manifest, some built long ago. One reference per
repository is used across the monorepo: plain tags (some an older version than the newest),
tags pinned to their current digest, and references built from global ARGs.

With `yaml=N`, N YAML files more, spread over the services as a monorepo has them: Compose
files (one service built, one or two run; some take their image from `.env`), Kubernetes
Deployments and CronJobs, Helm templates, YAML that is no manifest (application settings, an
OpenAPI document, a Chart.yaml), and at the top a GitLab CI file and GitHub workflows. They
name the same references as the Dockerfiles.
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
    *,
    yaml: int = 0,
) -> None:
    """`count` Dockerfiles under `root` (a new git work tree) and a `.basepin.toml`; with
    `yaml`, that many YAML files more (see `yaml_file`; the top-level ones count too)."""
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".basepin.toml").write_text(config)
    written: dict[str, str] = {}
    if yaml:
        written.update(top_level_yaml(specs, host, digests))
    for number in range(count):
        folder = f"services/svc-{number:04d}"
        written[f"{folder}/Dockerfile"] = dockerfile(number, specs, host, digests)
        if number < yaml - 4:
            for name, text in yaml_file(number, specs, host, digests).items():
                written[f"{folder}/{name}"] = text
    for name, text in written.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# What each YAML file of a service is, in turn (see `yaml_file`).
YAML_SHAPES = (
    "compose",
    "deployment",
    "settings",
    "cronjob",
    "openapi",
    "helm",
    "compose-env",
    "chart",
)


def yaml_file(
    number: int, specs: Sequence[ImageSpec], host: str, digests: Mapping[str, str]
) -> dict[str, str]:
    """The YAML file (and `.env`) of the service `number`: path under its folder -> text."""
    pick = random.Random(-1 - number)
    plain = [s for s in specs if s.style != "arg"]
    one, two = (reference_text(s, host, digests) for s in pick.sample(plain, 2))
    shape = YAML_SHAPES[number % len(YAML_SHAPES)]
    if shape == "compose":
        return {"compose.yaml": _compose(number, f"image: {one}", two)}
    if shape == "compose-env":
        return {
            "compose.yaml": _compose(number, "image: ${CACHE_IMAGE}", two),
            ".env": f"# images of service {number}\nCACHE_IMAGE={one}\nLOG_LEVEL=info\n",
        }
    if shape == "deployment":
        return {"deploy/deployment.yaml": _deployment(number, one, two)}
    if shape == "cronjob":
        return {"deploy/cronjob.yaml": _cronjob(number, one)}
    if shape == "helm":
        return {"chart/templates/deployment.yaml": _helm(number)}
    if shape == "chart":
        return {"chart/Chart.yaml": _chart(number)}
    if shape == "openapi":
        return {"api/openapi.yaml": _openapi(number)}
    return {"config/settings.yaml": _settings(number)}


def _compose(number: int, cache: str, database: str) -> str:
    return f"""\
# service {number}, for local development
name: svc-{number:04d}
services:
  app:
    build:
      context: .
      dockerfile: Dockerfile
    image: acme/svc-{number:04d}:dev
    ports: ["8080:8080"]
    environment:
      DATABASE_URL: postgres://app:app@db:5432/app
      CACHE_URL: redis://cache:6379/0
    depends_on: [db, cache]
  db:
    image: "{database}"
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: app
    volumes:
      - db-data:/var/lib/postgresql/data
  cache:
    {cache}
    command: ["--appendonly", "yes"]
volumes:
  db-data: {{}}
"""


def _deployment(number: int, image: str, init: str) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{number:04d}
  labels: {{app: svc-{number:04d}, tier: backend}}
spec:
  replicas: 3
  selector:
    matchLabels: {{app: svc-{number:04d}}}
  template:
    metadata:
      labels: {{app: svc-{number:04d}}}
    spec:
      initContainers:
        - name: migrate
          image: {init}
          args: ["migrate", "--wait"]
      containers:
        - name: app
          image: {image}
          ports: [{{containerPort: 8080}}]
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 256Mi}}
          readinessProbe:
            httpGet: {{path: /health, port: 8080}}
---
apiVersion: v1
kind: Service
metadata:
  name: svc-{number:04d}
spec:
  selector: {{app: svc-{number:04d}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""


def _cronjob(number: int, image: str) -> str:
    return f"""\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: svc-{number:04d}-cleanup
spec:
  schedule: "17 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: cleanup
              image: '{image}'
              args: [cleanup, --older-than, 30d]
"""


def _helm(number: int) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{{{ include "svc.fullname" . }}}}
  labels:
    {{{{- include "svc.labels" . | nindent 4 }}}}
spec:
  replicas: {{{{ .Values.replicaCount }}}}
  template:
    spec:
      containers:
        - name: svc-{number:04d}
          image: "{{{{ .Values.image.repository }}}}:{{{{ .Values.image.tag }}}}"
"""


def _chart(number: int) -> str:
    return f"""\
apiVersion: v2
name: svc-{number:04d}
description: A Helm chart for service {number}
type: application
version: 0.1.{number}
appVersion: "1.{number}.0"
"""


def _settings(number: int) -> str:
    lines = [f"# settings of service {number}", "server:", "  port: 8080", "  workers: 4"]
    for section in ("database", "cache", "queue", "metrics", "tracing"):
        lines += [f"{section}:", "  enabled: true", f"  url: {section}://localhost/{number}"]
        lines += ["  timeout: 5s", "  retries: 3", f"  image: not-a-reference-{section}"]
    return "\n".join(lines) + "\n"


def _openapi(number: int) -> str:
    lines = ["openapi: 3.1.0", "info:", f"  title: service {number}", "  version: 1.0.0", "paths:"]
    for resource in ("users", "orders", "items", "invoices", "payments", "reports"):
        lines += [
            f"  /{resource}:",
            "    get:",
            f"      summary: list {resource}",
            "      responses:",
            "        '200':",
            "          description: ok",
            "          content:",
            "            application/json:",
            "              schema:",
            "                type: array",
            f"                items: {{$ref: '#/components/schemas/{resource}'}}",
        ]
    return "\n".join(lines) + "\n"


def top_level_yaml(
    specs: Sequence[ImageSpec], host: str, digests: Mapping[str, str]
) -> dict[str, str]:
    """The repository's own CI: a GitLab CI file and two GitHub workflows."""
    refs = [reference_text(s, host, digests) for s in specs if s.style != "arg"]
    jobs = "\n".join(
        f"test-{i}:\n  stage: test\n  image: {refs[i % len(refs)]}\n  script: [make test-{i}]\n"
        for i in range(12)
    )
    gitlab = f"variables:\n  DB: {refs[0]}\nservices:\n  - $DB\n\n{jobs}"
    workflow = f"""\
name: ci
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-24.04
    container: {refs[1]}
    services:
      db:
        image: {refs[2]}
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1
      - uses: docker://{refs[3]}
        with: {{args: lint}}
"""
    return {
        ".gitlab-ci.yml": gitlab,
        ".github/workflows/ci.yml": workflow,
        ".github/workflows/release.yaml": workflow.replace("name: ci", "name: release"),
        ".github/dependabot.yml": "version: 2\nupdates:\n  - package-ecosystem: docker\n"
        '    directory: "/"\n    schedule: {interval: weekly}\n',
    }
