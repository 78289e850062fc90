"""Shared test set-up: fixture modules live in tests/fixtures/ and are loaded here."""

from __future__ import annotations

pytest_plugins: list[str] = [
    "fixtures.hub",
    "fixtures.osv",
    "fixtures.github",
    "fixtures.hostile",
    "fixtures.hostile_text",
    "fixtures.registry",
]
