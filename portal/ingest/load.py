"""One upload in one transaction: stage -> validate -> quarantine -> upsert -> refresh derived facts."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from portal import cfpb, config, derived
from portal import complaints as complaint_log
from portal import db as portal_db
from portal.ingest.datasets import DATASETS, UploadError, _map_headers, columns
from portal.ingest.rules import (
    _errors_frame,
    _Params,
    _typed_sql,
    compile_rules,
    format_rejects,
    source_rules,
)
from portal.ingest.sources import MB, _scan, _Source, _stage, open_source


@dataclass
class LoadResult:
    """What one upload did: counts, status, a one-line message and the rejected rows."""

    upload_id: int | None
    dataset: str
    rows_total: int
    accepted: int
    rejected: int
    status: str
    message: str
    file_sha256: str = ""
    layout: str = ""
    strict: bool = False
    errors: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def rejects(self, lang: str | None = None) -> pd.DataFrame:
        """The rejected rows: row_number, column, reason (in lang, default English) and raw values."""
        return format_rejects(self.errors, lang or "en")


def _upsert(cur: Any, dataset: str, upload_id: int) -> int:
    """Delete-then-insert the accepted rows whose content is new; identical rows are left untouched."""
    spec = DATASETS[dataset]
    cols = [c.name for c in columns(dataset)]
    col_list = ", ".join(cols)
    on = " and ".join(f"t.{k} = n.{k}" for k in spec.keys)
    overlap = cur.execute(f"select count(*) from {dataset} t semi join (select {', '.join(spec.keys)} "  # noqa: S608 (allow-listed)
                          f"from _typed where _errs is null) n on {on}").fetchall()[0][0]
    if overlap == 0:
        # No key is loaded yet (a first load): insert straight away, no comparison needed.
        _collect_affected(cur, dataset, "(select * from _typed where _errs is null)", None)
        cur.execute(f"insert into {dataset} ({col_list}, upload_id) select {col_list}, $uid from _typed "  # noqa: S608 (allow-listed)
                    "where _errs is null", {"uid": upload_id})
        return -1
    cur.execute(f"create or replace temp table _changed as select {col_list} from _typed where _errs is null "  # noqa: S608 (identifiers from the model allow-list)
                f"except select {col_list} from {dataset} t semi join (select {', '.join(spec.keys)} from _typed "
                f"where _errs is null) n on {on}")
    # Columns the upload does not carry (the complaint workbench's ticket, assignee, answer...) survive
    # a changed row: keep them aside, then put them back on the new version of the row.
    extra = [c for (c,) in cur.execute(
        "select column_name from information_schema.columns where table_name = $t order by ordinal_position",
        {"t": dataset}).fetchall() if c not in cols and c != "upload_id"]
    if extra:
        kept = ", ".join([*spec.keys, *extra])
        cur.execute(f"create or replace temp table _kept as select {kept} from {dataset} t "  # noqa: S608 (identifiers from the model allow-list and the catalog)
                    f"semi join _changed n on {on}")
    _collect_affected(cur, dataset, "_changed", f"(select * from {dataset} t semi join _changed n on {on})")  # noqa: S608 (allow-listed)
    cur.execute(f"delete from {dataset} t where exists (select 1 from _changed n where {on})")  # noqa: S608 (identifiers from the model allow-list)
    if extra:
        keep_on = " and ".join(f"k.{k} = n.{k}" for k in spec.keys)
        cur.execute(f"insert into {dataset} ({col_list}, {', '.join(extra)}, upload_id) "  # noqa: S608 (identifiers from the model allow-list and the catalog)
                    f"select {', '.join('n.' + c for c in cols)}, {', '.join('k.' + c for c in extra)}, $uid "
                    f"from _changed n left join _kept k on {keep_on}", {"uid": upload_id})
        cur.execute("drop table _kept")
    else:
        cur.execute(f"insert into {dataset} ({col_list}, upload_id) select {col_list}, $uid from _changed",  # noqa: S608 (identifiers from the model allow-list)
                    {"uid": upload_id})
    changed = cur.execute("select count(*) from _changed").fetchall()[0][0]
    cur.execute("drop table _changed")
    return changed


def _collect_affected(cur: Any, dataset: str, new_rows: str, old_rows: str | None) -> None:
    """Fill `_affected_loans` (and `_affected_span`) with what this upload changes, for derived tables.

    new_rows and old_rows are fixed SQL relations (the accepted new rows and the stored versions
    they replace). A customer change touches that customer's loans; a contact change spans the old
    and new contact times; a customer or loan change spans every contact of the touched loans.
    """
    rows = new_rows if old_rows is None else f"(select * from {new_rows} union all by name select * from {old_rows})"  # noqa: S608
    if dataset == "customers":
        cur.execute("create or replace temp table _affected_loans as select distinct loan_id from loans "  # noqa: S608 (fixed relations)
                    f"where customer_id in (select customer_id from {rows})")
    else:
        cur.execute(f"create or replace temp table _affected_loans as select distinct loan_id from {rows} "  # noqa: S608 (fixed relations)
                    "where loan_id is not null")
    if dataset == "contacts":
        cur.execute(f"create or replace temp table _affected_span as select min(contact_at) as lo, "  # noqa: S608 (fixed relations)
                    f"max(contact_at) as hi from {rows}")
    elif dataset in ("customers", "loans"):
        # a customers or loans upload does not change contacts: every contact of the touched loans
        cur.execute("create or replace temp table _affected_span as select min(contact_at) as lo, "
                    "max(contact_at) as hi from contacts where loan_id in (select loan_id from _affected_loans)")
    else:
        cur.execute("create or replace temp table _affected_span as select null::timestamptz as lo, "
                    "null::timestamptz as hi")
    # the time span the dataset's own rows cover, for the month-level rollups
    time_column = {"contacts": "contact_at", "payments": "paid_at", "snapshots": "as_of::timestamptz"}
    if dataset in time_column:
        cur.execute(f"create or replace temp table _affected_time as select min({time_column[dataset]}) as lo, "  # noqa: S608 (fixed relations)
                    f"max({time_column[dataset]}) as hi from {rows}")
    else:
        cur.execute("create or replace temp table _affected_time as select null::timestamptz as lo, "
                    "null::timestamptz as hi")


def _refresh_derived(cur: Any, dataset: str, stale_before: frozenset[str] = frozenset()) -> None:
    """Recompute the derived facts of the loans this upload touched, inside the load's transaction."""
    exists = cur.execute("select count(*) from duckdb_tables() where temporary and table_name = "
                         "'_affected_loans'").fetchall()[0][0]
    if not exists:
        return
    if cur.execute("select count(*) from _affected_loans").fetchall()[0][0] > 0:
        lo, hi = cur.execute("select lo, hi from _affected_span").fetchall()[0]
        t_lo, t_hi = cur.execute("select lo, hi from _affected_time").fetchall()[0]
        derived.refresh(cur, derived.Change(frozenset({dataset}), full=False, stale_before=stale_before,
                                            contact_span=None if lo is None else (lo, hi),
                                            span=None if t_lo is None else (t_lo, t_hi)))
    else:
        # no loan's rows changed (a customer without loans, or a re-load of identical rows): the facts
        # keyed by loan or month stand as they are and are stamped fresh, so no page view rebuilds them
        derived.refresh(cur, derived.Change(frozenset({dataset}), full=False, stale_before=stale_before,
                                            loans_touched=False))
    for temp in ("_affected_loans", "_affected_span", "_affected_time"):
        cur.execute(f"drop table {temp}")


