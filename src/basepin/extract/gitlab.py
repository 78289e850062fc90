"""The images GitLab CI runs: `image` and `services` of `.gitlab-ci.yml` (and `*.gitlab-ci.yml`).

- `gitlab-image`: `image` (a string, or its `name`) at the top level, in `default:` and in
  each job;
- `gitlab-service`: each entry of `services` (a string, or its `name`) in the same places;

their `stage` the job's name, `default`, or none at the top level.

Hidden jobs (`.name:`, the templates `extends:` reads) are read like jobs. `!reference
[...]` (for `image`, `services` and each service) is followed to the value it names, which
counts as the job's own with the job's variables; its span is where that value is written.
`image.docker.platform` is the use's platform.

Variables: `$NAME` and `${NAME}` take the values of the top-level `variables:` and of the
job's own (which win; `inherit: variables:` is honoured), a value being a string or
`{value: ...}`; values refer to other variables in turn unless `expand: false`. `$$` is a `$`.
Predefined variables (`CI_...`, `GITLAB_...`), variables set in the project's settings and
CI/CD inputs (`$[[ inputs.x ]]`) are not in the file: a reference that needs one is
unresolved, never guessed. A reference that is one variable (`image: $ALPINE`) has its span
where that variable's value is written, `via_arg` naming it; a variable inside a reference
(`python:$PY-alpine`) leaves the span on the text as written, with no fix.
"""

from __future__ import annotations

import re

from basepin.extract.yaml_spans import (
    NOT_PLAIN,
    Mapping,
    Node,
    Scalar,
    Sequence,
    YamlFile,
    duplicates,
    get,
    key_line,
    open_yaml,
    pairs,
    scalar_place,
    string,
    text_of,
)
from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from basepin.extract.source import FileUses, Place
    from basepin.model import ParsedDockerfile, UseKind

__all__ = ["parse_gitlab_ci"]

# Top-level keys that are not jobs.
KEYWORDS = frozenset(
    {
        "after_script",
        "before_script",
        "cache",
        "default",
        "image",
        "include",
        "services",
        "spec",
        "stages",
        "types",
        "variables",
        "workflow",
    }
)
_VARIABLE = re.compile(r"\$(?:\$|([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})")
_MAX_NESTING = 16
MAX_VALUE = 4096  # longer than any image reference


class _Definition(NamedTuple):
    value: Scalar
    expand: bool


class _Expansion(NamedTuple):
    value: str
    unknown: str | None = None
    names: tuple[str, ...] = ()
    whole: str | None = None  # the variable the whole value is, when it is one


def parse_gitlab_ci(data: bytes | str, path: str) -> ParsedDockerfile:
    """Read one GitLab CI file; never raises."""
    uses, read = open_yaml(data, path, ("image", "services"))
    if read is None:
        return uses.result()
    for document in read.documents:
        if not isinstance(document, Mapping):
            continue
        top = _definitions(get(document, "variables"))
        _images(uses, read, document, document, top, None)
        default = get(document, "default")
        if default is not None and isinstance(default[1], Mapping):
            _images(uses, read, document, default[1], top, "default")
        for name, job in pairs(document):
            if name.value not in KEYWORDS and isinstance(job, Mapping):
                scope = {**_inherited(job, top), **_definitions(get(job, "variables"))}
                _images(uses, read, document, job, scope, name.value)
    return uses.result()


def _definitions(entry: tuple[Scalar, Node] | None) -> dict[str, _Definition]:
    if entry is None or not isinstance(entry[1], Mapping):
        return {}
    found = {}
    for name, value in pairs(entry[1]):
        expand = True
        if isinstance(value, Mapping):
            expand = (text_of(value, "expand") or "true").lower() != "false"
            written = get(value, "value")
            value = written[1] if written is not None else value
        if isinstance(value, Scalar):
            found[name.value] = _Definition(value, expand)
    return found


def _inherited(job: Mapping, top: dict[str, _Definition]) -> dict[str, _Definition]:
    """The top-level variables a job inherits (`inherit: variables: false | [names]`)."""
    inherit = get(job, "inherit")
    rule = get(inherit[1], "variables") if inherit is not None else None
    if rule is None:
        return top
    if isinstance(rule[1], Sequence):
        named = {item.value for item in rule[1].items if isinstance(item, Scalar)}
        return {name: value for name, value in top.items() if name in named}
    return {} if isinstance(rule[1], Scalar) and rule[1].value == "false" else top


def _images(
    uses: FileUses,
    read: YamlFile,
    root: Mapping,
    owner: Mapping,
    scope: dict[str, _Definition],
    stage: str | None,
) -> None:
    image = get(owner, "image")
    if image is not None:
        for again in duplicates(owner, "image"):
            uses.problem(again.start, "image is given twice")
        node = _dereference(root, image[1])
        if node is not None:
            key = image[0] if node is image[1] else node
            _entry(uses, read, "gitlab-image", key, node, scope, stage)
    services = get(owner, "services")
    listed = _dereference(root, services[1]) if services is not None else None
    if isinstance(listed, Sequence):
        for item in listed.items:
            service = _dereference(root, item)
            if service is not None:
                _entry(uses, read, "gitlab-service", service, service, scope, stage)


