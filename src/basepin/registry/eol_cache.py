"""endoflife.date's product data as kept between runs: one small JSON file per product.

A product's answer is asked for at most once a day (`FRESH_SECONDS`); an offline run, or an
online one that cannot reach endoflife.date, judges with what is kept, however old. Files go
in `eol/` beside the registry cache (`--cache-dir`, `BASEPIN_CACHE_DIR`, the user cache folder)
and are replaced whole, so concurrent runs read one answer or another, never half of one.
Reading needs neither httpx nor sqlite3: an offline check with end-of-life data stays light.
"""

from __future__ import annotations

import contextlib
import os
import sys

from basepin.model import EolCycle, Lifecycle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from basepin.reference import ImageReference

EOL_URL = "https://endoflife.date"
FRESH_SECONDS = 24 * 60 * 60
_FORMAT = 1
_PRODUCT_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")


def default_cache_dir(
    env: Mapping[str, str] | None = None, platform: str = sys.platform, home: str | None = None
) -> str:
    """The user's cache folder for basepin, as `registry.cache.default_folder` names it (with
    os.path alone: pathlib costs an offline check its start-up)."""
    env = os.environ if env is None else env
    home = os.path.expanduser("~") if home is None else home
    if platform == "win32":
        base = env.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return os.path.join(base, "basepin", "Cache")
    if platform == "darwin":
        return os.path.join(home, "Library", "Caches", "basepin")
    xdg = env.get("XDG_CACHE_HOME", "")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(home, ".cache")
    return os.path.join(base, "basepin")


def is_product_name(name: str) -> bool:
    return 0 < len(name) <= 64 and set(name) <= _PRODUCT_NAME_CHARS and name[0].isalnum()


class LifecycleStore:
    """The products a run's references carry, what is known of each, and what must be asked.

    `folder` is the cache folder (None: nothing is read or kept); `now` the run's clock.
    """

    def __init__(self, folder: str | os.PathLike[str] | None, now: float) -> None:
        self.folder = None if folder is None else os.path.join(os.fspath(folder), "eol")
        self.now = now
        self.products: set[str] = set()
        self.known: dict[str, Lifecycle] = {}
        # Data older than a day, used when a fresh answer cannot be had.
        self.stale: dict[str, Lifecycle] = {}
        self.warnings: list[str] = []

    def add(self, refs: Iterable[ImageReference]) -> None:
        from basepin.products import product_names

        for product in sorted(product_names(refs) - self.products):
            self.products.add(product)
            kept = self.read(product)
            if kept is None:
                continue
            age = self.now - (kept.fetched.timestamp() if kept.fetched else 0.0)
            if 0 <= age < FRESH_SECONDS:
                self.known[product] = kept
            else:
                self.stale[product] = kept

    def missing(self) -> list[str]:
        """The products to ask endoflife.date about (none is fresh in the cache)."""
        return sorted(self.products - set(self.known))

    def found(self, lifecycle: Lifecycle) -> None:
        self.known[lifecycle.product] = lifecycle
        self.stale.pop(lifecycle.product, None)
        self.write(lifecycle)

    def failed(self, product: str, reason: str) -> None:
        """A product endoflife.date did not answer for: judged with older data, or not."""
        kept = self.stale.pop(product, None)
        if kept is not None and kept.fetched is not None:
            self.known[product] = kept
            self.warnings.append(f"{reason}; using its answer of {kept.fetched:%Y-%m-%d}")
        else:
            self.warnings.append(f"{reason}; end of life not checked for {product}")

    def lifecycles(self) -> dict[str, Lifecycle]:
        return dict(self.known)

    def read(self, product: str) -> Lifecycle | None:
        """What is kept for `product`, of any age; None when nothing (readable) is."""
        if self.folder is None or not is_product_name(product):
            return None
        import json  # here: an offline check that finds nothing kept needs neither

        try:
            with open(os.path.join(self.folder, product + ".json"), encoding="utf-8") as stream:
                return _decode(json.load(stream), product)
        except (OSError, ValueError, TypeError, KeyError, IndexError):
            return None

    def write(self, lifecycle: Lifecycle) -> None:
        if self.folder is None or not is_product_name(lifecycle.product):
            return
        import json

        path = os.path.join(self.folder, lifecycle.product + ".json")
        temporary = f"{path}.{os.getpid()}.tmp"
        try:
            os.makedirs(self.folder, exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as stream:
                json.dump(_encode(lifecycle), stream)
            os.replace(temporary, path)
        except OSError as exc:
            self.warnings.append(
                f"cannot keep endoflife.date's answer in {self.folder}: {exc.strerror}"
            )
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _encode(lifecycle: Lifecycle) -> dict[str, object]:
    from datetime import datetime, timezone

    fetched = lifecycle.fetched or datetime.now(timezone.utc)
    return {
        "format": _FORMAT,
        "product": lifecycle.product,
        "label": lifecycle.label,
        "fetched": fetched.isoformat(),
        "cycles": [
            [c.name, None if c.eol is None else c.eol.isoformat(), c.is_eol, c.codename]
            for c in lifecycle.cycles
        ],
    }


def _decode(data: dict[str, object], product: str) -> Lifecycle | None:
    from datetime import date, datetime, timezone

    if data.get("format") != _FORMAT or data.get("product") != product:
        return None
    label, fetched, rows = data["label"], data["fetched"], data["cycles"]
    if not isinstance(label, str) or not isinstance(fetched, str) or not isinstance(rows, list):
        return None
    cycles = []
    for name, eol, is_eol, codename in rows:
        if not isinstance(name, str) or not isinstance(is_eol, bool):
            return None
        if codename is not None and not isinstance(codename, str):
            return None
        when = None if eol is None else date.fromisoformat(eol)
        cycles.append(EolCycle(name, when, is_eol, codename))
    when_fetched = datetime.fromisoformat(fetched)
    if when_fetched.tzinfo is None:
        when_fetched = when_fetched.replace(tzinfo=timezone.utc)
    return Lifecycle(product, label, tuple(cycles), when_fetched)
