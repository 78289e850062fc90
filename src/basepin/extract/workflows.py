"""The images GitHub Actions runs: workflows and the actions they use.

| kind | where | `stage` |
|---|---|---|
| `workflow-container` | `jobs.<job>.container` (a string, or its `image`) | the job's id |
| `workflow-service` | `jobs.<job>.services.<service>.image` | `<job>/<service>` |
| `workflow-step` | `jobs.<job>.steps[*].uses: docker://<image>` | the job's id |
| `action-image` | `runs.image: docker://<image>` of an action with `runs.using: docker` | none |
| `action-step` | `runs.steps[*].uses: docker://<image>` of a composite action | none |

The span of a `docker://` reference starts after the prefix. A Docker action whose
`runs.image` names a Dockerfile builds it: that file is checked as a Dockerfile, and the
name is no reference. An empty container or service image makes GitHub skip it, so it names
nothing. A `${{ ... }}` expression is evaluated when the workflow runs: a reference holding
one is unresolved, never guessed.
"""

from __future__ import annotations

from basepin.extract.yaml_spans import (
    NOT_PLAIN,
    Mapping,
    Node,
    Scalar,
    Sequence,
    YamlFile,
    get,
    key_line,
    open_yaml,
    pairs,
    scalar_place,
    string,
    text_of,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from basepin.extract.source import FileUses
    from basepin.model import ParsedDockerfile, UseKind

__all__ = ["parse_action", "parse_workflow"]

DOCKER = "docker://"
EXPRESSION = (
    "holds a GitHub Actions expression (${{ ... }}), evaluated when the workflow runs: "
    "never guessed"
)


def parse_workflow(data: bytes | str, path: str) -> ParsedDockerfile:
    """Read one workflow file (`.github/workflows/*.yml`); never raises."""
    uses, read = open_yaml(data, path, ("image", "container", DOCKER))
    if read is None:
        return uses.result()
    for document in read.documents:
        jobs = get(document, "jobs")
        if jobs is None or not isinstance(jobs[1], Mapping):
            continue
        for job_id, job in pairs(jobs[1]):
            if isinstance(job, Mapping):
                _job(uses, read, job_id.value, job)
    return uses.result()


def parse_action(data: bytes | str, path: str) -> ParsedDockerfile:
    """Read one action's metadata (`action.yml`, `action.yaml`); never raises."""
    uses, read = open_yaml(data, path, (DOCKER,))
    if read is None:
        return uses.result()
    for document in read.documents:
        runs = get(document, "runs")
        if runs is None or not isinstance(runs[1], Mapping):
            continue
        using = (text_of(runs[1], "using") or "").lower()
        if using == "docker":
            image = get(runs[1], "image")
            if image is not None:
                _docker(uses, read, "action-image", image[0], image[1], None)
        elif using == "composite":
            _steps(uses, read, "action-step", runs[1], None)
    return uses.result()


def _job(uses: FileUses, read: YamlFile, job_id: str, job: Mapping) -> None:
    container = get(job, "container")
    if container is not None:
        key, node = container
        if isinstance(node, Mapping):
            image = get(node, "image")
            if image is not None:
                _image(uses, read, "workflow-container", image[0], image[1], job_id)
        else:
            _image(uses, read, "workflow-container", key, node, job_id)
    services = get(job, "services")
    if services is not None and isinstance(services[1], Mapping):
        for service_id, service in pairs(services[1]):
            image = get(service, "image")
            if image is not None:
                stage = f"{job_id}/{service_id.value}"
                _image(uses, read, "workflow-service", image[0], image[1], stage)
    _steps(uses, read, "workflow-step", job, job_id)


def _steps(
    uses: FileUses, read: YamlFile, kind: UseKind, owner: Mapping, stage: str | None
) -> None:
    steps = get(owner, "steps")
    if steps is None or not isinstance(steps[1], Sequence):
        return
    for step in steps[1].items:
        action = get(step, "uses")
        if action is not None:
            _docker(uses, read, kind, action[0], action[1], stage)


def _image(
    uses: FileUses, read: YamlFile, kind: UseKind, key: Node, node: Node, stage: str
) -> None:
    """A container or service image: a string; an empty one names nothing."""
    scalar = string(node)
    if scalar is not None and scalar.value:
        _use(uses, read, kind, key, scalar, 0, stage)


def _docker(
    uses: FileUses, read: YamlFile, kind: UseKind, key: Node, node: Node, stage: str | None
) -> None:
    """A `uses:` or `runs.image:` value: an image when it starts with `docker://`."""
    scalar = string(node)
    if scalar is not None and scalar.value.startswith(DOCKER):
        _use(uses, read, kind, key, scalar, len(DOCKER), stage)


def _use(
    uses: FileUses,
    read: YamlFile,
    kind: UseKind,
    key: Node,
    scalar: Scalar,
    skip: int,
    stage: str | None,
) -> None:
    line = key_line(uses, key)
    place, plain = scalar_place(uses, read, scalar, skip)
    reference = scalar.value[skip:]
    if not plain:
        uses.add(kind, reference, place, line, stage=stage, unresolved=NOT_PLAIN)
    elif "${{" in reference:
        uses.add(kind, reference, place, line, stage=stage, unresolved=EXPRESSION)
    else:
        uses.add(kind, reference, place, line, stage=stage)
