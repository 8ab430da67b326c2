"""Problems as data: where (a key path), what (the value) and why.

Config validation, the Boomi importer and the admin API report **every**
problem at once as :class:`Problem` objects; :meth:`Problem.line` renders one
for people, in the form ``websvc check`` prints::

    websvc.toml: tenants.acme.cors[2].ports: 70000 is not a port (1-65535)

:class:`Why` gives a declared key websvc's own words for what its type or
constraint refuses, and :func:`from_errors` turns a pydantic
``ValidationError`` into problems with those words (see :mod:`websvc.schema`).
"""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Final, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, ErrorDetails

#: A path element: a table key or a list index (pydantic's ``loc`` items).
Loc = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _NoValue:
    """The value of a problem that shows none (a missing key, a secret)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _NoValue()


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: the key *path* (``""`` for the whole file), the offending *value*, *why*.

    *value* is :data:`NO_VALUE` when the problem shows none (``missing``, a
    token); *why* is the text that follows the value.
    """

    path: str
    value: object
    why: str

    def text(self) -> str:
        """``value why`` (the value rendered as JSON), or *why* alone."""
        return self.why if self.value is NO_VALUE else f"{render(self.value)} {self.why}"

    def line(self, label: str) -> str:
        """The problem as one line for the file *label*: ``label: path: value why``."""
        return ": ".join(part for part in (label, self.path, self.text()) if part)

    def as_json(self) -> dict[str, object]:
        """``{"path", "value", "why"}`` (the value rendered when JSON cannot hold it)."""
        value: object = None if self.value is NO_VALUE else self.value
        try:
            json.dumps(value)
        except (TypeError, ValueError, RecursionError):
            value = render(value)
        return {"path": self.path, "value": value, "why": self.why}


@dataclass(frozen=True, slots=True)
class Why:
    """websvc's words for a value that a declared type or constraint refuses.

    Metadata of an ``Annotated`` type: *text* (or a function of the value)
    follows the value. *at_list*: a bad item is named at its list, with the
    item as the value. *control*: a string holding a control character is
    refused with that reason instead. *show*: the value is shown (not for
    secrets).
    """

    text: str | Callable[[Any], str]
    at_list: bool = False
    control: bool = True
    show: bool = True


def render(value: object) -> str:
    """A value as it appears in a problem line: JSON-escaped, never raw bytes."""
    try:
        return json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        try:
            return repr(value).encode("ascii", "backslashreplace").decode("ascii")
        except RecursionError:
            return "(a value nested too deeply)"


def key_path(path: str, name: str) -> str:
    """``path.name``, with *name* quoted (JSON) unless it is a bare TOML key."""
    name_text = name if _BARE_KEY.fullmatch(name) else render(name)
    return f"{path}.{name_text}" if path else name_text


def loc_path(loc: Iterable[str | int]) -> str:
    """A pydantic ``loc`` as a key path: ``("tenants", "a b", "cors", 2)`` -> ``tenants."a b".cors[2]``."""
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else key_path(path, str(part))
    return path


def describe(exc: BaseException, *, name: bool = True, limit: int = 300) -> str:
    """*exc* as one short line: ``Type: message``, control characters escaped."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = "; ".join(lines)
    if name:
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Report:
    """Problems and warnings, for a walker that finds them one at a time."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def fail(self, path: str, why: str) -> None:
        self.problems.append(Problem(path, NO_VALUE, why))

    def bad(self, path: str, value: object, why: str) -> None:
        self.problems.append(Problem(path, value, why))


@dataclass(slots=True)
class Validated:
    """What validating data against a declaration found.

    ``value`` is the data's valid part: the validated value, or (when there
    are problems) tables whose refused keys hold their defaults, a refused
    table in a list as None, and a table whose required key was refused, or
    a refused table key, left out. ``bad`` holds the paths of the tables
    with a problem.
    """

    value: Any
    problems: list[Problem]
    bad: set[Loc]


def validated(root: Any, data: object, context: object, prefix: Loc = ()) -> Validated:
    """Validate *data* against *root* (a model class or a type) naming every problem."""
    adapter = _adapter(root)
    try:
        return Validated(adapter.validate_python(data, context=context), [], set())
    except ValidationError as error:
        problems = from_errors(error, root, prefix)
        bad = set()
        for detail in error.errors(include_url=False):
            at = spot(root, detail["loc"])
            bad.add(
                at.loc
                if at.table
                else (*at.loc, detail["input"])
                if at.key
                else at.loc[: at.owner_at]
            )
        return Validated(salvage(root, data, context), problems, bad)


