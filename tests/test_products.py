"""The image -> endoflife.date product mapping, on hand-picked references and on real tags of
Docker Official Images (tests/data/official-tags/tags.txt, sources named in the file)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from basepin.model import EolCycle, Lifecycle
from basepin.product_table import NO_PRODUCT, OFFICIAL_IMAGES
from basepin.products import ProductVersion, cycle_of, product_names, products_of
from basepin.reference import parse_reference
from basepin.registry.eol import parse_product

DATA = Path(__file__).parent / "data"
TAGS = DATA / "official-tags" / "tags.txt"

# The Docker Official Images Docker Hub lists with the most pulls (its billion-pull tier and
# the next), in no particular order.
MOST_PULLED = [
    *("alpine", "busybox", "nginx", "ubuntu", "python", "redis", "postgres", "node", "httpd"),
    *("memcached", "mongo", "mysql", "traefik", "mariadb", "docker", "rabbitmq", "golang"),
    *("hello-world", "registry", "openjdk", "debian", "centos", "wordpress", "php", "consul"),
    *("influxdb", "haproxy", "elasticsearch", "amazonlinux", "sonarqube", "tomcat", "ruby"),
    *("eclipse-temurin", "bash", "maven", "gradle", "vault", "telegraf", "nextcloud", "kong"),
    "zookeeper",
]


def real_tags() -> list[tuple[str, str]]:
    pairs = []
    for line in TAGS.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        image, _, tags = line.partition(": ")
        pairs += [(image, tag.strip()) for tag in tags.split(",")]
    return pairs


def lifecycle(product: str) -> Lifecycle:
    found = parse_product(json.loads((DATA / "endoflife" / f"{product}.json").read_text()), product)
    assert found is not None
    return found


T = tuple[str, tuple[int, ...] | None, str | None]
TEMURIN_17: T = ("eclipse-temurin", (17,), None)
AL2023: T = ("amazon-linux", (2023,), None)
CORRETTO_21: T = ("amazon-corretto", (21,), None)


def versions(text: str) -> list[T]:
    return [(v.product, v.release, v.cycle) for v in products_of(parse_reference(text))]


def test_the_most_pulled_official_images_are_in_the_table() -> None:
    assert len(MOST_PULLED) == 41
    missing = [name for name in MOST_PULLED if name not in {*OFFICIAL_IMAGES, *NO_PRODUCT}]
    # openjdk is deprecated on Docker Hub but still pulled; it is in the table too.
    assert missing == []
    assert len([name for name in MOST_PULLED if name in OFFICIAL_IMAGES]) >= 34


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("python:3.8-slim-bullseye", [("python", (3, 8), None), ("debian", None, "11")]),
        ("node:16-alpine3.16", [("nodejs", (16,), None), ("alpine-linux", (3, 16), None)]),
        ("golang:1.20", [("go", (1, 20), None)]),
        ("postgres:12", [("postgresql", (12,), None)]),
        ("debian:11", [("debian", (11,), None)]),
        ("debian:bullseye-slim", [("debian", None, "11")]),
        ("ubuntu:20.04", [("ubuntu", (20, 4), None)]),
        ("ubuntu:jammy-20240111", [("ubuntu", None, "22.04")]),
        ("alpine:3.16", [("alpine-linux", (3, 16), None)]),
        ("node:carbon-alpine", [("nodejs", None, "8")]),
        ("eclipse-temurin:17-jdk-noble", [TEMURIN_17, ("ubuntu", None, "24.04")]),
        ("maven:3.9-eclipse-temurin-17", [("apache-maven", (3, 9), None), TEMURIN_17]),
        ("maven:3.9-amazoncorretto-21", [("apache-maven", (3, 9), None), CORRETTO_21]),
        (
            "tomcat:10.1-jdk17-temurin-jammy",
            [("tomcat", (10, 1), None), TEMURIN_17, ("ubuntu", None, "22.04")],
        ),
        ("gradle:8-jdk17-corretto", [("gradle", (8,), None), ("amazon-corretto", (17,), None)]),
        ("gradle:8-jdk17-graal", [("gradle", (8,), None)]),
        ("elixir:1.15-otp-26-alpine", [("elixir", (1, 15), None), ("erlang", (26,), None)]),
        ("wordpress:6.4-php8.2-apache", [("wordpress", (6, 4), None), ("php", (8, 2), None)]),
        ("amazoncorretto:17-al2023", [("amazon-corretto", (17,), None), AL2023]),
        ("traefik:v2.10", [("traefik", (2, 10), None)]),
        ("gcr.io/distroless/base-debian12", [("debian", (12,), None)]),
        ("registry.access.redhat.com/ubi8/ubi-minimal:8.9", [("rhel", (8,), None)]),
        (
            "mcr.microsoft.com/dotnet/aspnet:8.0-bookworm-slim",
            [("dotnet", (8, 0), None), ("debian", None, "12")],
        ),
        ("public.ecr.aws/docker/library/python:3.12", [("python", (3, 12), None)]),
        ("registry.example.com:5000/library/node:20", [("nodejs", (20,), None)]),
        # Not guessed: an image the table does not know, `latest`, no tag.
        ("registry.example.com/team/python:3.8", []),
        ("ghcr.io/acme/node:16", []),
        ("busybox:1.36", []),
        ("python:latest", []),
        ("python", []),
        # ...but its tag's OS release counts.
        ("ghcr.io/acme/app:1.4-bullseye", [("debian", None, "11")]),
    ],
)
def test_products_of(reference: str, expected: list[T]) -> None:
    assert versions(reference) == expected


@pytest.mark.parametrize(
    ("product", "version", "cycle"),
    [
        ("python", ProductVersion("python", (3, 8, 18)), "3.8"),
        ("python", ProductVersion("python", (3,)), "3.13"),  # floats: the newest 3.x
        ("python", ProductVersion("python", (1, 1)), None),
        ("postgresql", ProductVersion("postgresql", (9, 6, 24)), "9.6"),
        ("postgresql", ProductVersion("postgresql", (12, 17)), "12"),
        ("ubuntu", ProductVersion("ubuntu", (20, 4)), "20.04"),
        ("debian", ProductVersion("debian", None, "11"), "11"),
        ("debian", ProductVersion("debian", None, "42"), None),
        ("go", ProductVersion("go", (1, 20, 14)), "1.20"),
        ("nodejs", ProductVersion("nodejs", (16, 20, 2)), "16"),
    ],
)
def test_cycle_of(product: str, version: ProductVersion, cycle: str | None) -> None:
    found = cycle_of(lifecycle(product), version)
    assert (found.name if found else None) == cycle


def test_cycles_are_matched_by_name_not_position() -> None:
    odd = Lifecycle("x", "X", (EolCycle("9.1"), EolCycle("8.19"), EolCycle("9.0"), EolCycle("7")))
    assert cycle_of(odd, ProductVersion("x", (8, 19, 3))) == EolCycle("8.19")
    assert cycle_of(odd, ProductVersion("x", (7, 17, 9))) == EolCycle("7")
    assert cycle_of(odd, ProductVersion("x", (9,))) == EolCycle("9.1")


def test_real_official_tags_map_to_their_products() -> None:
    """Every real tag of an image in the table whose tag starts with a version maps to the
    image's product; OS code names and versioned words in the suffixes are found; an image
    without a product maps only its tags' OS releases."""
    pairs = real_tags()
    assert len(pairs) >= 400
    mapped: Counter[str] = Counter()
    unmapped: list[str] = []
    for image, tag in pairs:
        ref = parse_reference(f"{image}:{tag}")
        found = {v.product: v for v in products_of(ref)}
        if found:
            mapped[image] += 1
        else:
            unmapped.append(f"{image}:{tag}")
        own = OFFICIAL_IMAGES.get(image)
        if tag[0].isdigit() and own is not None:
            assert own in found, f"{image}:{tag}"
        if image in NO_PRODUCT:
            assert set(found) <= {"debian", "ubuntu", "alpine-linux"}, f"{image}:{tag}"
        for word, (product, cycle) in (("bullseye", ("debian", "11")), ("jessie", ("debian", "8"))):
            if word in tag.split("-"):
                assert found[product].cycle == cycle
        if "-otp-" in tag:
            assert found["erlang"].release == (int(tag.split("-otp-")[1].split("-")[0]),)
        if "-php" in tag:
            assert "php" in found
        if "alpine3." in tag:
            assert found["alpine-linux"].release[:1] == (3,)  # type: ignore[index]
    # What is left unmapped: images without a product, `latest` and words that name no
    # product version (`alpine` alone floats, `windowsservercore`, `tip`, `slim`, `cli`).
    assert not [
        t
        for t in unmapped
        if t.split(":")[0] in ("python", "golang", "elixir") and t.split(":")[1][0].isdigit()
    ]
    total = len(pairs)
    print(f"\n{sum(mapped.values())} of {total} real tags map to a product; unmapped: {unmapped}")


def test_product_names_are_endoflife_names() -> None:
    refs = [parse_reference(text) for text in ("python:3.8-slim-bullseye", "node:20-alpine3.19")]
    assert product_names(refs) == {"python", "debian", "nodejs", "alpine-linux"}


def test_recorded_answers_read_as_lifecycles() -> None:
    go = lifecycle("go")
    assert go.label == "Go"
    assert go.cycles[0] == EolCycle("1.25", None, False, None)
    assert EolCycle("1.20", date(2024, 2, 6), True, None) in go.cycles
    debian = lifecycle("debian")
    assert EolCycle("11", date(2024, 8, 14), True, "Bullseye") in debian.cycles
