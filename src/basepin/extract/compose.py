"""The images a Compose file runs: `services.<name>.image`.

`compose.yaml`, `compose.yml`, `docker-compose.yaml`, `docker-compose.yml` and their
`*.override.*` and `compose.<name>.yaml` variants. Each service's `image` is one use of kind
`compose-image`, its `stage` the service's name, its `platform` the service's `platform`.
Services merged in with `<<:` name the image where the merged mapping writes it.

A service with a `build:` section is skipped: Compose builds it and gives the built image the
name in `image` (it may look for that name in a registry first, but it is the project's own
image, not a base to pin); its Dockerfile is checked as a Dockerfile.

Values are interpolated as Compose does (`basepin.extract.compose_env`), with the variables of
the `.env` file next to the Compose file, or of a mapping; the process environment is never
read, so a variable neither sets is unknown and its reference unresolved. Where the text of
a reference stands (its span), and whether a fix may rewrite it:

- `image: nginx:1.27`: the text itself; fixable.
- `image: ${IMG}` with `IMG=nginx:1.27` in `.env`: the value in `.env`, `via_arg` IMG; fixable.
  The use's `path` is then the `.env` file (the file its span is in) and its
  `instruction_line` the line of `image:` in the Compose file, where an inline ignore goes.
- `image: ${IMG:-nginx:1.27}` with IMG not set: the default's text, `via_arg` IMG; fixable.
- `image: ${IMG}` with IMG from a mapping: the text as written, `via_arg` IMG; not fixable
  (no file holds the value).
- `image: nginx:${TAG:-1.27}`: the text as written, `via_arg` TAG; not fixable: the reference
  is assembled from variables when Compose runs (`unresolved_reason` says so).
"""

from __future__ import annotations

from basepin.extract.compose_env import (
    DotEnv,
    EnvFile,
    Value,
    interpolate,
    mapping_lookup,
    read_env,
)
from basepin.extract.source import FileUses, Place
from basepin.extract.yaml_spans import (
    NOT_PLAIN,
    Mapping,
    Node,
    Scalar,
    YamlFile,
    duplicates,
    get,
    key_line,
    open_yaml,
    pairs,
    scalar_place,
    string,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping as MappingOf

    from basepin.model import ParsedDockerfile

__all__ = ["EnvFile", "parse_compose"]


def parse_compose(
    data: bytes | str, path: str, env: EnvFile | MappingOf[str, str] | None = None
) -> ParsedDockerfile:
    """Read one Compose file; never raises. `env` is its `.env` file or a mapping of variables."""
    uses, read = open_yaml(data, path, ("image",))
    if read is None:
        return uses.result()
    variables = _Variables(uses, env)
    for document in read.documents:
        services = get(document, "services")
        if services is None or not isinstance(services[1], Mapping):
            continue
        for name, service in pairs(services[1]):
            if isinstance(service, Mapping):
                _service(uses, read, variables, name.value, service)
    return uses.result()


class _Variables:
    """The variables interpolation may read, and where their values are written."""

    def __init__(self, uses: FileUses, env: EnvFile | MappingOf[str, str] | None) -> None:
        self.dotenv: DotEnv | None = None
        self.lookup: Callable[[str], Value]
        if isinstance(env, EnvFile):
            dotenv = read_env(env)
            if dotenv.error is not None:
                offset, message = dotenv.error
                uses.problem_in(env.path, dotenv.lines, offset, f"not a valid .env file: {message}")
            self.dotenv = dotenv
            self.env_text = env.text
            entries = dotenv.entries
            self.lookup = lambda name: entries[name].value if name in entries else Value(None)
        else:
            self.lookup = mapping_lookup(env or {})

    def place(self, name: str) -> tuple[Place, bool] | None:
        """Where `.env` writes the variable's value, and whether that text is the value."""
        if self.dotenv is None or name not in self.dotenv.entries:
            return None
        entry = self.dotenv.entries[name]
        span = self.dotenv.lines.span(entry.start, entry.end)
        return Place(self.dotenv.path, span, self.env_text[entry.start : entry.end]), entry.verbatim


def _service(
    uses: FileUses, read: YamlFile, variables: _Variables, name: str, service: Mapping
) -> None:
    build = get(service, "build")
    entry = get(service, "image")
    if entry is None or (build is not None and not _is_null(build[1])):
        return
    key, node = entry
    for again in duplicates(service, "image"):
        uses.problem(again.start, f"service {name}: image is given twice")
    scalar = string(node)
    if scalar is None:
        if not isinstance(node, Scalar):
            uses.problem(node.start, f"service {name}: image must be a string")
        return
    line = key_line(uses, key)
    place, plain = scalar_place(uses, read, scalar)
    platform = _platform(service, variables)
    if not plain:
        uses.add("compose-image", scalar.value, place, line, stage=name, unresolved=NOT_PLAIN)
        return
    expansion = interpolate(scalar.value, variables.lookup)
    via = expansion.names[0] if expansion.names else None
    if expansion.unknown is not None:
        uses.add(
            "compose-image",
            scalar.value,
            place,
            line,
            stage=name,
            unresolved=expansion.unknown,
            via=via,
            platform=platform,
        )
        return
    note = None
    whole = expansion.whole
    if whole is not None and whole[0] == "text":
        start = place.span.start
        place = uses.place(start + int(whole[1]), start + whole[2])
    elif whole is not None:
        via = str(whole[1])  # `${UNSET:-$IMG}`: the value, and the fix, are IMG's
        written = variables.place(via)
        if written is None:
            note = f"{whole[1]} has no value written in a file basepin reads: no fix can change it"
        else:
            place, verbatim = written
            if not verbatim:
                note = f"{whole[1]} in .env is built from other variables or escapes: not fixed"
    elif expansion.names:
        names = ", ".join(dict.fromkeys(expansion.names))
        note = f"assembled from variables ({names}) when Compose runs: no fix can rewrite it"
    uses.add(
        "compose-image",
        expansion.value,
        place,
        line,
        stage=name,
        note=note,
        via=via,
        platform=platform,
    )


def _is_null(node: Node) -> bool:
    return isinstance(node, Scalar) and node.is_null


def _platform(service: Mapping, variables: _Variables) -> str | None:
    entry = get(service, "platform")
    scalar = string(entry[1]) if entry is not None else None
    if scalar is None:
        return None
    expansion = interpolate(scalar.value, variables.lookup)
    return scalar.value if expansion.unknown is not None else expansion.value