def salvage(tp: Any, data: object, context: object) -> Any:
    """The valid part of *data* for the type *tp* (see :class:`Validated`)."""
    tp, _ = unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if not isinstance(data, dict):
            return None
        values: dict[str, Any] = {}
        for name, info in tp.model_fields.items():
            if name not in data:
                continue
            if _holds_tables(info.annotation):
                got = salvage(info.annotation, data[name], context)
                if got is not None:
                    values[name] = got
                continue
            with suppress(ValidationError):  # refused: the default stands in
                values[name] = _field_adapter(tp, name).validate_python(data[name], context=context)
        if any(info.is_required() and name not in values for name, info in tp.model_fields.items()):
            return None
        return tp.model_construct({k for k in data if k in tp.model_fields}, **values)
    if get_origin(tp) is list:
        item = get_args(tp)[0]
        return [salvage(item, one, context) for one in data] if isinstance(data, list) else None
    if get_origin(tp) is dict and isinstance(data, dict):
        key_type, value_type = get_args(tp)
        keys, out = _adapter(key_type), {}
        for name, one in data.items():
            try:
                keys.validate_python(name)
            except ValidationError:
                continue
            got = salvage(value_type, one, context)
            if got is not None:
                out[name] = got
        return out
    return None


def from_errors(error: ValidationError, root: object, prefix: Loc = ()) -> list[Problem]:
    """The problems of *error*, raised validating *root* (a model or type) at *prefix*.

    Each error is worded by the :class:`Why` of the type it is about, or by
    websvc's words for its kind (``missing``, ``unknown key``, ``is not a
    string``, ...). Problems under a refused table key (a tenant name) are
    left out, and so are repeats (a union names one value several times).
    """
    out: dict[str, Problem] = {}  # by line: a value may not be hashable
    details = error.errors(include_url=False)
    bad_keys = [tuple(e["loc"][:-1]) for e in details if e["loc"][-1:] == ("[key]",)]
    for detail in details:
        loc = tuple(detail["loc"])
        if any(loc[: len(key)] == key and loc != (*key, "[key]") for key in bad_keys):
            continue
        problem = _problem(detail, spot(root, loc), prefix)
        out.setdefault(problem.line(""), problem)
    return list(out.values())


@dataclass(frozen=True, slots=True)
class Spot:
    """Where an error's ``loc`` leads in a declaration.

    ``loc`` is the error's path in the data (union tags dropped; for a
    refused table key, the table's path); ``loc[:owner_at]`` is the innermost
    table on it, of model ``owner``, and ``field`` its key there. ``why`` is
    the :class:`Why` of the type at the end of the loc.
    """

    loc: Loc
    owner: type[BaseModel] | None
    owner_at: int
    field: str | None
    required: bool  # the key has no default
    why: Why | None
    item: bool  # the loc ends at an item of a list
    key: bool = False  # the error is about a table key (a tenant name)
    table: bool = False  # the loc ends at a table (the error is about the table itself)


def spot(root: object, loc: Sequence[str | int]) -> Spot:
    """Follow *loc* (a pydantic error's) through the declaration *root* (a model or type)."""
    tp, meta = unwrap(root)
    owner: type[BaseModel] | None = None
    owner_at, field, required, item, key = 0, None, False, False, False
    kept: list[str | int] = []
    i = 0
    while i < len(loc):
        part = loc[i]
        i += 1
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            owner, owner_at, item = tp, len(kept), False
            info = tp.model_fields.get(str(part))
            if info is None:  # an unknown key
                return Spot((*kept, part), owner, owner_at, None, False, None, False)
            field, required = str(part), info.is_required()
            tp, inner = unwrap(info.annotation)
            meta = [*info.metadata, *inner]
        elif get_origin(tp) is list:
            tp, meta = unwrap(get_args(tp)[0])
            item = True
        elif get_origin(tp) is dict:
            key = i < len(loc) and loc[i] == "[key]"
            tp, meta = unwrap(get_args(tp)[0 if key else 1])
            item = False
            if key:
                break
        elif _is_union(tp) and isinstance(part, str):
            continue  # a union member's tag: still the same value
        else:
            kept.extend(loc[i - 1 :])
            break
        kept.append(part)
    why = next((m for m in reversed(meta) if isinstance(m, Why)), None)
    table = not key and isinstance(tp, type) and issubclass(tp, BaseModel)
    return Spot(tuple(kept), owner, owner_at, field, required, why, item, key, table)