def _dereference(root: Node | None, node: Node) -> Node | None:
    """The node a `!reference [key, key or index, ...]` names (GitLab follows ten in a row),
    or `node` itself; None when it names nothing."""
    for _ in range(10):
        if not (isinstance(node, Sequence) and node.tag == "!reference"):
            return node
        target: Node | None = root
        for step in node.items:
            if not isinstance(step, Scalar):
                return None
            if isinstance(target, Sequence) and step.value.isdigit():
                index = int(step.value)
                target = target.items[index] if index < len(target.items) else None
            else:
                entry = get(target, step.value)
                target = entry[1] if entry is not None else None
        if target is None:
            return None
        node = target
    return None


def _entry(
    uses: FileUses,
    read: YamlFile,
    kind: UseKind,
    key: Node,
    node: Node,
    scope: dict[str, _Definition],
    stage: str | None,
) -> None:
    """An image or service: a string, or a mapping with `name` (and `docker.platform`)."""
    platform = None
    if isinstance(node, Mapping):
        name = get(node, "name")
        docker = get(node, "docker")
        platform = text_of(docker[1], "platform") if docker is not None else None
        if name is None:
            return
        key, node = name
    scalar = string(node)
    if scalar is None or not scalar.value:
        return
    line = key_line(uses, key)
    place, plain = scalar_place(uses, read, scalar)
    if not plain:
        uses.add(kind, scalar.value, place, line, stage=stage, unresolved=NOT_PLAIN)
        return
    if "$[[" in scalar.value:
        why = "holds a CI/CD input ($[[ inputs... ]]), set where the file is included"
        uses.add(kind, scalar.value, place, line, stage=stage, unresolved=why)
        return
    expansion = _expand(scalar.value, scope, 0)
    via = expansion.names[0] if expansion.names else None
    if expansion.unknown is not None:
        uses.add(
            kind,
            scalar.value,
            place,
            line,
            stage=stage,
            unresolved=expansion.unknown,
            via=via,
            platform=platform,
        )
        return
    note = None
    if expansion.whole is not None:
        place, note = _variable_place(uses, read, expansion.whole, scope)
    elif expansion.names:
        names = ", ".join(dict.fromkeys(expansion.names))
        note = f"assembled from variables ({names}) when the job runs: no fix can rewrite it"
    uses.add(kind, expansion.value, place, line, stage=stage, note=note, via=via, platform=platform)


def _variable_place(
    uses: FileUses, read: YamlFile, name: str, scope: dict[str, _Definition]
) -> tuple[Place, str | None]:
    """Where a variable's value is written, and why a fix may not rewrite it, if it may not."""
    definition = scope[name]
    place, plain = scalar_place(uses, read, definition.value)
    if not plain:
        return place, f"variable {name}'s value is written with escapes or across lines: not fixed"
    if definition.expand and _VARIABLE.search(definition.value.value):
        return place, f"variable {name} is built from other variables: not fixed"
    return place, None


def _expand(
    template: str,
    scope: dict[str, _Definition],
    depth: int,
    done: dict[str, _Expansion] | None = None,
) -> _Expansion:
    """`template` with the variables of `scope`; `done` keeps each variable's expansion, so a
    variable used many times is expanded once."""
    if "$" not in template:
        return _Expansion(template)
    if depth > _MAX_NESTING:
        return _Expansion(template, f"variables nested deeper than {_MAX_NESTING} levels")
    done = {} if done is None else done
    pieces: list[str] = []
    length = 0
    names: dict[str, None] = {}  # in the order they are read, each once
    at = 0
    whole = None
    for match in _VARIABLE.finditer(template):
        literal = template[at : match.start()]
        pieces.append(literal)
        length += len(literal)
        at = match.end()
        name = match.group(1) or match.group(2)
        if name is None:
            pieces.append("$")
            length += 1
            continue
        names[name] = None
        definition = scope.get(name)
        if definition is None:
            return _Expansion(template, _missing(name), tuple(names))
        value = definition.value.value
        if definition.expand:
            if name not in done:
                done[name] = _expand(value, scope, depth + 1, done)
            inner = done[name]
            names.update(dict.fromkeys(inner.names))
            if inner.unknown is not None:
                return _Expansion(template, inner.unknown, tuple(names))
            value = inner.value
        pieces.append(value)
        length += len(value)
        if length > MAX_VALUE:
            why = f"its value would be longer than {MAX_VALUE} characters: not an image reference"
            return _Expansion(template, why, tuple(names))
        if match.span() == (0, len(template)):
            whole = name
    pieces.append(template[at:])
    return _Expansion("".join(pieces), None, tuple(names), whole)


def _missing(name: str) -> str:
    return (
        f"variable {name} is not set in this file: GitLab's predefined variables and those of "
        "the project's settings are known only when the pipeline runs"
    )
