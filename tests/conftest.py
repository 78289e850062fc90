"""Shared test set-up: fixture modules live in tests/fixtures/ and are loaded here."""

from __future__ import annotations

import os

from hypothesis import settings

pytest_plugins: list[str] = [
    "fixtures.eol",
    "fixtures.hub",
    "fixtures.osv",
    "fixtures.github",
    "fixtures.hostile",
    "fixtures.hostile_text",
    "fixtures.registry",
]

# In CI the property tests draw the same examples every run and keep no example database, so
# a run's result depends on the code alone.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")
