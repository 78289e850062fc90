"""basepin.records.NamedTuple: typing.NamedTuple's class syntax, built without `typing`."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from basepin.model import ImageUse, Platform, Span
from basepin.records import NamedTuple


class Point(NamedTuple):
    """A point, maybe labelled."""

    x: int
    y: int
    label: str | None = None
    tags: frozenset[str] = frozenset()

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)

    def moved(self, dx: int) -> Point:
        return self._replace(x=self.x + dx)

    def __str__(self) -> str:
        return f"({self.x}, {self.y})"


class TypingPoint(typing.NamedTuple):
    """A point, maybe labelled."""

    x: int
    y: int
    label: str | None = None
    tags: frozenset[str] = frozenset()


def test_a_plain_namedtuple_is_built() -> None:
    assert Point.__mro__ == (Point, tuple, object)
    assert type(Point) is type


@pytest.mark.parametrize(
    "attribute",
    ["_fields", "_field_defaults", "__doc__", "__name__", "__qualname__", "__module__"],
)
def test_class_attributes_match_typing(attribute: str) -> None:
    expected = getattr(TypingPoint, attribute)
    if attribute in ("__name__", "__qualname__"):
        expected = expected.replace("TypingPoint", "Point")
    assert getattr(Point, attribute) == expected


def test_fields_defaults_and_keywords() -> None:
    point = Point(1, 2)
    assert (point.x, point.y, point.label, point.tags) == (1, 2, None, frozenset())
    assert Point(y=2, x=1, label="a") == (1, 2, "a", frozenset())
    with pytest.raises(TypeError):
        Point(1)  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        point.x = 3  # type: ignore[misc]


def test_methods_properties_and_str() -> None:
    point = Point(3, -4)
    assert point.norm1 == 7
    assert point.moved(1) == Point(4, -4)
    assert str(point) == "(3, -4)"
    assert repr(point) == "Point(x=3, y=-4, label=None, tags=frozenset())"
    assert str(Platform("linux", "arm64", "v8")) == "linux/arm64/v8"
    assert str(Platform("linux", "amd64")) == "linux/amd64"


def test_tuple_behaviour_matches_typing() -> None:
    ours, theirs = Point(1, 2, "a"), TypingPoint(1, 2, "a")
    assert ours == tuple(theirs)
    assert hash(ours) == hash(theirs)
    assert ours._asdict() == theirs._asdict()
    assert Point._make([1, 2, "a", frozenset()]) == ours
    assert ours._replace(label="b").label == "b"
    assert copy.deepcopy(ours) == ours


@pytest.mark.parametrize(
    "value",
    [
        Point(1, 2, "a", frozenset({"x"})),
        Span(1, 2, 3, 4, 5, 6),
        Platform("linux", "arm", "v7"),
        ImageUse("Dockerfile", "from", "python:3.12", True, Span(1, 6, 1, 17, 5, 16), 1),
    ],
)
def test_pickles_by_reference_to_its_class(value: tuple[object, ...]) -> None:
    loaded = pickle.loads(pickle.dumps(value))
    assert loaded == value
    assert type(loaded) is type(value)


def test_annotations_are_kept_as_written() -> None:
    assert Point.__annotations__ == {
        "x": "int",
        "y": "int",
        "label": "str | None",
        "tags": "frozenset[str]",
    }


def test_a_field_without_default_after_one_with_a_default_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default follows a default"):

        class Bad(NamedTuple):
            a: int = 0
            b: int  # type: ignore[misc]


def test_namedtuple_attributes_cannot_be_replaced() -> None:
    with pytest.raises(AttributeError, match="_replace"):

        class Bad(NamedTuple):
            a: int

            def _replace(self) -> None:  # type: ignore[misc]
                pass


def test_other_bases_are_refused() -> None:
    with pytest.raises(TypeError, match="only inherit from NamedTuple"):

        class Bad(NamedTuple, int):  # type: ignore[misc]
            a: int


def test_offline_modules_import_neither_typing_nor_pathlib() -> None:
    modules = (
        "basepin.config, basepin.discover, basepin.read, basepin.extract.dockerfile, "
        "basepin.reference"
    )
    code = (
        f"import sys, {modules}\n"
        "print(sorted({'typing', 'pathlib', 'collections.abc'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_literal_types_values_are_there_at_run_time() -> None:
    from basepin import model

    assert model.SEVERITIES == ("error", "warning", "note")
    assert model.USE_KINDS[:4] == ("from", "copy-from", "mount-from", "syntax")
    assert "compose-image" in model.USE_KINDS
    with pytest.raises(AttributeError):
        _ = model.Severity  # a type for checkers only


def test_the_run_time_values_match_the_literal_types() -> None:
    # The Literal types exist only for type checkers (no `typing` at run time); read them from
    # the source so that a kind added to one and not the other fails here.
    import ast

    from basepin import model

    tree = ast.parse(Path(model.__file__).read_text(encoding="utf-8"))
    literals = {
        node.targets[0].id: tuple(ast.literal_eval(node.value.slice))
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Subscript)
        and getattr(node.value.value, "id", None) == "Literal"
    }
    assert literals["UseKind"] == model.USE_KINDS
    assert literals["Severity"] == model.SEVERITIES
