"""Fix: turn `Edit`s into rewritten files, byte-exact outside the edited spans, written atomically.

Planning is pure (`plan_changes` takes a `read` callable); `fix_file` is the only writer.
A file is decoded as UTF-8 with `surrogateescape`, so every byte (CRLF, a BOM, bytes that are
not UTF-8) survives the round trip and only the edited spans change.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import functools
import itertools
import os
import stat
import tempfile
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from basepin import file_lock
from basepin.errors import BasepinError
from basepin.model import Edit

STALE = "file changed since it was read"
JOINS_BYTES = "deleting this text would join the bytes around it, which are not UTF-8, into text"
# How often a file that changes under a fix (a writer that does not take the lock) is read
# and planned again before the fix gives up on it.
ATTEMPTS = 3

# The (start, end) offsets, in the decoded text, of every reference the file holds: what the
# file's own reader sees in `data` (the bytes of the file at `path`) now.
ReferenceSpans = Callable[[str, bytes], Collection[tuple[int, int]]]


class FixError(BasepinError):
    """A change that could not be written safely; the file on disk is left as it was."""


@dataclass(frozen=True)
class FileChange:
    """What fixing one file does: its bytes before and after, and the fate of each edit."""

    path: str
    before: bytes
    after: bytes
    # In file order; exact duplicates appear once.
    applied: tuple[Edit, ...]
    # Each edit that was not applied, with the reason, in the order the edits came.
    refused: tuple[tuple[Edit, str], ...]
    # Edits whose replacement the file already holds: another run made them first.
    done: tuple[Edit, ...] = ()

    @property
    def changed(self) -> bool:
        return self.after != self.before


def plan_changes(
    edits: Iterable[Edit], read: Callable[[str], bytes], *, spans: ReferenceSpans | None = None
) -> list[FileChange]:
    """Group `edits` by file (first-seen order), check each against the file, apply the rest.

    Offsets (`start`, `end`) decide where an edit goes; line and column are for people.
    An edit is refused, with a reason, when its `original` is no longer at `[start:end]`, when
    its replacement is not one line of text, when it overlaps another edit (then both are
    refused: which one is right cannot be told), or when it deletes the text between two bytes
    that are not UTF-8 and they would read as one character. A file `read` cannot open
    refuses its edits.

    With `spans`, an edit applies only where a reference spans exactly `[start:end]` (so
    `python:3.12` is not pinned again where the file now reads `python:3.12@sha256:...`), and
    one whose replacement already stands as a whole reference at `start` is done.
    """
    return [
        _plan_read(path, file_edits, read, spans) for path, file_edits in by_path(edits).items()
    ]


def by_path(edits: Iterable[Edit]) -> dict[str, list[Edit]]:
    """The edits of each file, files in first-seen order."""
    grouped: dict[str, list[Edit]] = {}
    for edit in edits:
        grouped.setdefault(edit.path, []).append(edit)
    return grouped


def _plan_read(
    path: str, edits: list[Edit], read: Callable[[str], bytes], spans: ReferenceSpans | None
) -> FileChange:
    try:
        before = read(path)
    except OSError as exc:
        unread = f"file could not be read: {exc.strerror or exc}"
        unique = list(dict.fromkeys(edits))
        return FileChange(path, b"", b"", (), tuple((edit, unread) for edit in unique))
    return plan_file(path, edits, before, spans)


def plan_file(
    path: str, edits: Sequence[Edit], before: bytes, spans: ReferenceSpans | None = None
) -> FileChange:
    """Apply `edits` to `before`, the bytes of the file at `path` (see `plan_changes`).

    With `spans`, the edits another run already made are found in file order, and the edits
    after each are looked for as far on as its replacement is longer than its original.
    """
    # Two uses of one ARG yield the same edit twice; it is applied once.
    unique = list(dict.fromkeys(edits))
    # Asked before the text is decoded: for a large file the reader's peak comes first.
    standing = spans(path, before) if spans is not None else None
    text = before.decode("utf-8", "surrogateescape")
    reasons: dict[Edit, str] = {}
    done: list[Edit] = []
    # Each edit still to make, where it stands in `text` now.
    placed: dict[Edit, Edit] = {}
    shift = 0
    for edit in sorted(unique, key=lambda e: (e.start, e.end)):
        here = edit._replace(start=edit.start + shift, end=edit.end + shift) if shift else edit
        if standing is not None and _made(here, text, standing):
            done.append(edit)
            shift += len(edit.replacement) - (edit.end - edit.start)
        elif reason := _unfit(here, text, standing):
            reasons[edit] = reason
        else:
            placed[here] = edit
    for here, reason in _conflicts(list(placed)).items():
        reasons[placed.pop(here)] = reason
    applied = sorted(placed, key=lambda e: (e.start, e.end))
    planned = _apply(text, applied)
    after = planned.encode("utf-8", "surrogateescape") if applied else before
    # Only such deletions can change how the bytes around them decode; most files have none,
    # and a large one is spared decoding its new bytes again.
    joining = _joining_deletions(planned, applied)
    if joining and after.decode("utf-8", "surrogateescape") != planned:
        for here in joining:
            reasons[placed.pop(here)] = JOINS_BYTES
        applied = sorted(placed, key=lambda e: (e.start, e.end))
        after = _apply(text, applied).encode("utf-8", "surrogateescape") if applied else before
    refused = tuple((edit, reasons[edit]) for edit in unique if edit in reasons)
    made = tuple(placed[here] for here in applied)
    return FileChange(path, before, after, made, refused, tuple(e for e in unique if e in done))


def _made(edit: Edit, text: str, standing: Collection[tuple[int, int]]) -> bool:
    """Whether the file already holds the edit's replacement as a whole reference."""
    end = edit.start + len(edit.replacement)
    return (
        edit.replacement != edit.original
        and edit.start >= 0
        and (edit.start, end) in standing
        and text[edit.start : end] == edit.replacement
    )


