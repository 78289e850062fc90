"""Discover: turn the paths a user names into the files to check, each of a kind.

`NAMES` is the one table of the names each kind of file goes by; `kind_of` reads it. A folder
is searched for those names (through git inside a work tree, so .gitignore is honoured); a
file named on the command line is checked whatever its name, as a Dockerfile when its name is
none of them. Kubernetes manifests have no name of their own: any other `.yaml` or `.yml` file
is one when its text has `apiVersion:` and `kind:` keys at the start of lines (`is_manifest`,
one look over the bytes); one that has not is no file to check, and is passed over without a
word, named or found. A `.env` named on the command line stands for the Compose files beside
it, whose variables it holds.
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
    from collections.abc import Collection, Iterable, Sequence

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


# Folders a walk outside git never enters: VCS data, dependencies, virtual environments.
_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", ".tox", ".nox"})
# git ls-files goes on past a folder it cannot open, with this warning (dir.c).
_UNOPENED = re.compile(r"^warning: could not open directory '(.*)': (.*)$", re.MULTILINE)
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


def kind_for(path: str) -> str:
    """The kind of file a path is read as: by its name, else (a file named on the command
    line) a Dockerfile."""
    return kind_of(path) or "dockerfile"


def is_env_file(path: str) -> bool:
    return os.path.basename(path) == ENV_FILE


def env_file_of(path: str) -> str:
    """The `.env` file whose variables the Compose file at `path` reads."""
    return os.path.join(os.path.dirname(path), ENV_FILE)


def written_with(path: str) -> list[str]:
    """The files a fix of the file at `path` may write: itself, and for a Compose file the
    `.env` beside it (a reference that is a variable's value is fixed where it is written)."""
    if kind_for(path) == "compose":
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
) -> list[str]:
    """The files `find` finds under `paths`."""
    return find(paths, exclude=exclude, kinds=kinds).files


def find(
    paths: Sequence[str | os.PathLike[str]],
    *,
    exclude: Sequence[str] = (),
    kinds: Collection[str] | None = None,
) -> Found:
    """Return the files to check under `paths` in a stable order, each once, and the folders
    that could not be searched.

    A file named on the command line is checked whatever its name (pre-commit passes files;
    see `kind_for`); a folder is searched for the names of `NAMES`, through git when it is
    inside a work tree so that .gitignore is honoured. A name that cannot be read (a broken
    symbolic link, a link loop, a file behind a permission) is kept: reading it says why.
    `exclude` holds path globs (from the configuration); they also silence folders that cannot
    be read. `kinds`, when given, are the only kinds of file kept.
    """
    found: dict[str, None] = {}
    unreadable: dict[str, str] = {}
    for given in paths or ["."]:
        path = os.fspath(given) or "."  # as pathlib reads "": the current folder
        if os.path.isdir(path):
            candidates: Iterable[str] = sorted(_search_folder(path, unreadable))
        elif is_env_file(path) and os.path.lexists(path):
            candidates = _compose_files_beside(path)
        elif os.path.lexists(path):
            candidates = [os.fspath(given)]
        else:
            raise UsageError(f"{given}: no such file or folder")
        for candidate in candidates:
            if candidate in found or _excluded(candidate, exclude):
                continue
            kind = kind_for(candidate)
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
    posix = _as_posix(path)
    trimmed = posix[2:] if posix.startswith("./") else posix
    return any(fnmatch.fnmatchcase(trimmed, pattern) for pattern in exclude)


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


def _search_folder(folder: str, unreadable: dict[str, str]) -> Iterable[str]:
    tracked = _git_files(folder, unreadable)
    if tracked is not None:
        for relative in tracked:
            if not _MAYBE.search(_name(relative)):
                continue
            candidate = os.path.normpath(os.path.join(folder, relative))
            # ls-files also lists files deleted from the work tree but still in the index.
            if kind_of(candidate) is not None and _checkable(candidate, listed=False):
                yield candidate
        return

    def note(error: OSError) -> None:
        where = os.path.normpath(error.filename or folder)
        unreadable.setdefault(where, error.strerror or type(error).__name__)

    for root, dirs, names in os.walk(folder, onerror=note):
        dirs[:] = sorted(d for d in dirs if not _skip_dir(root, d))
        for name in names:
            candidate = os.path.join(root, name)
            if kind_of(candidate) is not None and _checkable(candidate, listed=True):
                yield os.path.normpath(candidate)


def _checkable(path: str, *, listed: bool) -> bool:
    """A regular file, or a name that cannot be read as one (a broken symbolic link, a loop,
    a permission): reading it says why. `listed`: the name was just seen in its folder."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return listed or os.path.islink(path)  # a link to nothing; otherwise a file since gone
    except OSError:
        return True


def _skip_dir(root: str, name: str) -> bool:
    return name in _SKIPPED_DIRS or os.path.isfile(os.path.join(root, name, "pyvenv.cfg"))


def _git_files(folder: str, unreadable: dict[str, str]) -> list[str] | None:
    """Files git tracks or would track (not ignored) below `folder`; None outside a work tree.

    Folders git could not open go to `unreadable`.
    """
    import subprocess  # only folders need git: checking named files stays light

    try:
        result = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=folder,
            capture_output=True,
            check=False,
            timeout=60,
            # Its warnings are read below: in English, whatever the user's language.
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    names = result.stdout.decode("utf-8", "surrogateescape").split("\0")
    _note_unopened(folder, result.stderr.decode("utf-8", "surrogateescape"), unreadable)
    return [name for name in dict.fromkeys(names) if name]


def _note_unopened(folder: str, warnings: str, unreadable: dict[str, str]) -> None:
    """Record the folders git warned it could not open (it names them from the top of the
    work tree, and goes on without them)."""
    unopened = [(match[1], match[2]) for match in _UNOPENED.finditer(warnings)]
    if not unopened:
        return
    import subprocess

    top = (
        subprocess.run(
            ["git", "rev-parse", "--show-cdup"], cwd=folder, capture_output=True, check=False
        )
        .stdout.decode("utf-8", "surrogateescape")
        .strip()
    )
    for name, reason in unopened:
        unreadable.setdefault(os.path.normpath(os.path.join(folder, top, name)), reason)
