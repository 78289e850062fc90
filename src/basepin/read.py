"""Read the files discovery found, each through the reader of its kind (`basepin.extract`).

Between discover and extract: the only I/O on the way to the uses. A path's kind comes from
its name (`basepin.discover.kind_for`), so a check and the fix that follows it read a file the
same way. A Compose file's `.env` is read with it. A file that cannot be read, or a folder
that could not be searched, is a `ParsedDockerfile` with a problem that says why.

`reference_spans` is the same reading for `basepin fix`: where a file's references stand
now, asked under the file's lock just before it is rewritten.
"""

from __future__ import annotations

import os

from basepin.discover import env_file_of, is_env_file, kind_for
from basepin.model import ParsedDockerfile, Problem

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from basepin.config import Config
    from basepin.extract.compose_env import EnvFile

# A file this large leaves enough behind when parsed to be worth a garbage collection.
LARGE_FILE = 1 << 22


def read_files(
    paths: Sequence[str], config: Config, unreadable: Mapping[str, str] | None = None
) -> Iterator[ParsedDockerfile]:
    """Each path read and parsed, in order; a path that cannot be read (or a folder in
    `unreadable`, that could not be searched) comes with a problem that says why."""
    for path in paths:
        if unreadable and path in unreadable:
            reason = f"cannot read the folder: {unreadable[path]}; files in it are not checked"
            yield ParsedDockerfile(path, "", (), (Problem(path, 1, 1, reason),))
            continue
        try:
            read = [read_bytes(path)]
        except OSError as exc:
            yield ParsedDockerfile(path, "", (), (_unreadable(path, exc),))
            continue
        large = len(read[0]) > LARGE_FILE
        # The bytes are handed over, not kept here: the parser lets them go once it has the
        # text, before the peak of a large file.
        parsed = parse(read.pop(), path, config)
        if large:
            let_go_of_parse()
        yield parsed


def parse(data: bytes, path: str, config: Config) -> ParsedDockerfile:
    """The file at `path`, whose bytes are `data`, read as its kind of file."""
    # Handed over, not held here: a reader lets the bytes go once it has the text.
    held = [data]
    del data
    kind = kind_for(path, config.named_files())
    if kind == "dockerfile":
        from basepin.extract.dockerfile import parse_dockerfile

        return parse_dockerfile(held.pop(), path, config.build_args)
    if kind == "compose":
        from basepin.extract.compose import parse_compose

        env, problem = _env_file(env_file_of(path))
        parsed = parse_compose(held.pop(), path, env)
        return parsed if problem is None else parsed._replace(problems=(problem, *parsed.problems))
    from basepin.extract import reader

    return reader(kind)(held.pop(), path)


def _env_file(path: str) -> tuple[EnvFile | None, Problem | None]:
    """The `.env` file at `path` (None when there is none), or why it cannot be read."""
    from basepin.extract.compose_env import EnvFile

    if not os.path.isfile(path):  # none, or something else of that name (a virtualenv)
        return None, None
    try:
        data = read_bytes(path)
    except OSError as exc:
        return None, _unreadable(path, exc, "; the Compose files beside it take variables from it")
    # Decoded as `fix` decodes it: offsets into this text are offsets fix can apply.
    return EnvFile(path, data.decode("utf-8", "surrogateescape")), None


def _unreadable(path: str, exc: OSError, consequence: str = "") -> Problem:
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileNotFoundError) and os.path.islink(path):
        reason = "it is a symbolic link to a file that does not exist"
    return Problem(path, 1, 1, f"cannot read the file: {reason}{consequence}")


def reference_spans(config: Config, path: str, data: bytes) -> set[tuple[int, int]]:
    """Where the references of the file at `path` (whose bytes are `data`) stand now, as the
    check that planned the fixes reads it (with the same build arguments and `.env`): the
    spans of its uses that lie in it. In a `.env` file: where each variable's value is."""
    if is_env_file(path):
        from basepin.extract.compose_env import EnvFile, read_env

        entries = read_env(EnvFile(path, data.decode("utf-8", "surrogateescape"))).entries
        return {(entry.start, entry.end) for entry in entries.values()}
    uses = parse(data, path, config).uses  # fix holds the bytes: it writes them
    if len(data) > LARGE_FILE:
        let_go_of_parse()
    return {(use.span.start, use.span.end) for use in uses if use.path == path}


def let_go_of_parse() -> None:
    """Free what parsing a file left in reference cycles (the extractor and the ARG scope
    it hands its own methods to refer to each other): about four times the file, else held
    until the collector's next full pass, and then one large file's peak adds to the next."""
    import gc

    gc.collect()


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()
