"""Extract: the images each kind of file names, as `ImageUse`s in a `ParsedDockerfile`.

One function per kind of file reads its bytes (or text) and path and never raises: what is
wrong with the file comes back as `problems` (each an `invalid` finding), what the user should
know otherwise as `notes`. The kinds and where their images stand:

| kind of file | function | `ImageUse.kind` |
|---|---|---|
| `dockerfile` | `dockerfile.parse_dockerfile` | `from` `copy-from` `mount-from` `syntax` |
| `compose` | `compose.parse_compose` (takes `.env` too) | `compose-image` |
| `workflow` | `workflows.parse_workflow` | `workflow-container` `-service` `-step` |
| `action` | `workflows.parse_action` | `action-image`, `action-step` |
| `kubernetes` | `kubernetes.parse_kubernetes` | `kubernetes-container` |
| `devcontainer` | `devcontainer.parse_devcontainer` | `devcontainer-image` |
| `gitlab-ci` | `gitlab.parse_gitlab_ci` | `gitlab-image`, `gitlab-service` |

Each module is imported when its kind of file is first read (`reader`), and PyYAML with the
first YAML file: a check of Dockerfiles alone pays for none of it.

Every use keeps the exact span of its text (inside quotes, after `docker://`, the line of a
one-line block scalar) and that text as `source`, so a fix rewrites those characters and no
others: YAML and JSON are never written back. A reference that comes whole from one variable
has its span where the variable's value is written (an `.env` file is another file: the use's
`path` is then that file) and `via_arg` naming it. A reference with a variable inside has its
span on the text as written and `via_arg` naming the first variable, which keeps fixes off it;
its `unresolved_reason` says why. A comment line `# basepin: ignore[...]` (`//` in JSON) right
above the line that names an image (`instruction_line`) silences rules for it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from basepin.model import ParsedDockerfile

    Reader = Callable[[bytes, str], ParsedDockerfile]

READERS = {
    "dockerfile": ("basepin.extract.dockerfile", "parse_dockerfile"),
    "compose": ("basepin.extract.compose", "parse_compose"),
    "workflow": ("basepin.extract.workflows", "parse_workflow"),
    "action": ("basepin.extract.workflows", "parse_action"),
    "kubernetes": ("basepin.extract.kubernetes", "parse_kubernetes"),
    "devcontainer": ("basepin.extract.devcontainer", "parse_devcontainer"),
    "gitlab-ci": ("basepin.extract.gitlab", "parse_gitlab_ci"),
}
FILE_KINDS = tuple(READERS)


def reader(kind: str) -> Reader:
    """The function that reads files of `kind` (one of `FILE_KINDS`): (data, path) -> parsed.
    Compose files also take `env=` (their `.env` file), Dockerfiles `build_args`."""
    # Here, not at the top: a check of Dockerfiles alone imports this package, not importlib.
    from importlib import import_module

    module, function = READERS[kind]
    found: Reader = getattr(import_module(module), function)
    return found
