"""The image a dev container starts from: the top-level `image` of `devcontainer.json`.

`.devcontainer/devcontainer.json`, `.devcontainer.json` and
`.devcontainer/<name>/devcontainer.json`, read as JSON with comments and trailing commas.
The `image` is one use of kind `devcontainer-image`. A dev container built from a Dockerfile
(`build.dockerfile`) or a Compose file (`dockerComposeFile`) names its images there, and they
are checked as such files. Variables such as `${localEnv:TAG}` are substituted when the
container is created: a reference holding one is unresolved, never guessed. An inline ignore
is a `// basepin: ignore[...]` comment line right above the `"image"` member.
"""

from __future__ import annotations

from basepin.extract.jsonc import JsoncError, JsonObject, JsonString, parse_jsonc
from basepin.extract.source import open_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from basepin.model import ParsedDockerfile

__all__ = ["parse_devcontainer"]

VARIABLE = (
    "holds a dev container variable (${...}), substituted when the container is created: "
    "never guessed"
)
ESCAPED = "written with JSON escapes, which basepin does not rewrite: write the reference plainly"


def parse_devcontainer(data: bytes | str, path: str) -> ParsedDockerfile:
    """Read one `devcontainer.json`; never raises."""
    uses, readable = open_file(data, path, comment="//")
    if not readable or "image" not in uses.text:
        return uses.result()
    try:
        document = parse_jsonc(uses.text)
    except JsoncError as err:
        uses.problem(err.offset, f"not valid JSON (with comments): {err.message}")
        return uses.result()
    if not isinstance(document, JsonObject):
        uses.problem(document.start, "not a dev container configuration: not a JSON object")
        return uses.result()
    member = document.get("image")
    if member is None:
        return uses.result()
    key, value = member
    if not isinstance(value, JsonString):
        uses.problem(value.start, "image must be a string")
        return uses.result()
    line = uses.lines.position(key.start)[0]
    place = uses.place(value.start, value.end)
    if not value.verbatim:
        uses.add("devcontainer-image", value.value, place, line, unresolved=ESCAPED)
    elif "${" in value.value:
        uses.add("devcontainer-image", value.value, place, line, unresolved=VARIABLE)
    else:
        uses.add("devcontainer-image", value.value, place, line)
    return uses.result()
