"""Fix: turn `Edit`s into rewritten files, byte-exact outside the edited spans, written atomically.

Planning is pure (`plan_changes` takes a `read` callable); `write_change` is the only writer.
A file is decoded as UTF-8 with `surrogateescape`, so every byte (CRLF, a BOM, bytes that are
not UTF-8) survives the round trip and only the edited spans change.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath

from basepin.errors import BasepinError
from basepin.model import Edit

STALE = "file changed since it was read"
JOINS_BYTES = "deleting this text would join the bytes around it, which are not UTF-8, into text"


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

    @property
    def changed(self) -> bool:
        return self.after != self.before


def plan_changes(edits: Iterable[Edit], read: Callable[[str], bytes]) -> list[FileChange]:
    """Group `edits` by file (first-seen order), check each against the file, apply the rest.

    Offsets (`start`, `end`) decide where an edit goes; line and column are for people.
    An edit is refused, with a reason, when its `original` is no longer at `[start:end]`, when
    its replacement is not one line of text, when it overlaps another edit (then both are
    refused: which one is right cannot be told), or when it deletes the text between two bytes
    that are not UTF-8 and they would read as one character. A file `read` cannot open
    refuses its edits.
    """
    by_path: dict[str, list[Edit]] = {}
    for edit in edits:
        by_path.setdefault(edit.path, []).append(edit)
    return [_plan_file(path, file_edits, read) for path, file_edits in by_path.items()]


def _plan_file(path: str, edits: list[Edit], read: Callable[[str], bytes]) -> FileChange:
    # Two uses of one ARG yield the same edit twice; it is applied once.
    unique = list(dict.fromkeys(edits))
    try:
        before = read(path)
    except OSError as exc:
        unread = f"file could not be read: {exc.strerror or exc}"
        return FileChange(path, b"", b"", (), tuple((edit, unread) for edit in unique))
    text = before.decode("utf-8", "surrogateescape")
    reasons: dict[Edit, str] = {}
    for edit in unique:
        reason = _unfit(edit, text)
        if reason:
            reasons[edit] = reason
    reasons |= _conflicts([edit for edit in unique if edit not in reasons])
    applied = _applicable(unique, reasons)
    planned = _apply(text, applied)
    after = planned.encode("utf-8", "surrogateescape")
    if after.decode("utf-8", "surrogateescape") != planned:
        reasons |= dict.fromkeys(_joining_deletions(planned, applied), JOINS_BYTES)
        applied = _applicable(unique, reasons)
        after = _apply(text, applied).encode("utf-8", "surrogateescape")
    refused = tuple((edit, reasons[edit]) for edit in unique if edit in reasons)
    return FileChange(path, before, after, tuple(applied), refused)


def _applicable(edits: list[Edit], reasons: dict[Edit, str]) -> list[Edit]:
    return sorted((e for e in edits if e not in reasons), key=lambda e: (e.start, e.end))


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
    character): valid text never joins with such a byte, so once they are refused the result
    decodes to exactly the text planned.
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


def _unfit(edit: Edit, text: str) -> str | None:
    """Why `edit` cannot be applied to `text` on its own, or None when it can."""
    if not 0 <= edit.start <= edit.end:
        return f"edit has an invalid range {edit.start}:{edit.end}"
    if edit.end > len(text) or text[edit.start : edit.end] != edit.original:
        return STALE
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


def write_change(change: FileChange, *, root: Path) -> None:
    """Write `change.after` over `change.path` atomically; do nothing when nothing changed.

    The path is opened as given (relative to the working folder, like `read`). A symbolic
    link is written through to its target, the link kept, but only when the target lies inside
    `root`. The new content goes to a temporary file in the target's folder, is synced, takes
    the file's mode (and owner, where allowed) and replaces the file in one rename, so a reader
    sees the old or the new file, never a mix. The rename gives the file a new inode: other hard
    links keep the old content. Raises FixError, leaving the file and its folder as they were,
    when the file changed on disk since `before` was read or cannot be written.
    """
    if not change.changed:
        return
    target = _target_inside(Path(change.path), root)
    try:
        status = target.stat()
    except OSError as exc:
        raise FixError(f"{change.path}: cannot write: {exc.strerror or exc}") from None
    if not stat.S_ISREG(status.st_mode):
        raise FixError(f"{change.path}: cannot write: not a regular file")
    try:
        _replace(target, change, status)
    except OSError as exc:
        raise FixError(f"{change.path}: cannot write: {exc.strerror or exc}") from None


def _target_inside(path: Path, root: Path) -> Path:
    try:
        target = path.resolve(strict=True)
        folder = root.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop before 3.13
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise FixError(f"{path}: cannot write: {reason}") from None
    if target.is_relative_to(folder):
        return target
    if path.is_symlink():
        raise FixError(
            f"{path}: refusing to write: it is a symbolic link to {target}, outside {folder}"
        )
    raise FixError(f"{path}: refusing to write {target}: it is outside {folder}")


def _replace(target: Path, change: FileChange, status: os.stat_result) -> None:
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(change.after)
            stream.flush()
            os.fsync(stream.fileno())
        _copy_owner(temporary, status)
        temporary.chmod(stat.S_IMODE(status.st_mode))  # after chown, which clears setuid
        # Checked last, to keep the window for a concurrent edit as small as it can be.
        if target.read_bytes() != change.before:
            raise FixError(f"{change.path}: {STALE}; not written")
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _copy_owner(temporary: Path, status: os.stat_result) -> None:
    mine = temporary.stat()
    if (mine.st_uid, mine.st_gid) == (status.st_uid, status.st_gid) or not hasattr(os, "chown"):
        return
    # Only a privileged user may give a file away; otherwise the writer keeps it.
    with contextlib.suppress(PermissionError):
        os.chown(temporary, status.st_uid, status.st_gid)
