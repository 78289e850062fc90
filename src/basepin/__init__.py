"""basepin keeps the base images of container builds pinned and fresh."""

__version__ = "0.1.0"
