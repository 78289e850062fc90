"""Text from outside made safe to show: registry and Docker Hub answers, token realms, file
names and Dockerfile contents reach terminals, CI logs and reports only through here.

- `shown`: control characters, invisible and bidi-reordering characters become visible
  escapes (`\\x1b`, `\\u202e`, `\\n`), so such text can neither drive a terminal, reorder
  what is read, nor split a line.
- `not_a_command`: a line that would begin with `::` (after the white space the Actions
  runner trims) begins with `\\x3a:` instead, so it is no workflow command.
- `escape_data`, `escape_property`, `workflow_command`: workflow commands, escaped as the
  Actions toolkit escapes them (actions/toolkit, packages/core/src/command.ts).
- `json_text`: the last characters JSON allows raw made escapes, in `json.dumps` output.
- `redacted_url`: credentials and tokens inside URLs left out of any text that shows them;
  `redact_logs` does the same for what the HTTP stack logs.

The runner also reads the older `##[command]data` form anywhere in a line, so `shown` and
`json_text` break up `##[` as well.

Imported by the offline path (the report formatters): only `re` at import time.
"""

from __future__ import annotations

import functools  # imported by `re` already
import re

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping

# C0 controls, DEL and C1 controls; the Arabic letter mark and the other bidi marks,
# embeddings, overrides and isolates; zero-width and other invisible format characters; line
# and paragraph separators; the BOM; interlinear annotations; lone surrogates (a file name
# that is not UTF-8); tag characters. Then `##[`, the runner's older command prefix.
# ASCII text (nearly all of it) needs only the first line's worth, and that pattern compiles
# in a tenth of the time: start-up counts.
_UNSAFE_ASCII = re.compile("[\x00-\x1f\x7f]|##\\[")


@functools.cache
def _unsafe() -> re.Pattern[str]:
    return re.compile(
        "[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
        "\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]|##\\["
    )


_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "##[": "#\\x23["}


def _escape(match: re.Match[str]) -> str:
    found = match.group()
    short = _SHORT.get(found)
    if short is not None:
        return short
    point = ord(found)
    if point < 0x100:
        return f"\\x{point:02x}"
    if point < 0x10000:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"


def _escape_but_tabs(match: re.Match[str]) -> str:
    return "\t" if match.group() == "\t" else _escape(match)


def _escaped(text: str, escape: Callable[[re.Match[str]], str]) -> str:
    pattern = _UNSAFE_ASCII if text.isascii() else _unsafe()
    return pattern.sub(escape, text)


def shown(text: str) -> str:
    """`text` on one line with nothing in it a terminal or a log viewer would act on: the
    characters above as Python-style escapes. Everything else, accents and CJK included, is
    left as it is."""
    return _escaped(text, _escape)


def not_a_command(line: str) -> str:
    """`line` (already `shown`), its first colon escaped if it would start a workflow command.

    The runner trims the white space .NET knows (`str.isspace` covers it) before it looks."""
    start = len(line) - len(line.lstrip())
    if line.startswith("::", start):
        return f"{line[:start]}\\x3a{line[start + 1 :]}"
    return line


def shown_lines(text: str) -> str:
    """Multi-line text (a diff of a Dockerfile) with its line ends and tabs kept, everything
    else `shown` line by line, and no line a workflow command."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        end = "\r" if line.endswith("\r") and index < len(lines) - 1 else ""
        body = line[: len(line) - len(end)]
        lines[index] = not_a_command(_escaped(body, _escape_but_tabs)) + end
    return "\n".join(lines)


# -- GitHub Actions workflow commands ----------------------------------------------------------


def escape_data(text: str) -> str:
    """A command's message, escaped as the toolkit's `escapeData` escapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value, escaped as the toolkit's `escapeProperty`: as data, and the `:` and
    `,` that would end it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str, properties: Mapping[str, str] | None = None) -> str:
    """One workflow command line (no line end), e.g. `::warning title=basepin::text`; the
    message and property values are `shown` first. Not for `add-mask`, whose data must stay
    exact."""
    shown_properties = ",".join(
        f"{key}={escape_property(shown(value))}" for key, value in (properties or {}).items()
    )
    head = f"{name} {shown_properties}" if shown_properties else name
    return f"::{head}::{escape_data(shown(message))}"


# -- JSON ---------------------------------------------------------------------------------------


def json_text(dumped: str) -> str:
    """`json.dumps` output (ASCII) with DEL, which JSON lets stand raw, as `\\u007f`, and `##[`
    as `#\\u0023[`: the same data, nothing raw for a terminal or the runner. Both can only be
    inside strings, so a plain replace is exact."""
    if "\x7f" in dumped:
        dumped = dumped.replace("\x7f", "\\u007f")
    if "##[" in dumped:
        dumped = dumped.replace("##[", "#\\u0023[")
    return dumped


# -- secrets in URLs ----------------------------------------------------------------------------


@functools.cache
def _url_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """A URL in text; its user information, up to the last `@` of the authority as URL
    parsers read it (`user:p@ss@host`); query parameters whose names say they hold a secret
    (`token`, `access_token`, `X-Amz-Signature`, `client_secret`, `password`, `api_key`)."""
    return (
        re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\t\n\v\f\r \"'<>`]+"),
        re.compile(r"(?<=://)[^/?#]*@"),
        re.compile(
            r"([?&;][^=&#;]*?(?:token|secret|pass|pwd|sig|credential|auth|key|session|code)"
            r"[^=&#;]*=)[^&#;]*",
            re.IGNORECASE,
        ),
    )


REDACTED = "***"


def redacted_url(text: str) -> str:
    """`text` with every URL in it stripped of its credentials: the user information
    (`https://user:secret@host` -> `https://***@host`) and the values of query parameters
    named like secrets (`?token=abc` -> `?token=***`)."""
    if "://" not in text:
        return text
    return _url_patterns()[0].sub(_redact, text)


def _redact(match: re.Match[str]) -> str:
    _, userinfo, secret_parameter = _url_patterns()
    url = userinfo.sub(REDACTED + "@", match.group(), count=1)
    return secret_parameter.sub(lambda found: found.group(1) + REDACTED, url)


# Loggers that may carry URLs or registry text: the HTTP stack's and basepin's own network
# modules' (a test holds this list to the modules that log).
LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "basepin.registry.auth",
    "basepin.registry.credentials",
    "basepin.registry.early",
    "basepin.registry.http",
    "basepin.registry.hub",
    "basepin.registry.lookup",
    "basepin.registry.oci",
)


def redact_record(record: logging.LogRecord) -> bool:
    """A logging filter: the record's message `shown`, with `redacted_url`. Keeps every record."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit: logging reports it itself
        return True
    safe = shown(redacted_url(message))
    if safe != message:
        record.msg, record.args = safe, None
    return True


def redact_logs() -> None:
    """Put `redact_record` on the `LOGGERS` (once): whoever turns on debug logging sees no
    credentials and no raw registry text."""
    import logging

    for name in LOGGERS:
        logger = logging.getLogger(name)
        if redact_record not in logger.filters:
            logger.addFilter(redact_record)
