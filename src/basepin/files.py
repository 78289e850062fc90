"""Discover: turn the paths a user names into the Dockerfiles to check."""

from __future__ import annotations

import fnmatch
import os
import re
import stat

from basepin.errors import UsageError
from basepin.records import NamedTuple

# os.path rather than pathlib, which an offline check (on every commit) would pay to import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# Names BuildKit users give Dockerfiles (docker build -f ...), Containerfile being Podman's.
_NAME_PATTERNS = (
    "Dockerfile",
    "Containerfile",
    "*.Dockerfile",
    "*.dockerfile",
    "Dockerfile.*",
    "Containerfile.*",
    "Dockerfile-*",
)
# Siblings that match the patterns above but are not Dockerfiles.
_NOT_DOCKERFILES = ("*.dockerignore", "*.containerignore")
# Folders a walk outside git never enters: VCS data, dependencies, virtual environments.
_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", ".tox", ".nox"})
# git ls-files goes on past a folder it cannot open, with this warning (dir.c).
_UNOPENED = re.compile(r"^warning: could not open directory '(.*)': (.*)$", re.MULTILINE)


def is_dockerfile_name(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in _NAME_PATTERNS) and not any(
        fnmatch.fnmatchcase(name, p) for p in _NOT_DOCKERFILES
    )


class Found(NamedTuple):
    """What `find` found: the Dockerfiles, and the folders it could not search."""

    files: list[str]
    # Each folder that could not be read, with the reason: the Dockerfiles in it are unknown.
    unreadable: dict[str, str]


def discover(paths: Sequence[str | os.PathLike[str]], *, exclude: Sequence[str] = ()) -> list[str]:
    """The Dockerfiles `find` finds under `paths`."""
    return find(paths, exclude=exclude).files


def find(paths: Sequence[str | os.PathLike[str]], *, exclude: Sequence[str] = ()) -> Found:
    """Return the Dockerfiles under `paths` in a stable order, each once, and the folders that
    could not be searched.

    A file named on the command line is checked whatever its name (pre-commit passes files);
    a folder is searched for Dockerfile names, through git when it is inside a work tree so
    that .gitignore is honoured. A name that cannot be read (a broken symbolic link, a link
    loop, a file behind a permission) is kept: reading it says why. `exclude` holds path globs
    (from the configuration); they also silence folders that cannot be read.
    """
    found: dict[str, None] = {}
    unreadable: dict[str, str] = {}
    for given in paths or ["."]:
        path = os.fspath(given) or "."  # as pathlib reads "": the current folder
        if os.path.isdir(path):
            candidates: Iterable[str] = sorted(_search_folder(path, unreadable))
        elif os.path.lexists(path):
            candidates = [os.fspath(given)]
        else:
            raise UsageError(f"{given}: no such file or folder")
        for candidate in candidates:
            if not _excluded(candidate, exclude):
                found.setdefault(candidate, None)
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


def _search_folder(folder: str, unreadable: dict[str, str]) -> Iterable[str]:
    tracked = _git_files(folder, unreadable)
    if tracked is not None:
        for relative in tracked:
            if is_dockerfile_name(relative.rsplit("/", 1)[-1]):
                candidate = os.path.normpath(os.path.join(folder, relative))
                # ls-files also lists files deleted from the work tree but still in the index.
                if _checkable(candidate, listed=False):
                    yield candidate
        return

    def note(error: OSError) -> None:
        where = os.path.normpath(error.filename or folder)
        unreadable.setdefault(where, error.strerror or type(error).__name__)

    for root, dirs, names in os.walk(folder, onerror=note):
        dirs[:] = sorted(d for d in dirs if not _skip_dir(root, d))
        for name in names:
            candidate = os.path.join(root, name)
            if is_dockerfile_name(name) and _checkable(candidate, listed=True):
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
