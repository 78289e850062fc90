"""What expanding a Dockerfile word gives: the values a variable may hold (text, `Unset`,
`Unknown`), the `Expansion` of a word, and the error for a word BuildKit's lexer rejects.
"""

from __future__ import annotations

from basepin.records import NamedTuple


class Unset:
    """A variable without a value; `reason` says why, for the user."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class Unknown:
    """A variable whose value only the build knows (a platform ARG, or one built from such)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


EnvValue = str | Unset | Unknown


class ExpansionError(ValueError):
    """A word BuildKit's lexer rejects (unbalanced quotes, bad ${...}); the message says how."""


class Expansion(NamedTuple):
    """A word after expansion.

    `via` is the right-most variable whose non-empty value is part of `text`; `unknown` says
    why `text` cannot be known before the build, when it cannot.
    """

    text: str = ""
    via: str | None = None
    unknown: str | None = None


class ExpansionBuilder:
    """Collects the pieces of one expansion."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.via: str | None = None
        self.unknown: str | None = None

    def add(self, text: str) -> None:
        self.parts.append(text)

    def extend(self, other: Expansion) -> None:
        self.parts.append(other.text)
        if other.via is not None:
            self.via = other.via
        if self.unknown is None:
            self.unknown = other.unknown

    def done(self) -> Expansion:
        return Expansion("".join(self.parts), self.via, self.unknown)
