"""The default TLS trust: certifi's bundle, found without importing certifi."""

from __future__ import annotations

import concurrent.futures

import certifi
import pytest

from basepin.registry import trust


def test_the_bundle_is_certifi_s() -> None:
    assert trust._certifi_bundle() == certifi.where()


def test_where_the_package_has_no_folder_certifi_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert trust._certifi_bundle() == certifi.where()


def test_a_loader_made_not_to_start_loads_once_started() -> None:
    loader = trust.TrustLoader(start=False)
    loader.start()
    assert loader.context().verify_mode.name == "CERT_REQUIRED"


def test_the_context_can_be_asked_for_before_loading_starts() -> None:
    loader = trust.TrustLoader(start=False)
    asked = concurrent.futures.ThreadPoolExecutor(1).submit(loader.context)
    loader.start()
    assert asked.result(timeout=10) is loader.context()
