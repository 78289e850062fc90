"""Which endoflife.date products an image carries: the data `basepin.products` reads.

Product names are endoflife.date's own (`/api/v1/products/<name>`). An image that is not
listed here carries no product of its own: basepin does not guess from a name. OS releases
named in a tag's suffix or an image's name count for any image (`-bookworm` is Debian 12).
"""

from __future__ import annotations

# Docker Official Images (`library/<name>` on Docker Hub, or under that path on a mirror) whose
# tag version is a version of an endoflife.date product: `python:3.8` is Python 3.8.
OFFICIAL_IMAGES: dict[str, str] = {
    "almalinux": "almalinux",
    "alpine": "alpine-linux",
    "amazoncorretto": "amazon-corretto",
    "amazonlinux": "amazon-linux",
    "caddy": "caddy",
    "cassandra": "apache-cassandra",
    "centos": "centos",
    "composer": "composer",
    "consul": "consul",
    "couchbase": "couchbase-server",
    "couchdb": "apache-couchdb",
    "debian": "debian",
    "docker": "docker-engine",
    "drupal": "drupal",
    "eclipse-temurin": "eclipse-temurin",
    "elasticsearch": "elasticsearch",
    "elixir": "elixir",
    "erlang": "erlang",
    "fedora": "fedora",
    "flink": "apache-flink",
    "golang": "go",
    "gradle": "gradle",
    "groovy": "apache-groovy",
    "haproxy": "haproxy",
    "haskell": "ghc",
    "httpd": "apache-http-server",
    "influxdb": "influxdb",
    "jetty": "eclipse-jetty",
    "julia": "julia",
    "kibana": "kibana",
    "kong": "kong-gateway",
    "logstash": "logstash",
    "mariadb": "mariadb",
    "matomo": "matomo",
    "maven": "apache-maven",
    "memcached": "memcached",
    "mongo": "mongodb",
    "mysql": "mysql",
    "neo4j": "neo4j",
    "nextcloud": "nextcloud",
    "nginx": "nginx",
    "node": "nodejs",
    "openjdk": "openjdk-builds-from-oracle",
    "oraclelinux": "oracle-linux",
    "perl": "perl",
    "php": "php",
    "phpmyadmin": "phpmyadmin",
    "postgres": "postgresql",
    "python": "python",
    "rabbitmq": "rabbitmq",
    "redis": "redis",
    "rockylinux": "rocky-linux",
    "ruby": "ruby",
    "rust": "rust",
    "sapmachine": "sapmachine",
    "solr": "solr",
    "sonarqube": "sonar",
    "spark": "apache-spark",
    "telegraf": "telegraf",
    "tomcat": "tomcat",
    "traefik": "traefik",
    "ubuntu": "ubuntu",
    "varnish": "varnish",
    "vault": "hashicorp-vault",
    "wordpress": "wordpress",
    "zookeeper": "zookeeper",
}
# Official images no endoflife.date product covers (their tags' OS releases still count).
NO_PRODUCT = frozenset(
    {
        "adminer",
        "bash",
        "buildpack-deps",
        "busybox",
        "clojure",
        "eclipse-mosquitto",
        "gcc",
        "ghost",
        "hello-world",
        "mongo-express",
        "nats",
        "percona",
        "registry",
        "swift",
    }
)

# Images elsewhere whose tag version is a product's version.
VENDOR_IMAGES: dict[str, str] = {
    "mcr.microsoft.com/dotnet/aspnet": "dotnet",
    "mcr.microsoft.com/dotnet/runtime": "dotnet",
    "mcr.microsoft.com/dotnet/runtime-deps": "dotnet",
    "mcr.microsoft.com/dotnet/sdk": "dotnet",
    "public.ecr.aws/amazonlinux/amazonlinux": "amazon-linux",
}

