"""ui.table: a large result is capped on screen with a caption; the downloads carry every row."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from portal.auth_types import User


def _big_table_script(rows: int) -> None:
    import pandas as pd

    from portal import ui

    frame = pd.DataFrame({"loan_id": [f"L{i:06d}" for i in range(rows)], "mobile": ["13800138000"] * rows})
    ui.table(frame, "big", "big")


def _run(rows: int) -> AppTest:
    at = AppTest.from_function(_big_table_script, args=(rows,), default_timeout=30)
    at.session_state["user"] = User("e", "executive")
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_large_table_shows_the_first_rows_and_says_so():
    from portal import ui

    at = _run(ui.TABLE_MAX_ROWS + 1234)
    shown = at.dataframe[0].value
    assert len(shown) == ui.TABLE_MAX_ROWS
    assert shown["loan_id"].iloc[-1] == f"L{ui.TABLE_MAX_ROWS - 1:06d}"
    assert (shown["mobile"] != "13800138000").all(), "masked on screen"
    assert [c.value for c in at.caption] == ["Showing the first 5,000 of 6,234 rows; the downloads hold all of them."]


def test_a_small_table_shows_everything_without_a_caption():
    at = _run(20)
    assert len(at.dataframe[0].value) == 20
    assert not at.caption
