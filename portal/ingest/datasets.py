"""The upload datasets: their tables, keys, foreign keys, declared columns and accepted headers."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from portal import schemas

STATUSES = ("loaded", "partial", "rejected", "failed")


class UploadError(ValueError):
    """A file that cannot be loaded at all; the message is one line for the user."""


@dataclass(frozen=True)
class DatasetSpec:
    """How one dataset loads: its table, key columns, foreign keys and where its time zone comes from."""

    name: str
    keys: tuple[str, ...]
    fks: tuple[tuple[str, str], ...] = ()  # (column, "loan" | "customer")
    tz_from: tuple[str, ...] = ()  # columns whose customer's time zone applies: "loan_id", "customer_id"


DATASETS: dict[str, DatasetSpec] = {
    "customers": DatasetSpec("customers", ("customer_id",)),
    "loans": DatasetSpec("loans", ("loan_id",), (("customer_id", "customer"),)),
    "snapshots": DatasetSpec("snapshots", ("loan_id", "as_of"), (("loan_id", "loan"),)),
    "contacts": DatasetSpec("contacts", ("contact_id",), (("loan_id", "loan"),), ("loan_id",)),
    "payments": DatasetSpec("payments", ("payment_id",), (("loan_id", "loan"),), ("loan_id",)),
    "complaints": DatasetSpec("complaints", ("complaint_id",),
                              (("customer_id", "customer"), ("loan_id", "loan")), ("customer_id", "loan_id")),
    "repayment_plans": DatasetSpec("repayment_plans", ("plan_id",), (("loan_id", "loan"),)),
}


@dataclass(frozen=True)
class Column:
    """One upload column as declared in the pandera model."""

    name: str
    kind: str
    zh: str | None
    required: bool
    nullable: bool
    default: Any


def columns(dataset: str) -> list[Column]:
    """The declared columns of an upload dataset, from its pandera model."""
    schema = schemas.UPLOAD_SCHEMAS[dataset].to_schema()
    out = []
    for name, col in schema.columns.items():
        meta = col.metadata or {}
        out.append(Column(name, meta["kind"], meta.get("zh"), bool(meta.get("required")),
                          bool(col.nullable), col.default))
    return out


def _header_key(text: object) -> str:
    text = unicodedata.normalize("NFKC", str(text or "")).replace("\ufeff", "")
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def header_aliases(dataset: str) -> dict[str, str]:
    """Every accepted header (normalised) -> its column: the English name and the Chinese one."""
    out = {}
    for col in columns(dataset):
        out[_header_key(col.name)] = col.name
        if col.zh:
            out[_header_key(col.zh)] = col.name
    return out


def _map_headers(dataset: str, headers: list[str]) -> tuple[dict[str, int], list[str]]:
    aliases = header_aliases(dataset)
    found: dict[str, int] = {}
    ignored = []
    # The quarantine keeps each bad row as {header: cell}: two columns under one header would lose one.
    labels = [h if h else f"column {i + 1}" for i, h in enumerate(headers)]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise UploadError(f"two columns are both headed {label!r} (columns {labels.index(label) + 1} and {i + 1}); "
                              "give each column its own header")
    for i, header in enumerate(headers):
        name = aliases.get(_header_key(header))
        if name is None:
            if header:
                ignored.append(header)
            continue
        if name in found:
            raise UploadError(f"two columns both mean {name}: {headers[found[name]]!r} and {header!r}")
        found[name] = i
    spec = DATASETS[dataset]
    missing_keys = [k for k in spec.keys if k not in found]
    if missing_keys:
        if len(found) == 0:
            raise UploadError(f"this is not a {dataset} table: none of its columns were found "
                              f"(missing key columns: {', '.join(missing_keys)})")
        raise UploadError(f"missing key columns: {', '.join(missing_keys)}")
    missing = [c.name for c in columns(dataset) if c.required and c.name not in found]
    if missing:
        raise UploadError(f"missing required columns: {', '.join(missing)}")
    return found, ignored


def sample_csv(dataset: str) -> bytes:
    """A header-only UTF-8 CSV template for a dataset (English headers)."""
    buf = io.StringIO()
    csv.writer(buf).writerow([c.name for c in columns(dataset)])
    return buf.getvalue().encode("utf-8")

