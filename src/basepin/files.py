"""Discover: turn the paths a user names into the Dockerfiles to check."""

from __future__ import annotations

import fnmatch
import os

from basepin.errors import UsageError

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


def is_dockerfile_name(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in _NAME_PATTERNS) and not any(
        fnmatch.fnmatchcase(name, p) for p in _NOT_DOCKERFILES
    )


def discover(paths: Sequence[str | os.PathLike[str]], *, exclude: Sequence[str] = ()) -> list[str]:
    """Return the Dockerfiles under `paths` in a stable order, each once.

    A file named on the command line is checked whatever its name (pre-commit passes files);
    a folder is searched for Dockerfile names, through git when it is inside a work tree so
    that .gitignore is honoured. `exclude` holds path globs (from the configuration).
    """
    found: dict[str, None] = {}
    for given in paths or ["."]:
        path = os.fspath(given) or "."  # as pathlib reads "": the current folder
        if os.path.isdir(path):
            candidates: Iterable[str] = sorted(_search_folder(path))
        elif os.path.lexists(path):
            candidates = [os.fspath(given)]
        else:
            raise UsageError(f"{given}: no such file or folder")
        for candidate in candidates:
            if not _excluded(candidate, exclude):
                found.setdefault(candidate, None)
    return list(found)


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


def _search_folder(folder: str) -> Iterable[str]:
    tracked = _git_files(folder)
    if tracked is not None:
        for relative in tracked:
            if is_dockerfile_name(relative.rsplit("/", 1)[-1]):
                candidate = os.path.join(folder, relative)
                # ls-files also lists files deleted from the work tree but still in the index.
                if os.path.isfile(candidate):
                    yield os.path.normpath(candidate)
        return
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _skip_dir(root, d))
        for name in names:
            candidate = os.path.join(root, name)
            if is_dockerfile_name(name) and os.path.isfile(candidate):
                yield os.path.normpath(candidate)


def _skip_dir(root: str, name: str) -> bool:
    return name in _SKIPPED_DIRS or os.path.isfile(os.path.join(root, name, "pyvenv.cfg"))


def _git_files(folder: str) -> list[str] | None:
    """Files git tracks or would track (not ignored) below `folder`; None outside a work tree."""
    import subprocess  # only folders need git: checking named files stays light

    try:
        result = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=folder,
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    names = result.stdout.decode("utf-8", "surrogateescape").split("\0")
    return [name for name in dict.fromkeys(names) if name]
