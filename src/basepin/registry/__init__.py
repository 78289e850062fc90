"""Registry clients: OCI distribution, Docker Hub's API, credentials and tokens, the cache.

httpx's package imports its command-line client (click, pygments and rich where installed)
only to offer `httpx.main`, which basepin never calls; that costs every online run tens of
milliseconds. A None entry in sys.modules makes that one import fail, and httpx then skips it.
"""

from __future__ import annotations

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
