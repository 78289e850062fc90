"""Dockerfiles: `parse_dockerfile` (bytes, path, build args -> the images a build pulls).

The rest of the package is the reader's inside, read the way BuildKit reads a Dockerfile.
"""

from basepin.extract.dockerfile.parse import parse_dockerfile

__all__ = ["parse_dockerfile"]