def _apply(text: str, applied: list[Edit]) -> str:
    pieces: list[str] = []
    position = 0
    for edit in applied:
        pieces += (text[position : edit.start], edit.replacement)
        position = edit.end
    pieces.append(text[position:])
    return "".join(pieces)


def _joining_deletions(new_text: str, applied: list[Edit]) -> list[Edit]:
    """Deletions that leave two bytes that are not UTF-8 side by side in `new_text`.

    Only these can change how the bytes around an edit decode (`\\xc2` then `\\x80` is one
    character; `\\x80` then `\\x80` stays two): valid text never joins with such a byte, so
    once they are refused the result decodes to exactly the text planned.
    """
    joining = []
    shift = 0
    for edit in applied:
        at = edit.start + shift
        shift += len(edit.replacement) - (edit.end - edit.start)
        if not edit.replacement and _escaped_byte(new_text, at - 1) and _escaped_byte(new_text, at):
            joining.append(edit)
    return joining


def _escaped_byte(text: str, index: int) -> bool:
    return 0 <= index < len(text) and "\udc80" <= text[index] <= "\udcff"


def _unfit(
    edit: Edit, text: str, standing: Collection[tuple[int, int]] | None = None
) -> str | None:
    """Why `edit` cannot be applied to `text` on its own, or None when it can."""
    if not 0 <= edit.start <= edit.end:
        return f"edit has an invalid range {edit.start}:{edit.end}"
    if edit.end > len(text) or text[edit.start : edit.end] != edit.original:
        return STALE
    if standing is not None and (edit.start, edit.end) not in standing:
        return STALE  # the text is there, but as part of a longer reference now
    if "\n" in edit.replacement or "\r" in edit.replacement:
        return "replacement spans more than one line"
    try:
        edit.replacement.encode("utf-8")
    except UnicodeEncodeError:
        return "replacement is not valid text"
    return None


def _conflicts(edits: list[Edit]) -> dict[Edit, str]:
    conflicts: dict[Edit, str] = {}
    for first, second in itertools.combinations(edits, 2):
        if _overlap(first, second):
            conflicts.setdefault(first, _overlap_reason(second))
            conflicts.setdefault(second, _overlap_reason(first))
    return conflicts


def _overlap(a: Edit, b: Edit) -> bool:
    if a.start < b.end and b.start < a.end:
        return True
    # An insertion at the edge of (or at the same place as) another edit: the order is a guess.
    return (a.start == a.end and b.start <= a.start <= b.end) or (
        b.start == b.end and a.start <= b.start <= a.end
    )


def _overlap_reason(other: Edit) -> str:
    return f"overlaps another edit at line {other.line}, column {other.column}"


def unified_diff(change: FileChange) -> str:
    """The change as `git diff` shows it (`--- a/path`, `+++ b/path`); empty when unchanged.

    Bytes that are not UTF-8 are shown as U+FFFD: the diff is for reading, not for applying.
    """
    if not change.changed:
        return ""
    name = PurePath(change.path).as_posix()
    lines = difflib.unified_diff(
        _display_lines(change.before), _display_lines(change.after), f"a/{name}", f"b/{name}"
    )
    return "".join(
        line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines
    )