# OS release code names, in a tag (`3.8-slim-bullseye`, `jammy-20240111`) or an image name.
CODENAMES: dict[str, tuple[str, str]] = {
    "wheezy": ("debian", "7"),
    "jessie": ("debian", "8"),
    "stretch": ("debian", "9"),
    "buster": ("debian", "10"),
    "bullseye": ("debian", "11"),
    "bookworm": ("debian", "12"),
    "trixie": ("debian", "13"),
    "forky": ("debian", "14"),
    "precise": ("ubuntu", "12.04"),
    "trusty": ("ubuntu", "14.04"),
    "vivid": ("ubuntu", "15.04"),
    "wily": ("ubuntu", "15.10"),
    "xenial": ("ubuntu", "16.04"),
    "yakkety": ("ubuntu", "16.10"),
    "zesty": ("ubuntu", "17.04"),
    "artful": ("ubuntu", "17.10"),
    "bionic": ("ubuntu", "18.04"),
    "cosmic": ("ubuntu", "18.10"),
    "eoan": ("ubuntu", "19.10"),
    "focal": ("ubuntu", "20.04"),
    "hirsute": ("ubuntu", "21.04"),
    "impish": ("ubuntu", "21.10"),
    "jammy": ("ubuntu", "22.04"),
    "kinetic": ("ubuntu", "22.10"),
    "lunar": ("ubuntu", "23.04"),
    "mantic": ("ubuntu", "23.10"),
    "noble": ("ubuntu", "24.04"),
    "oracular": ("ubuntu", "24.10"),
    "plucky": ("ubuntu", "25.04"),
    "questing": ("ubuntu", "25.10"),
}

# Release code names an official image's own tags use for its product (`node:carbon-alpine`).
IMAGE_CODENAMES: dict[str, dict[str, str]] = {
    "node": {
        "argon": "4",
        "boron": "6",
        "carbon": "8",
        "dubnium": "10",
        "erbium": "12",
        "fermium": "14",
        "gallium": "16",
        "hydrogen": "18",
        "iron": "20",
        "jod": "22",
        "krypton": "24",
    },
}

# A word with a version attached (`alpine3.16`, `ubi8`, `php8.2`, `al2023`) or, for the words
# in SPACED_WORDS, as the next part of the tag (`otp-26`, `eclipse-temurin-17`).
VERSIONED_WORDS: dict[str, str] = {
    "alpine": "alpine-linux",
    "al": "amazon-linux",
    "almalinux": "almalinux",
    "centos": "centos",
    "debian": "debian",
    "fedora": "fedora",
    "oraclelinux": "oracle-linux",
    "rockylinux": "rocky-linux",
    "ubi": "rhel",
    "ubuntu": "ubuntu",
    "amazoncorretto": "amazon-corretto",
    "corretto": "amazon-corretto",
    "node": "nodejs",
    "openjdk": "openjdk-builds-from-oracle",
    "otp": "erlang",
    "php": "php",
    "python": "python",
    "sapmachine": "sapmachine",
    "temurin": "eclipse-temurin",
    # Java by its major version alone: the JDK named by a vendor word in the same tag, else
    # the image's own (JAVA_DEFAULTS), else not guessed.
    "java": "java",
    "jdk": "java",
    "jre": "java",
}
SPACED_WORDS = frozenset(
    {
        "amazoncorretto",
        "corretto",
        "java",
        "jdk",
        "jre",
        "openjdk",
        "otp",
        "sapmachine",
        "temurin",
    }
)
# The products of OS releases: the only ones read from an image's name (`base-debian12`).
OS_PRODUCTS = frozenset(
    {
        "almalinux",
        "alpine-linux",
        "amazon-linux",
        "centos",
        "debian",
        "fedora",
        "oracle-linux",
        "rhel",
        "rocky-linux",
        "ubuntu",
    }
)
# Vendor words that say which JDK a `jdk17` is; None: a JDK endoflife.date does not cover.
JAVA_VENDORS: dict[str, str | None] = {
    "amazoncorretto": "amazon-corretto",
    "corretto": "amazon-corretto",
    "graal": None,
    "graalvm": None,
    "liberica": "bellsoft-liberica",
    "openjdk": "openjdk-builds-from-oracle",
    "sapmachine": "sapmachine",
    "semeru": None,
    "temurin": "eclipse-temurin",
    "zulu": "azul-zulu",
}
# Official images whose `jdk17`/`java17` variants are built on one JDK unless a vendor word
# says otherwise.
JAVA_DEFAULTS: dict[str, str] = {
    "clojure": "eclipse-temurin",
    "flink": "eclipse-temurin",
    "gradle": "eclipse-temurin",
    "groovy": "eclipse-temurin",
    "jetty": "eclipse-temurin",
    "maven": "eclipse-temurin",
    "tomcat": "eclipse-temurin",
}