def unwrap(tp: object) -> tuple[object, list[object]]:
    """*tp* without ``Annotated`` and ``| None``, and the metadata found on the way."""
    meta: list[object] = []
    while True:
        if get_origin(tp) is Annotated:
            meta.extend(tp.__metadata__)  # type: ignore[attr-defined]
            tp = get_args(tp)[0]
        elif _is_union(tp) and type(None) in get_args(tp):
            rest = [arg for arg in get_args(tp) if arg is not type(None)]
            tp = rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
        else:
            return tp, meta


class JsonKeywords:
    """JSON Schema: *keywords* added to a type's schema (``allOf`` items are appended)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core)
        for name, value in self.keywords.items():
            schema[name] = [*schema.get("allOf", []), *value] if name == "allOf" else value
        return schema


def never(pattern: str) -> JsonKeywords:
    """JSON Schema: the string holds no match of *pattern*."""
    return JsonKeywords(allOf=[{"not": {"pattern": pattern}}])


_STEP = re.compile(r'\[(\d+)\]|\.?("(?:[^"\\]|\\.)*"|[^.\["]+)')


def place(data: object, path: str) -> tuple[int, ...]:
    """Where the key *path* is in *data*: its keys' and items' positions (to sort problems)."""
    place: list[int] = []
    for index, name in _STEP.findall(path):
        key: object = int(index) if index else json.loads(name) if name.startswith('"') else name
        if isinstance(data, dict) and key in data:
            place.append(list(data).index(key))
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            place.append(key)
            data = data[key]
        else:
            place.append(sys.maxsize)
            break
    return tuple(place)


# -- private helpers -------------------------------------------------------

_WORDS = {
    "missing": "missing",
    "string_type": "is not a string",
    "bool_type": "is not true or false",
    "list_type": "is not a list of strings",
    "too_short": "is empty (omit the key instead)",
    "model_type": "is not a table",
    "model_attributes_type": "is not a table",
    "dict_type": "is not a table",
}


def _problem(detail: ErrorDetails, at: Spot, prefix: Loc) -> Problem:
    kind, value = detail["type"], detail.get("input", NO_VALUE)
    ctx = detail.get("ctx") or {}
    loc = at.loc
    if kind == "extra_forbidden" and at.owner is not None:
        keys = ", ".join(at.owner.model_fields)
        return Problem(
            loc_path((*prefix, *loc)), NO_VALUE, f"unknown key (expected one of: {keys})"
        )
    if kind == "missing":
        return Problem(loc_path((*prefix, *loc)), NO_VALUE, "missing")
    why, at_list, show = _WORDS.get(kind, detail["msg"]), False, True
    if kind == "websvc":
        why, at_list = str(ctx["why"]), bool(ctx.get("at_list"))
        value = ctx.get("value", value)
    elif isinstance(value, str) and _CONTROL.search(value) and (at.why is None or at.why.control):
        why = "contains a control character"
    elif at.why is not None:
        text = at.why.text
        why = text(value) if callable(text) else text
        at_list, show = at.why.at_list, at.why.show
    if at_list and at.item:
        loc = loc[:-1]
    return Problem(loc_path((*prefix, *loc)), value if show else NO_VALUE, why)


def _is_union(tp: object) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _holds_tables(tp: object) -> bool:
    tp, _ = unwrap(tp)
    if get_origin(tp) in (list, dict):
        tp, _ = unwrap(get_args(tp)[-1])
    return isinstance(tp, type) and issubclass(tp, BaseModel)


@cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return TypeAdapter(tp)
    return TypeAdapter(tp, config=ConfigDict(strict=True))


@cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    """The type of one key of *model* (its constraints and validators included)."""
    info = model.model_fields[name]
    tp: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(tp, config=ConfigDict(strict=True))