def _display_lines(data: bytes) -> list[str]:
    # Split on "\n" only, as git does: a "\r" stays part of its line.
    lines = [f"{line}\n" for line in data.decode("utf-8", "replace").split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def fix_file(
    path: str,
    edits: Sequence[Edit],
    *,
    roots: Sequence[Path],
    spans: ReferenceSpans,
) -> FileChange:
    """Apply `edits` to the file at `path` in place; returns what was done.

    Only a regular file inside one of `roots` (after resolving symbolic links) is written: a
    link is written through to its target, the link kept, when the target is inside. Under an
    exclusive lock (see `basepin.file_lock`) the file is read and the edits are planned on
    what it holds then (`plan_file`, with `spans`): an edit whose reference is no longer in
    place is refused, one another run already made is done. The new bytes go to a temporary
    file beside the target, are synced, take the file's mode (and owner, where allowed) and
    replace the file in one rename, so a reader sees the old or the new file, never a mix.
    Just before the rename the file is looked at once more: if a writer that does not take the
    lock changed it, it is read and planned again (up to `ATTEMPTS` times). The rename gives
    the file a new inode: other hard links keep the old content.

    Raises FixError, leaving the file and its folder as they were, when the file is outside
    the roots, not a regular file, read-only, gone, or cannot be written.
    """
    target = _target_inside(Path(path), roots)
    try:
        for _ in range(ATTEMPTS):
            with file_lock.locked(target) as held:
                before = held.read()
                change = plan_file(path, edits, before, spans)
                if not change.changed:
                    return change
                unwritable = _unwritable(target, held.status)
                if unwritable:
                    raise FixError(f"{path}: cannot write: {unwritable}")
                unchanged = functools.partial(held.holds, before)
                if _replace(target, change.after, held.status, unchanged):
                    return change
    except file_lock.LockTimeout:
        raise FixError(
            f"{path}: cannot write: another process has held its lock "
            f"for {file_lock.TIMEOUT:.0f} seconds"
        ) from None
    except OSError as exc:
        raise FixError(f"{path}: cannot write: {exc.strerror or exc}") from None
    raise FixError(f"{path}: {STALE}, again and again while it was being fixed; not written")


def _target_inside(path: Path, roots: Sequence[Path]) -> Path:
    try:
        target = path.resolve(strict=True)
        folders = [root.resolve(strict=True) for root in roots]
    except OSError as exc:
        raise FixError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except RuntimeError:  # a symbolic link loop, before Python 3.13
        raise FixError(f"{path}: cannot write: {os.strerror(errno.ELOOP)}") from None
    if any(target.is_relative_to(folder) for folder in folders):
        return target
    where = folders[0] if len(folders) == 1 else "the folders being checked"
    if path.is_symlink():
        raise FixError(
            f"{path}: refusing to write: it is a symbolic link to {target}, outside {where}"
        )
    raise FixError(f"{path}: refusing to write {target}: it is outside {where}")


def _unwritable(target: Path, status: os.stat_result) -> str | None:
    """Why this user may not write the file, or None."""
    # The mode bits first: the superuser may write anything, but a file marked read-only is
    # left alone for everyone.
    if not status.st_mode & 0o222:
        return "the file is read-only"
    if os.access(target, os.W_OK):
        return None
    target.lstat()  # a file that is gone is said to be gone
    return os.strerror(errno.EACCES)


def _replace(
    target: Path, after: bytes, status: os.stat_result, unchanged: Callable[[], bool]
) -> bool:
    """Replace `target` with `after` unless `unchanged()` says no at the last moment."""
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(after)
            stream.flush()
            os.fsync(stream.fileno())
        _copy_owner(temporary, status)
        temporary.chmod(stat.S_IMODE(status.st_mode))  # after chown, which clears setuid
        # Looked at last, to keep the window for a writer that takes no lock small.
        if not unchanged():
            temporary.unlink()
            return False
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return True


def _copy_owner(temporary: Path, status: os.stat_result) -> None:
    mine = temporary.stat()
    if (mine.st_uid, mine.st_gid) == (status.st_uid, status.st_gid) or not hasattr(os, "chown"):
        return
    # Only a privileged user may give a file away; otherwise the writer keeps it.
    with contextlib.suppress(PermissionError):
        os.chown(temporary, status.st_uid, status.st_gid)
