"""The parsed Dockerfiles that wait, in order, while the registries answer.

An online check reads every file before the last answer is in, and judges them after. A
monorepo's uses would then all be in memory at once; beyond the first `IN_MEMORY` files they
wait pickled in a temporary file instead (about a fifth of their size, and read back ten
times faster than the files could be parsed again), so memory does not grow with the tree.
"""

from __future__ import annotations

from basepin.model import ParsedDockerfile

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO

# Files kept as they are; a few hundred cost well under a megabyte.
IN_MEMORY = 256
# Files pickled together: fewer, larger pickles are a third quicker to write and read back.
BATCH = 16


class FileQueue:
    def __init__(self, in_memory: int | None = None) -> None:
        self._in_memory = IN_MEMORY if in_memory is None else in_memory
        self._kept: list[ParsedDockerfile] = []
        self._batch: list[ParsedDockerfile] = []
        self._spilled: IO[bytes] | None = None
        self._batches = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def put(self, parsed: ParsedDockerfile) -> None:
        self._count += 1
        if len(self._kept) < self._in_memory:
            self._kept.append(parsed)
            return
        self._batch.append(parsed)
        if len(self._batch) == BATCH:
            self._spill()

    def _spill(self) -> None:
        import pickle  # only a tree of more than IN_MEMORY files needs it

        if self._spilled is None:
            import tempfile

            # Open across put() calls, closed by drain(); unnamed, it leaves nothing behind.
            self._spilled = tempfile.TemporaryFile()  # noqa: SIM115
        pickle.dump(self._batch, self._spilled, protocol=pickle.HIGHEST_PROTOCOL)
        self._batches += 1
        self._batch = []

    def drain(self) -> Iterator[ParsedDockerfile]:
        """Each file once, in the order put; each let go as it is taken."""
        self._kept.reverse()
        while self._kept:
            self._count -= 1
            yield self._kept.pop()
        if self._batch:
            self._spill()
        spilled, self._spilled = self._spilled, None
        if spilled is None:
            return
        import pickle

        with spilled:
            spilled.seek(0)
            while self._batches:
                self._batches -= 1
                batch: list[ParsedDockerfile] = pickle.load(spilled)  # put() wrote it
                batch.reverse()
                while batch:
                    self._count -= 1
                    yield batch.pop()
