"""Reading checked values out of parsed JSON for `Summary.from_json` (summary_model.py): each
helper returns the value with its type or raises `BadSummary` naming the place (`calls.total`)
and what was found there. Numbers keep the type they were written with (an int stays an int), so
a summary read and written again gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class BadSummary(ValueError):
    """A summary that does not have the documented shape (docs/summary-schema.md)."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


def _found(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadSummary(where, f"expected an object, found {_found(value)}")
    return value


def _get(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise BadSummary(_at(where, key), "missing")
    return data[key]


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = _get(data, key, where)
    if not isinstance(value, str):
        raise BadSummary(_at(where, key), f"expected a string, found {_found(value)}")
    return value


def opt_text(data: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if data.get(key) is None else text(data, key, where)


def flag(data: Mapping[str, Any], key: str, where: str) -> bool:
    value = _get(data, key, where)
    if not isinstance(value, bool):
        raise BadSummary(_at(where, key), f"expected true or false, found {_found(value)}")
    return value


def opt_flag(data: Mapping[str, Any], key: str, where: str) -> bool | None:
    return None if data.get(key) is None else flag(data, key, where)


def integer(data: Mapping[str, Any], key: str, where: str) -> int:
    return as_int(_get(data, key, where), _at(where, key))


def as_int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadSummary(where, f"expected an integer, found {_found(value)}")
    return value


def as_number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadSummary(where, f"expected a number, found {_found(value)}")
    return value


def number(data: Mapping[str, Any], key: str, where: str) -> float:
    return as_number(_get(data, key, where), _at(where, key))


def opt_number(data: Mapping[str, Any], key: str, where: str) -> float | None:
    value = data.get(key)
    return None if value is None else as_number(value, _at(where, key))


def choice(data: Mapping[str, Any], key: str, where: str, allowed: tuple[T, ...]) -> T:
    value = _get(data, key, where)
    for option in allowed:
        if value == option:
            return option
    names = ", ".join(map(str, allowed))
    raise BadSummary(_at(where, key), f"expected one of {names}, found {_found(value)}")


def mapping(
    data: Mapping[str, Any], key: str, where: str, item: Callable[[object, str], T]
) -> dict[str, T]:
    """``data[key]``, an object whose values each pass ``item(value, where)``, order kept."""
    here = _at(where, key)
    found = obj(_get(data, key, where), here)
    return {name: item(value, f"{here}.{name}") for name, value in found.items()}


def items(
    data: Mapping[str, Any], key: str, where: str, item: Callable[[object, str], T]
) -> tuple[T, ...]:
    here = _at(where, key)
    found = _get(data, key, where)
    if not isinstance(found, list):
        raise BadSummary(here, f"expected a list, found {_found(found)}")
    return tuple(item(value, f"{here}[{i}]") for i, value in enumerate(found))


def strings(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise BadSummary(where, f"expected a string, found {_found(value)}")
    return value
