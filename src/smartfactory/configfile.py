"""The base of the project's hand-written files (plant, scenario and limits files) as pydantic models, and the
wording of their errors (pure).

`FileModel` forbids unknown keys, does not coerce values (a number in quotes is a mistake, not a number) and
freezes what it parsed. `config_error` turns pydantic's `ValidationError` into one `ConfigError` that names the
file and the place of each problem and says what to write instead::

    p.toml machine #1 (cnc-01) [state_model]: unknown key(s) ['mtbf']; allowed are ['changeover_every_parts', ...]
    p.toml machine #2 (cnc-02): ideal_cycle_s must be a positive number, got -1
    s.yaml event #3 lacks 'machine' (an event has at (e.g. 2m), machine (e.g. cnc-02) and inject: ... or clear: ...)
"""

from __future__ import annotations

import tomllib
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from smartfactory.errors import ConfigError

#: Seconds (or another quantity) that must be above zero.
Positive = Annotated[float, Field(gt=0)]
#: A quantity that may be zero but not negative.
NonNegative = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]
Decimals = Annotated[int, Field(ge=0, le=15)]


class FileModel(BaseModel):
    """Base of a hand-written file's tables: unknown keys are errors, values are not coerced (a number in
    quotes is a mistake, not a number), and the parsed data is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, populate_by_name=True)

    #: Added to a "lacks KEY" or wrong-value message about this table: what it needs.
    hint: ClassVar[str] = ""

    def changes(self) -> dict[str, Any]:
        """The keys the file set, with their values (what an override changes)."""
        return self.model_dump(exclude_unset=True)


_KIND_WORDS = {
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be text (in quotes)",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a table of keys and values",
    "model_type": "must be a table of keys and values",
    "model_attributes_type": "must be a table of keys and values",
    "finite_number": "must be a finite number",
}


#: Problems after which a table's hint (what it needs) helps: a key missing or a value of the wrong kind.
_HINTED = {"missing", *_KIND_WORDS}


def _word(error: Mapping[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    bound = next((f"{ctx[k]:g}" for k in ("gt", "ge", "lt", "le") if isinstance(ctx.get(k), int | float)), "")
    if kind == "greater_than":
        return "must be a positive number" if bound == "0" else f"must be greater than {bound}"
    if kind in ("greater_than_equal", "less_than", "less_than_equal"):
        return {"greater_than_equal": "must be ≥ ", "less_than": "must be below ", "less_than_equal": "must be ≤ "}[
            kind
        ] + bound
    if kind in ("value_error", "assertion_error"):
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return _KIND_WORDS.get(kind, str(error["msg"]))


def _strip(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` → X."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _model_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model that validates the table at `loc` of a file (None when there is none)."""
    annotation: Any = root
    for key in loc:
        annotation = _strip(annotation)
        if _is_model(annotation):
            field = _field(annotation, key) if isinstance(key, str) else None
            if field is None:
                return None
            annotation = field.annotation
        elif get_origin(annotation) in (dict, Mapping):
            annotation = get_args(annotation)[1]
        elif get_origin(annotation) in (list, tuple):
            annotation = get_args(annotation)[0]
        else:
            return None
    annotation = _strip(annotation)
    return annotation if _is_model(annotation) else None


def _field(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        alias = field.validation_alias
        names = {name} | (set(map(str, alias.choices)) if isinstance(alias, AliasChoices) else {str(alias)})
        if key in names:
            return field
    return None


def dotted(loc: tuple[str | int, ...]) -> str:
    """A place in a file as its author reads it: `sensors.power`, `calendar.shifts #1.breaks #2`."""
    text = ""
    for key in loc:
        text += f" #{key + 1}" if isinstance(key, int) else (("." if text else "") + _key(str(key)))
    return text


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else f'"{key}"'


Where = Callable[[tuple[str | int, ...]], str]


def config_error(exc: ValidationError, source: str, root: type[BaseModel], where: Where | None = None) -> ConfigError:
    """A `ConfigError` that says, for each problem of a file, where it is and what to write instead."""
    place: Where = where or (lambda loc: f"{source} [{dotted(loc)}]" if loc else source)
    unknown: dict[tuple[str | int, ...], list[str]] = {}
    lines: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            unknown.setdefault(loc[:-1], []).append(str(loc[-1]))
            continue
        if error["type"] in ("value_error", "assertion_error") or not loc:
            parent, key = loc, None
        else:
            parent, key = loc[:-1], loc[-1]
        model = _model_at(root, parent)
        hint = ""
        if model is not None and issubclass(model, FileModel) and model.hint and error["type"] in _HINTED:
            hint = f" ({model.hint})"
        if error["type"] == "missing":
            lines.append(f"{place(parent)} lacks {key!r}{hint}")
            continue
        got = error.get("input")
        shown = "" if isinstance(got, Mapping | list) or key is None else f", got {got!r}"
        subject = "" if key is None else f"{key} " if isinstance(key, str) else f"#{key + 1} "
        lines.append(f"{place(parent)}: {subject}{_word(error)}{shown}{hint}")
    for parent, keys in unknown.items():
        model = _model_at(root, parent)
        allowed = f"; allowed are {sorted(model.model_fields)}" if model is not None else ""
        lines.insert(0, f"{place(parent)}: unknown key(s) {sorted(keys)}{allowed}")
    return ConfigError("; ".join(lines[:6]) + (f" (and {len(lines) - 6} more)" if len(lines) > 6 else ""))


def read_toml(path: Path, what: str) -> tuple[dict[str, Any], str]:
    """(TOML data, source name) of a file; `ConfigError` when it cannot be read or is not TOML."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from None
    return parse_toml(text, str(path)), str(path)


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
