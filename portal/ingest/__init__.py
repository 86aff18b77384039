"""Uploads: read a file -> normalise headers and encoding -> validate -> quarantine -> load, in one transaction.

The rule set is the pandera upload models in `portal/schemas.py`. For speed on large files those
models are compiled (`compile_rules`) into vectorised DuckDB SQL that runs over a staging table read
by DuckDB's CSV reader, so a million-row file never becomes a pandas frame. Foreign keys, keys unique
in the file and the debtor's time zone need the database and are checked in the same SQL pass.

The package is split by concept: `datasets` (what each dataset is: keys, columns, headers),
`sources` (reading CSV/XLSX/Parquet, encodings, staging), `rules` (the models compiled to SQL and
the reasons they give) and `load` (stage -> validate -> quarantine -> upsert, one transaction).
"""

from portal.ingest.datasets import (
    DATASETS,
    STATUSES,
    Column,
    DatasetSpec,
    UploadError,
    columns,
    header_aliases,
    sample_csv,
)
from portal.ingest.load import LoadResult, load_file
from portal.ingest.rules import FRAME_RULES, INT_RE, Rule, compile_rules, format_rejects, reason_text
from portal.ingest.sources import MB, open_source

__all__ = [
    "DATASETS", "FRAME_RULES", "INT_RE", "MB", "STATUSES", "Column", "DatasetSpec", "LoadResult", "Rule",
    "UploadError", "columns", "compile_rules", "format_rejects", "header_aliases", "load_file",
    "open_source", "reason_text", "sample_csv",
]
