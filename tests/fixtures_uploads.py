"""Hand-made upload files: a small valid book (two customers, two loans) and helpers to write files."""

from __future__ import annotations

import csv
from pathlib import Path

from portal import db, ingest

CUSTOMERS = [
    # customer_id, name, mobile, id_number (valid check digits), province, timezone, opted_out_channels
    ["C1", "张三", "13812345678", "11010519491231002X", "北京", "", ""],
    ["C2", "Li Si", "13987654321", "", "上海", "America/New_York", "sms,app"],
]
CUSTOMER_HEADER = ["customer_id", "name", "mobile", "id_number", "province", "timezone", "opted_out_channels"]
LOAN_HEADER = ["loan_id", "customer_id", "product", "principal", "annual_rate", "term_months", "disbursed_on",
               "region", "risk_grade"]
LOANS = [
    ["L1", "C1", "cash_loan", "5000.00", "0.18", "12", "2025-01-15", "north", "B"],
    ["L2", "C2", "instalment", "12000.50", "0.24", "24", "2025-03-01", "east", ""],
]
CONTACT_HEADER = ["contact_id", "loan_id", "contact_at", "channel", "party", "outcome", "agent_id",
                  "agency_id", "strategy", "ptp_amount", "ptp_due_on", "cost", "collectors", "duration_s"]
CONTACTS = [
    ["K1", "L1", "2025-06-02 10:00:00", "phone", "debtor", "ptp", "A1", "", "champion", "300", "2025-06-10",
     "1.50", "", "95"],
    ["K2", "L2", "2025-06-02 10:00:00", "sms", "debtor", "delivered", "", "", "", "", "", "0.05", "", ""],
    ["K3", "L2", "2025-06-03T09:30:00+08:00", "visit", "third_party", "third_party", "A2", "AG01", "", "", "",
     "80", "2", ""],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    """Write a CSV file with the given header and rows."""
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def load_book(tmp_path: Path, db_path: Path) -> None:
    """Load the two customers and two loans (all valid) into a database."""
    for name, header, rows in (("customers", CUSTOMER_HEADER, CUSTOMERS), ("loans", LOAN_HEADER, LOANS)):
        result = ingest.load_file(name, write_csv(tmp_path / f"book_{name}.csv", header, rows), db=db_path)
        assert result.status == "loaded", result.rejects()


def snapshot(db_path: Path) -> dict[str, list[tuple]]:
    """Every row of every data table and the quarantine, sorted: for before/after comparisons."""
    out = {}
    for table in ("customers", "loans", "snapshots", "contacts", "payments", "complaints", "quarantine"):
        frame = db.read(f"select * from {table}", db=db_path)  # noqa: S608 (fixed table list)
        out[table] = sorted(map(repr, frame.astype(object).itertuples(index=False)))
    return out
