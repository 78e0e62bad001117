"""The one JSON-cleaning helper, and a mixin that gives typed records a JSON round trip.

Everything Stock Vision writes as JSON (pipeline state, reports, model metadata, API extras) goes through
:func:`jsonable`, so a numpy scalar, a pandas timestamp, a tuple or a non-finite float is converted the
same way everywhere: NaN and infinities become ``null`` (strict JSON has no such literal).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

T = TypeVar("T", bound="JsonRecord")


def jsonable(value: Any, nonfinite: Literal["null", "repr"] = "null") -> Any:
    """``value`` as plain JSON types (dict, list, str, int, float, bool, None).

    ``nonfinite="repr"`` keeps NaN/inf as the strings ``"nan"``/``"inf"`` instead of ``null`` (model
    parameters, where the value must survive the round trip). A pandas timestamp at midnight without
    a time zone is a date and is written as ``YYYY-MM-DD``.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return repr(value) if nonfinite == "repr" else None
    if isinstance(value, dict):
        return {str(k): jsonable(v, nonfinite) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [jsonable(v, nonfinite) for v in items]
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return jsonable(fields, nonfinite)
    if hasattr(value, "model_dump"):  # pydantic
        return jsonable(value.model_dump(mode="json"), nonfinite)
    if hasattr(value, "tz_localize") and hasattr(value, "normalize"):  # pandas Timestamp
        if value.tz is None and value == value.normalize():
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return jsonable(value.tolist(), nonfinite)
    if hasattr(value, "item"):
        return jsonable(value.item(), nonfinite)
    return str(value)


class JsonRecord:
    """Mixin for dataclasses passed between steps: ``to_dict()`` and ``from_dict()`` round-trip.

    ``from_dict`` ignores unknown keys (a newer writer) and rebuilds nested records and lists or
    dicts of records from the field annotations, so a step reads back exactly the object it wrote.
    """

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any] | None) -> T:
        if data is None:
            raise ValueError(f"no recorded {cls.__name__}")
        if isinstance(data, cls):
            return data
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in data:
                kwargs[f.name] = _rebuild(hints.get(f.name, Any), data[f.name])
        return cls(**kwargs)


def _rebuild(hint: Any, value: Any) -> Any:
    """``value`` (plain JSON) as the annotated type, for the record types a step uses."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _rebuild(arg, value)
            except (TypeError, ValueError):
                continue
        return value
    if isinstance(hint, type) and issubclass(hint, JsonRecord) and isinstance(value, dict):
        return hint.from_dict(value)
    if origin is list and args and isinstance(value, list):
        return [_rebuild(args[0], v) for v in value]
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return {k: _rebuild(args[1], v) for k, v in value.items()}
    return value
