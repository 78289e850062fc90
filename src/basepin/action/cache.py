"""The key under which the Action keeps basepin's cache across workflow runs (actions/cache).

The key changes every `cache-ttl` seconds (the configuration's, 600 by default): the first run
of each period starts from the latest cache saved (its prefix is the restore key) and saves
its own; the later runs of the period restore that one and save nothing. What a digest is
never changes and is reused for good; a tag's answer is reused only while it is younger than
`cache-ttl`, which basepin checks as it reads each one, whichever cache was restored.

    python -m basepin.action.cache   # appends key=... and prefix=... to $GITHUB_OUTPUT
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from basepin.action.inputs import read_inputs
from basepin.action.workflow import append, format_outputs
from basepin.config import Config, find_config_file, load_config
from basepin.errors import BasepinError

# A period shorter than this would save a cache nearly every run, for little.
SHORTEST_PERIOD = 60


def cache_key(environ: Mapping[str, str], now: float) -> dict[str, str]:
    """`key` and `prefix` (the restore key) for the run `environ` describes."""
    prefix = f"basepin-cache-v1-{environ.get('RUNNER_OS', 'unknown')}-"
    period = max(_cache_ttl(environ), SHORTEST_PERIOD)
    return {"key": f"{prefix}{int(now // period)}", "prefix": prefix}


def _cache_ttl(environ: Mapping[str, str]) -> int:
    """The configuration's `cache-ttl`, found as the check finds it; the default where the
    configuration cannot be read (the check step reports why)."""
    try:
        inputs = read_inputs(environ)
        found = inputs.config or find_config_file(inputs.paths[0] if inputs.paths else ".")
        return (load_config(found) if found else Config()).cache_ttl
    except (BasepinError, OSError):
        return Config().cache_ttl


def main(environ: Mapping[str, str] | None = None, now: float | None = None) -> int:
    environ = os.environ if environ is None else environ
    values = cache_key(environ, time.time() if now is None else now)
    output = environ.get("GITHUB_OUTPUT")
    if output:
        append(output, format_outputs(values))
    else:
        print(format_outputs(values), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
