"""How result columns read on screen and in spreadsheets: each column's kind, label and code domain,
taken from the `metadata` of the named-query result models in portal/schemas.py (the one source).

A page, the XLSX export and the contract tests ask this module; nothing here imports streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd
import pandera.pandas as pa

from portal import i18n

KINDS = ("count", "rate", "amount", "number", "date", "timestamp", "code", "text")
EMPTY = "–"  # what an empty cell shows on screen, in every language
DEFAULT_DECIMALS = {"amount": 2, "number": 2}
FLAG_DOMAIN = "flag"  # booleans (and 0/1 flags) read as codes.flag.yes / codes.flag.no


@dataclass(frozen=True)
class ColumnSpec:
    """What one result column is: its kind, the catalogue key of its label, its code domain."""

    name: str
    kind: str
    label_key: str
    codes: str | None = None
    decimals: int | None = None

    def label(self, lang: str | None = None) -> str:
        """The column's header in lang (the current language by default)."""
        return i18n.t(self.label_key, lang) if i18n.has(self.label_key) else self.name

    @property
    def places(self) -> int:
        """Decimal places shown for an amount or a number."""
        return self.decimals if self.decimals is not None else DEFAULT_DECIMALS.get(self.kind, 0)

    def value_label(self, value: object, lang: str | None = None) -> object:
        """A code's catalogue label (the code itself when it has none); other values unchanged."""
        if self.kind != "code" or is_empty(value):
            return value
        return code_label(self.codes or "", value, lang)


def is_empty(value: object) -> bool:
    """Whether a cell is empty: None, NaN, NaT or pd.NA."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value)) or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def code_key(domain: str, value: object) -> str:
    """The catalogue key of a code's label: codes.<domain>.<value> (flags as yes/no)."""
    if domain == FLAG_DOMAIN:
        value = "yes" if value in (True, 1, "true", "True", "1") else "no"
    return f"codes.{domain}.{value}"


def code_label(domain: str, value: object, lang: str | None = None) -> str:
    """A coded value's label in lang; the value itself when the catalogue has no label for it."""
    key = code_key(domain, value)
    return i18n.t(key, lang) if i18n.has(key) else str(value)


def domain_values(domain: str) -> list[str]:
    """Every value of a code domain that the catalogue labels, in catalogue order."""
    prefix = f"codes.{domain}."
    return [k[len(prefix):] for k in i18n.catalogue(i18n.DEFAULT_LANGUAGE) if k.startswith(prefix)]


def _label_key(name: str, meta: Mapping[str, Any]) -> str:
    label = meta.get("label")
    if not label:
        return f"columns.{name}"
    return label if "." in label else f"columns.{label}"


def spec_from_metadata(name: str, meta: Mapping[str, Any] | None) -> ColumnSpec | None:
    """The spec a Field's metadata declares, or None when it declares no display kind."""
    meta = meta or {}
    kind = meta.get("kind")
    if kind not in KINDS:
        return None
    return ColumnSpec(name, kind, _label_key(name, meta), meta.get("codes"), meta.get("decimals"))


def model_specs(model: type[pa.DataFrameModel]) -> dict[str, ColumnSpec]:
    """The declared spec of each column of a result model, in column order (undeclared ones left out)."""
    out = {}
    for name, column in model.to_schema().columns.items():
        spec = spec_from_metadata(name, column.metadata)
        if spec is not None:
            out[name] = spec
    return out


@cache
def _specs_of(model: type[pa.DataFrameModel]) -> dict[str, ColumnSpec]:
    return model_specs(model)


def _models() -> list[type[pa.DataFrameModel]]:
    from portal import schemas  # late import: schemas is large and only needed once a table is drawn

    return [*schemas.RESULT_SCHEMAS.values(), *schemas.VIEW_SCHEMAS.values()]


@cache
def by_name() -> dict[str, ColumnSpec]:
    """One spec per column name across every result and view model: the kind and code domain when
    all models agree on them (else text, or a code-less kind), the shared label key columns.<name>."""
    seen: dict[str, list[ColumnSpec]] = {}
    for model in _models():
        for name, spec in _specs_of(model).items():
            seen.setdefault(name, []).append(spec)
    out = {}
    for name, specs in seen.items():
        kinds = {s.kind for s in specs}
        codes = {s.codes for s in specs}
        decimals = {s.decimals for s in specs}
        kind = kinds.pop() if len(kinds) == 1 else "text"
        domain = codes.pop() if len(codes) == 1 else None
        if kind == "code" and domain is None:
            kind = "text"
        out[name] = ColumnSpec(name, kind, f"columns.{name}", domain, decimals.pop() if len(decimals) == 1 else None)
    return out


def _inferred(name: str, series: pd.Series) -> ColumnSpec:
    if pd.api.types.is_bool_dtype(series):
        return ColumnSpec(name, "code", f"columns.{name}", FLAG_DOMAIN)
    if pd.api.types.is_integer_dtype(series):
        return ColumnSpec(name, "count", f"columns.{name}")
    if pd.api.types.is_float_dtype(series):
        return ColumnSpec(name, "number", f"columns.{name}")
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return ColumnSpec(name, "timestamp", f"columns.{name}")
    if pd.api.types.is_datetime64_dtype(series):
        present = series.dropna()
        kind = "date" if (present.dt.normalize() == present).all() else "timestamp"
        return ColumnSpec(name, kind, f"columns.{name}")
    return ColumnSpec(name, "text", f"columns.{name}")


def specs_for(frame: pd.DataFrame, model: type[pa.DataFrameModel] | None = None,
              codes: Mapping[str, str] | None = None) -> dict[str, ColumnSpec]:
    """A spec for every column of frame: the model's declaration, else the one shared by that column
    name across the result models, else one inferred from the dtype. `codes` names the code domain of
    a column whose domain depends on a parameter (complaint trends split by issue or by channel)."""
    declared = _specs_of(model) if model is not None else {}
    shared = by_name()
    out = {}
    for name in frame.columns:
        key = str(name)
        spec = declared.get(key) or shared.get(key) or _inferred(key, frame[name])
        if codes and key in codes:
            domain = codes[key]
            spec = ColumnSpec(key, "code" if domain else "text", spec.label_key, domain or None, spec.decimals)
        out[key] = spec
    return out


def labelled_codes(spec: ColumnSpec, present: Iterable[object] = (), lang: str | None = None) -> list[tuple[Any, str]]:
    """(value, label) for every catalogued value of a code column plus any other value present."""
    values: list[Any] = list(domain_values(spec.codes or "")) if spec.codes != FLAG_DOMAIN else []
    known = set(values)
    for v in present:
        if not is_empty(v) and v not in known:
            known.add(v)
            values.append(v)
    return [(v, code_label(spec.codes or "", v, lang)) for v in values]


def missing_labels(specs: Iterable[ColumnSpec]) -> list[str]:
    """The label keys of specs absent from any language's catalogue (for the contract test)."""
    out = []
    for spec in specs:
        for lang in i18n.LANGUAGES:
            if spec.label_key not in i18n.catalogue(lang):
                out.append(f"{lang}:{spec.label_key}")
    return out
