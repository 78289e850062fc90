"""The files below a folder: through git inside a work tree, so that .gitignore is honoured,
else a walk of the file system that skips VCS data, dependencies and virtual environments.
Folders that cannot be read are noted with the reason, since the files in them are unknown.

Apart from `basepin.discover`, which decides which of these files are wanted: what is below a
folder and what a file is are two questions.
"""

from __future__ import annotations

import os
import re
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

# Folders a walk outside git never enters: VCS data, dependencies, virtual environments.
_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", ".tox", ".nox"})
# git ls-files goes on past a folder it cannot open, with this warning (dir.c).
_UNOPENED = re.compile(r"^warning: could not open directory '(.*)': (.*)$", re.MULTILINE)


def files_below(
    folder: str,
    unreadable: dict[str, str],
    wanted: Callable[[str], bool],
    maybe: Callable[[str], bool],
) -> Iterable[str]:
    """The files below `folder` that `wanted` takes (`maybe`, a cheap first look at a path
    git lists, passes over most of them unopened). Folders that cannot be read go to
    `unreadable`."""
    tracked = _git_files(folder, unreadable)
    if tracked is not None:
        for relative in tracked:
            if not maybe(relative):
                continue
            candidate = os.path.normpath(os.path.join(folder, relative))
            # ls-files also lists files deleted from the work tree but still in the index.
            if wanted(candidate) and _checkable(candidate, listed=False):
                yield candidate
        return

    def note(error: OSError) -> None:
        where = os.path.normpath(error.filename or folder)
        unreadable.setdefault(where, error.strerror or type(error).__name__)

    for root, dirs, names in os.walk(folder, onerror=note):
        dirs[:] = sorted(d for d in dirs if not _skip_dir(root, d))
        for name in names:
            candidate = os.path.join(root, name)
            if wanted(candidate) and _checkable(candidate, listed=True):
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
