"""The images Kubernetes runs: every container of every pod spec in a manifest.

A manifest is any YAML file whose documents are objects with `apiVersion` and `kind`
(`looks_like_kubernetes` is the cheap test for a file's text); every document is read. A pod
spec is any mapping, at any depth of such an object, that holds a `containers` list: the
`spec` of a Pod, `spec.template.spec` of a Deployment, StatefulSet, DaemonSet, ReplicaSet or
Job, `spec.jobTemplate.spec.template.spec` of a CronJob, the same nestings in custom
resources, and the `items` of a List. Each `image` of its `containers`, `initContainers` and
`ephemeralContainers` is one use of kind `kubernetes-container`, its `stage`
`<kind>/<name>/<container>` of the object that holds it.

Kubernetes substitutes no variables in `image`. A Helm chart's templates (any file with a
`{{ ... }}` action where YAML expects a value, or that is not YAML and holds one) are not
YAML until rendered: such a file is skipped with a note saying so, never reported as invalid;
check what `helm template` renders instead. An image that holds `{{` inside a string is
unresolved.
"""

from __future__ import annotations

import re

from basepin.extract.source import open_file
from basepin.extract.yaml_spans import (
    MAX_DEPTH,
    NOT_PLAIN,
    Mapping,
    Node,
    Scalar,
    Sequence,
    YamlFile,
    get,
    key_line,
    scalar_place,
    string,
    text_of,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from basepin.extract.source import FileUses
    from basepin.model import ParsedDockerfile

__all__ = ["looks_like_kubernetes", "parse_kubernetes"]

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
# A template action where YAML expects a node (a line's start, after `- ` or `key: `) makes
# the file a template; one inside a string (`description: "{{ $labels.pod }} is down"`) does
# not, so PrometheusRules and the like are still read.
_TEMPLATE = r"(?:^[ \t]*|^[ \t]*-[ \t]+|[ \t]-[ \t]+|:[ \t]+)\{\{"
TEMPLATE_NOTE = (
    "skipped: a Go template ({{ ... }}, as in a Helm chart) is not YAML until it is rendered; "
    "check the rendered manifests"
)


def looks_like_kubernetes(text: str) -> bool:
    """Whether a YAML text may hold Kubernetes objects: `apiVersion:` and `kind:` keys start
    lines of it."""
    return bool(
        re.search(r"^apiVersion[ \t]*:", text, re.MULTILINE)
        and re.search(r"^kind[ \t]*:", text, re.MULTILINE)
    )


def parse_kubernetes(data: bytes | str, path: str) -> ParsedDockerfile:
    """Read one manifest file, however many documents it holds; never raises."""
    uses, readable = open_file(data, path)
    text = uses.text
    if not readable or "image" not in text:
        return uses.result()
    template = re.search(_TEMPLATE, text, re.MULTILINE)
    if template is not None:
        uses.note(template.end() - 2, TEMPLATE_NOTE)
        return uses.result()
    read = YamlFile(text)
    uses.in_data = read.in_data
    if read.error is not None and "{{" in text:
        uses.note(text.index("{{"), TEMPLATE_NOTE)
        return uses.result()
    if read.error is not None:
        uses.problem(read.error.offset, read.error.message)
    for document in read.documents:
        if isinstance(document, Mapping) and _owner(document) is not None:
            _object(uses, read, document)
    return uses.result()


def _owner(node: Mapping) -> str | None:
    """`<kind>/<name>` of a Kubernetes object, or None when the mapping is not one."""
    kind = text_of(node, "kind")
    if kind is None or get(node, "apiVersion") is None:
        return None
    metadata = get(node, "metadata")
    name = text_of(metadata[1], "name") if metadata is not None else None
    return f"{kind}/{name or ''}"


def _object(uses: FileUses, read: YamlFile, root: Mapping) -> None:
    """Every pod spec under `root`, each node visited once however many aliases name it."""
    seen: set[int] = set()
    todo: list[tuple[Node, int, str]] = [(root, 0, "")]
    while todo:
        node, depth, owner = todo.pop()
        if isinstance(node, Scalar) or id(node) in seen or depth > MAX_DEPTH:
            continue
        seen.add(id(node))
        if isinstance(node, Sequence):
            todo.extend((item, depth + 1, owner) for item in reversed(node.items))
            continue
        owner = _owner(node) or owner
        containers = get(node, "containers")
        if containers is not None and isinstance(containers[1], Sequence):
            _pod_spec(uses, read, node, owner)
        # merged mappings are reached through the `<<` entries' values
        todo.extend((value, depth + 1, owner) for _, value in reversed(node.pairs))


def _pod_spec(uses: FileUses, read: YamlFile, spec: Mapping, owner: str) -> None:
    for list_name in CONTAINER_LISTS:
        listed = get(spec, list_name)
        if listed is None or not isinstance(listed[1], Sequence):
            continue
        for container in listed[1].items:
            image = get(container, "image")
            scalar = string(image[1]) if image is not None else None
            if image is None or scalar is None or not scalar.value:
                continue
            stage = f"{owner}/{text_of(container, 'name') or ''}"
            line = key_line(uses, image[0])
            place, plain = scalar_place(uses, read, scalar)
            why = None if plain else NOT_PLAIN
            if plain and "{{" in scalar.value:
                why = "holds a template action ({{ ... }}), filled in when rendered: never guessed"
            uses.add("kubernetes-container", scalar.value, place, line, stage=stage, unresolved=why)