def _record_complaint_imports(cur: Any, upload_id: int, actor: str) -> None:
    """Start the audit trail of every complaint this upload brought in that has no event yet."""
    ids = [row[0] for row in cur.execute(
        "select complaint_id from complaints as c where upload_id = $uid and not exists "
        "(select 1 from complaint_events as e where e.complaint_id = c.complaint_id) order by complaint_id",
        {"uid": upload_id}).fetchall()]
    complaint_log.record_import_events(cur, ids, actor, note=f"upload {upload_id}")


def _cfpb_stage(cur: Any, headers: list[str]) -> dict[str, int]:
    """Map a staged CFPB export to complaint columns in temp table _mapped; return its column positions."""
    frame = cur.execute("select * from _stage order by _line").df()
    raw = frame[[f"c{i}" for i in range(len(headers))]].copy()
    raw.columns = headers
    mapped = cfpb.to_contract(raw)
    names = list(mapped.columns)
    table = pa.table({"_line": pa.array(frame["_line"].astype("int64")), "_fields": pa.array(frame["_fields"], pa.int64()),
                      **{f"c{i}": pa.array([None if pd.isna(v) else str(v) for v in mapped[n]], pa.string())
                         for i, n in enumerate(names)}})
    with portal_db.arrow_view(cur, "_mapped_arrow", table):
        # the reader's flags (formulas without a value) stay with their line
        cur.execute("create or replace temp table _mapped as select m.*, s._formulas from _mapped_arrow m "
                    "join _stage s using (_line)")
    return {n: i for i, n in enumerate(names)}


