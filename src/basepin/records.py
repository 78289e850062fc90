"""`NamedTuple` for the pipeline's immutable values, without importing `typing` at run time.

Type checkers see `typing.NamedTuple` itself. At run time a class declared with it becomes the
`collections.namedtuple` of its annotated fields, with the defaults given in the class body and
the body's methods, properties and docstring. Why: `typing` takes about 4.5 ms to import, some
40% of the interpreter's start-up, and `typing.NamedTuple` also compiles every annotation into a
ForwardRef; `basepin check --offline` runs on every commit.

Fields are read from the class body's `__annotations__`, so a module declaring records needs
`from __future__ import annotations` on Python 3.14 and later (the annotations then stay eager).
"""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    from collections import namedtuple

    # What namedtuple defines and a class body must not replace (as typing.NamedTuple says).
    _PROTECTED = frozenset(
        {"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults"}
        | {"_make", "_replace", "_asdict", "_source"}
    )

    class _NamedTupleMeta(type):
        def __new__(mcls, name, bases, namespace):
            if not bases:  # NamedTuple itself
                return super().__new__(mcls, name, bases, namespace)
            if bases != (NamedTuple,):
                raise TypeError(f"{name}: a NamedTuple can only inherit from NamedTuple")
            if "__annotations__" not in namespace and "__annotate__" in namespace:
                raise TypeError(f"{name}: declare it under `from __future__ import annotations`")
            fields = dict(namespace.get("__annotations__", {}))
            defaults = []
            for field in fields:
                if field in namespace:
                    defaults.append(namespace[field])
                elif defaults:
                    raise TypeError(f"{name}: field {field} without a default follows a default")
            cls = namedtuple(name, fields, defaults=defaults, module=namespace["__module__"])
            for key, value in namespace.items():
                if key in _PROTECTED:
                    raise AttributeError(f"{name}: cannot overwrite NamedTuple attribute {key}")
                if key not in fields:
                    setattr(cls, key, value)
            return cls

    class NamedTuple(metaclass=_NamedTupleMeta):
        """Base of a record class; the class built is a plain namedtuple, not a subclass."""

        __slots__ = ()
