"""Discover: turn the paths a user names into the files to check, each of a kind.

`NAMES` is the one table of the names each kind of file goes by; `kind_of` reads it. A folder
is searched for those names (`basepin.walk`: through git inside a work tree, so .gitignore is
honoured); a file named on the command line is checked whatever its name, as a Dockerfile
when its name is none of them. The configuration's `files` names more files of a kind by path
globs, whatever their names, and comes before the table. Kubernetes manifests have no name of
their own: any other `.yaml` or `.yml` file is one when its text has `apiVersion:` and `kind:`
keys at the start of lines (`is_manifest`, one look over the bytes); one that has not is no
file to check, and is passed over without a word, named or found. A `.env` named on the
command line stands for the Compose files beside it, whose variables it holds.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import stat

from basepin.errors import UsageError
from basepin.records import NamedTuple

# os.path rather than pathlib, which an offline check (on every commit) would pay to import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence


# The kinds of file there are, as `basepin.extract` names its readers.
KINDS = ("dockerfile", "compose", "workflow", "action", "kubernetes", "devcontainer", "gitlab-ci")
# Kind of file -> the names it goes by, first match wins. A pattern holds as many components
# as it matches at the end of a path, each a glob with at most one `*`, which stays within
# the component; names are case-sensitive. The kind None is no file to check.
NAMES: tuple[tuple[str | None, tuple[str, ...]], ...] = (
    # Siblings of Dockerfiles' names that are no Dockerfiles.
    (None, ("*.dockerignore", "*.containerignore")),
    # Names BuildKit users give Dockerfiles (docker build -f ...), Containerfile being Podman's.
    (
        "dockerfile",
        (
            "Dockerfile",
            "Containerfile",
            "*.Dockerfile",
            "*.dockerfile",
            "Dockerfile.*",
            "Containerfile.*",
            "Dockerfile-*",
        ),
    ),
    # GitHub reads only the folder's own files, not those of its subfolders.
    ("workflow", (".github/workflows/*.yml", ".github/workflows/*.yaml")),
    # What `docker compose` reads by default (compose.override.yaml included) and the
    # `-f compose.<env>.yaml` files projects keep beside them.
    (
        "compose",
        (
            "compose.yaml",
            "compose.yml",
            "docker-compose.yaml",
            "docker-compose.yml",
            "compose.*.yaml",
            "compose.*.yml",
            "docker-compose.*.yaml",
            "docker-compose.*.yml",
        ),
    ),
    ("action", ("action.yml", "action.yaml")),
    (
        "devcontainer",
        (
            ".devcontainer.json",
            ".devcontainer/devcontainer.json",
            ".devcontainer/*/devcontainer.json",
        ),
    ),
    ("gitlab-ci", (".gitlab-ci.yml", "*.gitlab-ci.yml")),
    # Only those whose text looks like manifests (`is_manifest`).
    ("kubernetes", ("*.yaml", "*.yml")),
)


class Named(NamedTuple):
    """More files of each kind, whatever their names (the configuration's `files`, made by
    `named_files`): path globs, with `*` crossing folders as in `exclude`, matched against a
    file's path from `root`, the configuration file's folder (as a .gitignore's patterns are
    read from its own folder)."""

    root: str  # absolute, normalized, ending in a separator
    # Kind -> one expression for all its globs: a tree's every file is matched against it.
    patterns: tuple[tuple[str, re.Pattern[str]], ...]


def named_files(root: str, globs: Mapping[str, Sequence[str]]) -> Named:
    """`Named` for globs read from the folder `root`."""
    items = tuple((kind, tuple(kind_globs)) for kind, kind_globs in globs.items())
    return _named(os.path.join(os.path.abspath(root), ""), items)


@functools.lru_cache(maxsize=8)
def _named(root: str, globs: tuple[tuple[str, tuple[str, ...]], ...]) -> Named:
    return Named(
        root,
        tuple(
            (kind, re.compile("|".join(fnmatch.translate(glob) for glob in kind_globs)))
            for kind, kind_globs in globs
        ),
    )


# A Compose file's variables: the `.env` file in its folder.
ENV_FILE = ".env"
# A cheap first look at a name: whether any pattern of `NAMES` may match it.
_MAYBE = re.compile(r"ockerfile|ontainerfile|\.ya?ml$|\.json$")


# Each pattern of `NAMES`, in order: (kind, its components).
_PATTERNS = tuple(
    (kind, tuple(pattern.split("/"))) for kind, patterns in NAMES for pattern in patterns
)
_DEEPEST = max(len(parts) for _, parts in _PATTERNS)


def _matches(glob: str, name: str) -> bool:
    """Whether one component's glob (at most one `*`, see `NAMES`) matches `name`: plain
    string tests, so a check compiles no expression for its names."""
    head, star, tail = glob.partition("*")
    if not star:
        return name == glob
    return len(name) >= len(glob) - 1 and name.startswith(head) and name.endswith(tail)


# What makes a YAML text a Kubernetes manifest: both keys start lines (of some document).
_API_VERSION = rb"^[\"']?apiVersion[\"']?[ \t]*:"
_KIND = rb"^[\"']?kind[\"']?[ \t]*:"
_BOM = b"\xef\xbb\xbf"


def kind_of(path: str) -> str | None:
    """The kind of file `path` names by `NAMES`, or None (a name basepin does not look for).
    Any `.yaml` or `.yml` name no other kind claims is "kubernetes": see `is_manifest`.
    A relative path too short for the patterns is read from the current folder
    (`devcontainer.json` in `.devcontainer/`)."""
    name = _name(path)
    if not _MAYBE.search(name):
        return None  # most names in a tree: decided without the table
    checks = _checks(name)
    if isinstance(checks[0], str):
        return checks[0] or None
    last = _last_components(path)
    for check in checks:
        if isinstance(check, str):
            return check or None
        kind, parts = check
        if len(parts) <= len(last) and all(
            _matches(glob, part) for glob, part in zip(parts, last[-len(parts) :], strict=True)
        ):
            return kind or None
    return None


def _last_components(path: str) -> list[str]:
    """The path's last `_DEEPEST` components (fewer when it has fewer). A relative path
    shorter than that is read from the current folder."""
    posix = _as_posix(path)
    if posix.count("/") < _DEEPEST - 1 and not os.path.isabs(path):
        posix = _as_posix(os.path.abspath(path))
    return posix.split("/")[-_DEEPEST:]


@functools.lru_cache(maxsize=4096)
def _checks(name: str) -> tuple[str | tuple[str, tuple[str, ...]], ...]:
    """What decides the kind of a path named `name`, in the table's order: the patterns of
    several components whose last one matches the name, then the kind of the first pattern
    of one component that matches it ("" for none). A tree repeats its names."""
    checks: list[str | tuple[str, tuple[str, ...]]] = []
    for kind, parts in _PATTERNS:
        if not _matches(parts[-1], name):
            continue
        if len(parts) == 1:
            checks.append(kind or "")
            return tuple(checks)
        checks.append((kind or "", parts))
    checks.append("")
    return tuple(checks)


def _name(path: str) -> str:
    name = path.rpartition("/")[2]
    return name.rpartition(os.sep)[2] if os.altsep else name


def kind_for(path: str, named: Named | None = None) -> str:
    """The kind of file a path is read as: by the configuration's globs (`named`), else by
    its name, else (a file named on the command line) a Dockerfile."""
    return (named and _named_kind(path, named)) or kind_of(path) or "dockerfile"


def _named_kind(path: str, named: Named, cwd: str | None = None) -> str | None:
    """The first kind whose globs match `path` (from the configuration's folder). `cwd`, the
    current folder, saves asking for it again and again in a walk of many files."""
    absolute = os.path.normpath(os.path.join(cwd or os.getcwd(), path))
    if not absolute.startswith(named.root):
        return None  # outside the configuration's folder
    from_root = absolute[len(named.root) :].replace(os.sep, "/")  # normalized already
    for kind, pattern in named.patterns:
        if pattern.match(from_root):
            return kind
    return None


def is_env_file(path: str) -> bool:
    return os.path.basename(path) == ENV_FILE


def env_file_of(path: str) -> str:
    """The `.env` file whose variables the Compose file at `path` reads."""
    return os.path.join(os.path.dirname(path), ENV_FILE)


def written_with(path: str, named: Named | None = None) -> list[str]:
    """The files a fix of the file at `path` may write: itself, and for a Compose file the
    `.env` beside it (a reference that is a variable's value is fixed where it is written)."""
    if kind_for(path, named) == "compose":
        return [path, env_file_of(path)]
    return [path]


def is_manifest(path: str) -> bool:
    """Whether the YAML file at `path` is a Kubernetes manifest: its text has `apiVersion:`
    and `kind:` keys at the start of lines. One that cannot be read is taken to be one, so
    that reading it says why, and so is what is no regular file (a FIFO named on the command
    line is not waited on here)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return True
    with open(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return True
        try:
            data = stream.read()
        except OSError:
            return True
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    return (
        re.search(_KIND, data, re.MULTILINE) is not None
        and re.search(_API_VERSION, data, re.MULTILINE) is not None
    )


class Found(NamedTuple):
    """What `find` found: the files to check, and the folders it could not search."""

    files: list[str]
    # Each folder that could not be read, with the reason: the files in it are unknown.
    unreadable: dict[str, str]


def discover(
    paths: Sequence[str | os.PathLike[str]],
    *,
    exclude: Sequence[str] = (),
    kinds: Collection[str] | None = None,
    named: Named | None = None,
) -> list[str]:
    """The files `find` finds under `paths`."""
    return find(paths, exclude=exclude, kinds=kinds, named=named).files


def find(
    paths: Sequence[str | os.PathLike[str]],
    *,
    exclude: Sequence[str] = (),
    kinds: Collection[str] | None = None,
    named: Named | None = None,
) -> Found:
    """Return the files to check under `paths` in a stable order, each once, and the folders
    that could not be searched.

    A file named on the command line is checked whatever its name (pre-commit passes files;
    see `kind_for`); a folder is searched for the names of `NAMES`, through git when it is
    inside a work tree so that .gitignore is honoured. A name that cannot be read (a broken
    symbolic link, a link loop, a file behind a permission) is kept: reading it says why.
    `exclude` holds path globs (from the configuration); they also silence folders that cannot
    be read. `kinds`, when given, are the only kinds of file kept. `named` (kind -> path
    globs) names more files of a kind, found and read as that kind whatever their names.
    """
    found: dict[str, None] = {}
    unreadable: dict[str, str] = {}
    for given in paths or ["."]:
        path = os.fspath(given) or "."  # as pathlib reads "": the current folder
        if os.path.isdir(path):
            candidates: Iterable[str] = sorted(_search_folder(path, unreadable, named))
        elif is_env_file(path) and os.path.lexists(path):
            candidates = _compose_files_beside(path)
        elif os.path.lexists(path):
            candidates = [os.fspath(given)]
        else:
            raise UsageError(f"{given}: no such file or folder")
        for candidate in candidates:
            if candidate in found or _excluded(candidate, exclude):
                continue
            kind = kind_for(candidate, named)
            if kinds is not None and kind not in kinds:
                continue
            if kind != "kubernetes" or is_manifest(candidate):
                found[candidate] = None
    return Found(
        list(found),
        {
            folder: reason
            for folder, reason in sorted(unreadable.items())
            if not _excluded_folder(folder, exclude)
        },
    )


def _excluded(path: str, exclude: Sequence[str]) -> bool:
    if not exclude:
        return False
    trimmed = _trimmed(path)
    return any(fnmatch.fnmatchcase(trimmed, pattern) for pattern in exclude)


def _trimmed(path: str) -> str:
    """The path as globs of the configuration see it: `/` between parts, no leading `./`."""
    posix = _as_posix(path)
    return posix[2:] if posix.startswith("./") else posix


def _as_posix(path: str) -> str:
    """PurePath(path).as_posix(): separators as `/`, no empty or `.` parts (`..` stays)."""
    if os.altsep:
        path = path.replace(os.sep, os.altsep)
    drive, rest = os.path.splitdrive(path)
    root = "/" if rest.startswith("/") else ""
    if rest.startswith("//") and not rest.startswith("///"):
        root = "//"  # POSIX keeps exactly two leading slashes (they may mean something)
    parts = [part for part in rest.split("/") if part not in ("", ".")]
    return drive + root + "/".join(parts) if drive or root or parts else "."


def _excluded_folder(folder: str, exclude: Sequence[str]) -> bool:
    # `vendor/*` excludes the folder `vendor` as well as what is in it.
    return _excluded(folder, exclude) or _excluded(os.path.join(folder, "x"), exclude)


def _compose_files_beside(env_file: str) -> list[str]:
    folder = os.path.dirname(env_file)
    try:
        names = sorted(os.listdir(folder or "."))
    except OSError:
        return []
    return [
        os.path.join(folder, name)
        for name in names
        if kind_of(name) == "compose" and os.path.isfile(os.path.join(folder, name))
    ]


def _search_folder(folder: str, unreadable: dict[str, str], named: Named | None) -> Iterable[str]:
    from basepin.walk import files_below

    cwd = os.getcwd()

    def wanted(path: str) -> bool:
        return kind_of(path) is not None or bool(named and _named_kind(path, named, cwd))

    def maybe(path: str) -> bool:
        return bool(named) or _MAYBE.search(_name(path)) is not None

    return files_below(folder, unreadable, wanted, maybe)
