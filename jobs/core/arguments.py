"""A task's arguments, checked against its signature when a job is enqueued. Pure.

A job whose arguments its task cannot take (an unknown keyword, a missing argument, a
string where the task takes an id) would be accepted, run, fail every attempt and land in
the dead-letter queue. Checked at enqueue instead, it is refused with a message naming the
argument. Types come from the task's annotations: int, float, str, bool, list, dict, their
``X | None`` forms and ``list[...]`` / ``dict[str, ...]``; anything else is not checked.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from jobs.core.errors import FieldError

_P = inspect.Parameter
Check = Callable[[Any], bool]


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _checker(hint) -> tuple[Check, str] | None:
    """(predicate, description) for a type hint, or None when the hint is not checked."""
    if hint is Any or hint is inspect.Parameter.empty:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [_checker(h) for h in typing.get_args(hint) if h is not type(None)]
        allows_none = type(None) in typing.get_args(hint)
        if any(m is None for m in members):
            return None
        names = " or ".join(d for _, d in members) + (" or null" if allows_none else "")
        return (lambda v: (v is None and allows_none) or any(check(v) for check, _ in members)), names
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        inner = _checker(item)
        if inner is None:
            return (lambda v: isinstance(v, list)), "a list"
        return (lambda v: isinstance(v, list) and all(inner[0](x) for x in v)), f"a list of {inner[1]}"
    if origin is dict:
        args = typing.get_args(hint)
        inner = _checker(args[1]) if len(args) == 2 else None
        if inner is None:
            return (lambda v: isinstance(v, dict)), "an object"
        return (lambda v: isinstance(v, dict) and all(inner[0](x) for x in v.values())), f"an object of {inner[1]}"
    simple = {
        int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
        float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
        str: (lambda v: isinstance(v, str), "a string"),
        bool: (lambda v: isinstance(v, bool), "true or false"),
        list: (lambda v: isinstance(v, list), "a list"),
        dict: (lambda v: isinstance(v, dict), "an object"),
    }
    return simple.get(hint)


class Signature:
    """What a task body takes after its JobContext."""

    def __init__(self, name: str, func: Callable):
        self.name = name
        parameters = list(inspect.signature(func).parameters.values())[1:]  # the first is the JobContext
        try:
            hints = typing.get_type_hints(func)
        except Exception:  # an annotation that cannot be evaluated: check the arity only
            hints = {}
        self.positional = [p.name for p in parameters if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)]
        self.keywords = {p.name for p in parameters if p.kind in (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)}
        self.any_positional = any(p.kind is _P.VAR_POSITIONAL for p in parameters)
        self.any_keyword = any(p.kind is _P.VAR_KEYWORD for p in parameters)
        self.required = [p.name for p in parameters if p.default is _P.empty and p.kind not in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD)]
        self.checks = {p.name: c for p in parameters if (c := _checker(hints.get(p.name, _P.empty))) is not None}
        self.names = [p.name for p in parameters if p.kind not in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD)]

    def _takes(self) -> str:
        return ", ".join(self.names) if self.names else "no arguments"

    def _check_type(self, name: str, value, field: str) -> None:
        check = self.checks.get(name)
        if check is not None and not check[0](value):
            raise FieldError(field, f"{name} must be {check[1]}, not {_describe(value)}")

    def check(self, args, kwargs: dict) -> None:
        """Raise FieldError (``args[i]`` or ``kwargs.name``) unless the task can take these."""
        if len(args) > len(self.positional) and not self.any_positional:
            raise FieldError(
                "args", f"{self.name} takes at most {len(self.positional)} positional argument(s) ({self._takes()}), not {len(args)}"
            )
        given = set()
        for index, value in enumerate(args[: len(self.positional)]):
            name = self.positional[index]
            given.add(name)
            self._check_type(name, value, f"args[{index}]")
        for name, value in kwargs.items():
            if name in given:
                raise FieldError(f"kwargs.{name}", f"{name} is given twice, as a positional argument too")
            if name not in self.keywords:
                if not self.any_keyword:
                    raise FieldError(f"kwargs.{name}", f"{self.name} takes no argument {name!r}; it takes {self._takes()}")
                continue
            given.add(name)
            self._check_type(name, value, f"kwargs.{name}")
        missing = [name for name in self.required if name not in given]
        if missing:
            raise FieldError(
                "kwargs" if kwargs or not self.positional else "args", f"{self.name} needs {', '.join(missing)} (it takes {self._takes()})"
            )