def load_file(dataset: str, path: str | os.PathLike, *, strict: bool = False, db: str | os.PathLike | None = None,
              uploaded_by: str = "cli", replaces_upload_id: int | None = None,
              progress: Callable[[float, str], None] | None = None, file_name: str | None = None) -> LoadResult:
    """Validate a file and load its valid rows in one transaction; quarantine and report the rest.

    Status: loaded (every row), partial (some rows quarantined), rejected (nothing loaded: every row
    bad, or strict with any bad row). Raises UploadError (one line) for a file that cannot be read.
    """
    database = db
    if dataset not in DATASETS:
        raise UploadError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    path = Path(path)
    name = file_name or path.name
    step = progress or (lambda fraction, stage: None)
    step(0.02, "reading")
    size = path.stat().st_size if path.is_file() else 0
    scan = _scan(path) if 0 < size <= int(config.setting("max_upload_mb")) * MB else None
    sha = scan.sha256 if scan else ""
    try:
        src = open_source(path, scan)
    except UploadError as exc:
        _record_failure(dataset, name, sha, size, "", uploaded_by, strict, replaces_upload_id, str(exc), database)
        raise
    try:
        result = _load(dataset, src, name, sha, size, strict, database, uploaded_by, replaces_upload_id, step)
    except UploadError as exc:
        _record_failure(dataset, name, sha, size, src.layout, uploaded_by, strict, replaces_upload_id, str(exc),
                        database)
        raise
    except Exception as exc:
        _record_failure(dataset, name, sha, size, src.layout, uploaded_by, strict, replaces_upload_id,
                        f"load failed and was rolled back: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                        database)
        raise
    finally:
        if src.temp is not None:
            src.temp.unlink(missing_ok=True)
    if dataset == "snapshots" and result.accepted:
        # a new or corrected month-end: bring the KPI alert history up to date (never fails the upload)
        from portal import alerts

        alerts.record_latest(db=database, recorded_by="upload")
    return result


def _load(dataset: str, src: _Source, name: str, sha: str, size: int, strict: bool, database: Any,
          uploaded_by: str, replaces: int | None, step: Callable[[float, str], None]) -> LoadResult:
    is_cfpb = dataset == "complaints" and cfpb.is_cfpb(src.headers)
    layout = f"{src.layout}+cfpb" if is_cfpb else src.layout
    # A CFPB export is mapped after staging; any other file must carry the contract's columns.
    file_colmap, ignored = ({}, []) if is_cfpb else _map_headers(dataset, src.headers)

    def work(cur: Any) -> LoadResult:
        colmap = file_colmap
        stale_before = frozenset(derived.stale(cur))  # a few metadata counts
        total = _stage(cur, src)
        if total == 0:
            raise UploadError(f"{name} has a header but no data rows")
        step(0.3, "validating")
        source = "_stage"
        if is_cfpb:
            colmap = _cfpb_stage(cur, src.headers)
            source = "_mapped"
        params = _Params()
        cell_rules, cells = source_rules(src.headers, colmap, nul=src.nul, formulas=src.formulas, raw_cells=not is_cfpb)
        rules = compile_rules(dataset, params) + cell_rules
        sql = _typed_sql(dataset, colmap, source, rules, params, cells)
        used = set(re.findall(r"\$(p\d+)\b", sql))
        cur.execute(sql, {k: v for k, v in params.values.items() if k in used})
        if dataset == "complaints":  # rows of existing complaints go through the lifecycle: its refusals are row errors
            rules = complaint_log.check_upload(cur, rules, colmap, expected_fields=len(src.headers))
        errors = _errors_frame(cur, rules, src.headers, dataset)
        rejected = int(errors["row_number"].nunique()) if not errors.empty else 0
        valid = total - rejected
        upload_id = cur.execute("select nextval('upload_id_seq')").fetchall()[0][0]
        step(0.6, "loading")
        if strict and rejected:
            accepted, status = 0, "rejected"
            message = f"strict: nothing loaded because {rejected} of {total} rows are bad"
        else:
            if dataset == "complaints":  # changes to existing complaints as lifecycle events, then the new ones
                complaint_log.apply_upload(cur, upload_id, uploaded_by, lambda: _upsert(cur, dataset, upload_id))
            else:
                _upsert(cur, dataset, upload_id)
            step(0.75, "deriving")
            _refresh_derived(cur, dataset, stale_before)
            if dataset == "complaints":
                _record_complaint_imports(cur, upload_id, uploaded_by)
            accepted = valid
            status = "loaded" if rejected == 0 else ("partial" if accepted else "rejected")
            message = f"{accepted} of {total} rows loaded, {rejected} rejected"
        if ignored:
            message += f"; ignored columns: {', '.join(ignored)}"
        if not errors.empty:
            q = errors.assign(upload_id=upload_id, dataset=dataset)
            with portal_db.arrow_view(cur, "_q", q):
                cur.execute("insert into quarantine (upload_id, dataset, row_number, column_name, reason, raw_row, "
                            "quarantined_at, reason_code, reason_args) select upload_id, dataset, row_number, "
                            "\"column\", reason, raw_row, now(), reason_code, reason_args from _q")
        step(0.9, "recording")
        _insert_upload(cur, upload_id, dataset, name, sha, size, layout, uploaded_by, total, accepted, rejected,
                       status, strict, replaces, message)
        if src.stage_is_view:
            cur.execute("drop view _stage")
            cur.execute("drop table _stage_raw")
        for temp in ("_stage", "_typed", "_mapped"):
            cur.execute(f"drop table if exists {temp}")
        return LoadResult(upload_id, dataset, total, accepted, rejected, status, message, sha, layout, strict, errors)

    # A complaints upload appends audit events: complaint_log.write anchors the new head after the commit.
    result = (complaint_log.write if dataset == "complaints" else portal_db.write)(work, db=database)
    step(1.0, "done")
    return result


def _insert_upload(cur: Any, upload_id: int, dataset: str, name: str, sha: str, size: int, layout: str,
                   uploaded_by: str, total: int, accepted: int, rejected: int, status: str, strict: bool,
                   replaces: int | None, message: str) -> None:
    cur.execute(
        "insert into uploads (upload_id, dataset, file_name, file_sha256, file_bytes, file_format, uploaded_by, "
        "uploaded_at, rows_total, rows_accepted, rows_rejected, status, is_strict, replaces_upload_id, message, "
        "file_layout) values ($id, $ds, $fn, $sha, $bytes, $fmt, $by, now(), $total, $acc, $rej, $status, $strict, "
        "$rep, $msg, $layout)",
        {"id": upload_id, "ds": dataset, "fn": name, "sha": sha, "bytes": size, "fmt": layout.split("-")[0].split("+")[0],
         "by": uploaded_by, "total": total, "acc": accepted, "rej": rejected, "status": status, "strict": strict,
         "rep": replaces, "msg": message, "layout": layout},
    )


def _record_failure(dataset: str, name: str, sha: str, size: int, layout: str, uploaded_by: str, strict: bool,
                    replaces: int | None, message: str, database: Any) -> None:
    """Note a file that loaded nothing in the upload history (its own small transaction)."""
    def work(cur: Any) -> None:
        upload_id = cur.execute("select nextval('upload_id_seq')").fetchall()[0][0]
        _insert_upload(cur, upload_id, dataset, name, sha, size, layout or "unknown", uploaded_by, 0, 0, 0,
                       "failed", strict, replaces, message[:500])

    try:
        portal_db.write(work, db=database)
    except Exception:  # the history line is best effort: never hide the real error from the caller
        pass

