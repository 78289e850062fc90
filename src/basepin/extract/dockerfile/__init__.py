"""Dockerfiles: `parse_dockerfile` (bytes, path, build args -> the images a build pulls).

The modules inside read a Dockerfile the way BuildKit does: `parse` (bytes to text, and what
is not UTF-8), `lines` (instructions, parser directives, heredocs), `commands` (an
instruction's flags and words, --mount fields), `words` (the shell lexer; what it gives in
`expansion`, the `${V#p}` and `${V/p/r}` operators in `patterns` and `replace`), `stages`
(stages and the ARGs FROM sees) and `instructions` (FROM, COPY --from, RUN --mount and ONBUILD).
"""

from basepin.extract.dockerfile.parse import parse_dockerfile

__all__ = ["parse_dockerfile"]
