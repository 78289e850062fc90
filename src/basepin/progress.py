"""The progress line: what a run that takes a while is waiting for, on a terminal's stderr.

Shown only where a person watches: stderr is a terminal, `CI` is not set (CI logs keep every
carriage return as a line) and `TERM` is not `dumb`; `--quiet` turns it off. It appears once
the run has taken `delay` seconds, is redrawn in place a few times a second while it changes,
and is erased when the run is done, before anything else is written to the terminal.

Registry hosts come from the files: the line shows them escaped (see `basepin.escape`).
A thread draws it; the run only sets counters, so the line costs the run nothing.
"""

from __future__ import annotations

import os
import sys
import threading

from basepin.escape import shown

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

_ERASE = "\r\x1b[K"


def wanted(*, quiet: bool, stream: TextIO | None = None) -> bool:
    """Whether a progress line belongs on `stream` (stderr)."""
    stream = stream or sys.stderr
    if quiet or os.environ.get("CI") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


class Progress:
    """A progress line for one run: call `files_read`, `answered` or `waiting_for` as the run
    goes, `stop` at its end (also as a context manager)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        delay: float = 1.0,
        interval: float = 0.1,
        answers: str = "references answered",
    ) -> None:
        self._stream = stream or sys.stderr
        self._answers = answers
        self._delay = delay
        self._interval = interval
        self._files = 0
        self._answered = 0
        self._total: int | None = None
        self._waiting: tuple[str, ...] = ()
        self._what: str | None = None
        self._done = threading.Event()
        self._shown = ""
        self._thread = threading.Thread(target=self._draw, name="basepin-progress", daemon=True)
        self._thread.start()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- what the run reports ----------------------------------------------------------------

    def files_read(self, count: int) -> None:
        self._files = count

    def answered(self, answered: int, total: int, waiting: Sequence[str]) -> None:
        """The `basepin.resolve` progress hook: references answered out of `total`, and the
        registries still to answer."""
        self._answered, self._total, self._waiting = answered, total, tuple(waiting)

    def waiting_for(self, what: str) -> None:
        """Say what the run waits for, in words (already escaped where it must be)."""
        self._what = what

    def stop(self) -> None:
        """Erase the line (if it was shown) and stop drawing; the terminal is the run's again."""
        if self._done.is_set():
            return
        self._done.set()
        self._thread.join()
        if self._shown:
            self._write(_ERASE)

    # -- drawing -----------------------------------------------------------------------------

    def line(self) -> str:
        """The line as it would be drawn now."""
        parts = []
        if self._files:
            parts.append(f"{self._files} {'file' if self._files == 1 else 'files'} read")
        if self._total is not None:
            parts.append(f"{self._answered} of {self._total} {self._answers}")
        if self._waiting:
            hosts = ", ".join(shown(host) for host in self._waiting[:3])
            more = f" and {len(self._waiting) - 3} more" if len(self._waiting) > 3 else ""
            parts.append(f"waiting for {hosts}{more}")
        elif self._what:
            parts.append(self._what)
        return "basepin: " + ("; ".join(parts) or "working") + "..."

    def _draw(self) -> None:
        if self._done.wait(self._delay):
            return
        while True:
            line = self._fitted(self.line())
            if line != self._shown:
                self._write(_ERASE + line)
                self._shown = line
            if self._done.wait(self._interval):
                return

    def _fitted(self, line: str) -> str:
        """`line` cut to the terminal's width: a wrapped line could not be erased in place."""
        try:
            width = os.get_terminal_size(self._stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            width = 0
        width = width or 80  # a terminal that does not tell its size
        return line if len(line) < width else line[: max(width - 4, 1)] + "..."

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # a terminal that went away
            pass


def start(*, quiet: bool, answers: str = "references answered") -> Progress | None:
    """A progress line on stderr where one is wanted (see `wanted`), else None; `answers`
    names what the counts count."""
    return Progress(answers=answers) if wanted(quiet=quiet) else None
