"""The sections of the board pack, in order. Each is a document.Section: the named queries it runs
(gather) and how their rows read as notes, tables and chart specs (blocks).

The month a pack covers is (previous month-end, as_of]. Sections that follow a cohort (roll rates,
funnels, champion vs challenger) take the loans of the previous month-end and follow them to as_of,
so that they are complete on the day the month closes and agree with the KPI tiles (the cure rate tile
is the funnel's cured ÷ delinquent; the M1→M2 tile is a cell of the roll matrix).

Adding a section is a gather function, a blocks function and one SECTIONS entry (with its heading in
a catalogue under report.section.<key>, or its own title_key).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from portal import alerts, forecast, i18n, improvement, kpis, policy, stats
from portal.charts import BUCKETS, ChartSpec
from portal.report.document import (
    DIMENSIONS,
    EMPTY,
    Block,
    Chart,
    Column,
    Context,
    Note,
    Row,
    Section,
    Table,
    fmt,
    is_missing,
    table,
)

MONTHS_SHOWN = 12
LEAGUE_ROWS = 10
MAX_EFFECT_CHARTS = 6


def _empty(ctx: Context, key: str = "report.empty.no_rows", **values: object) -> Note:
    return Note(ctx.t(key, **values), "empty")


def _no_previous(ctx: Context) -> Note:
    return _empty(ctx, "report.empty.no_previous", month=ctx.as_of.isoformat())


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_datetime(frame[column]).dt.date


def _buckets(ctx: Context) -> pd.DataFrame:
    months = ctx.last_month_ends(MONTHS_SHOWN)
    if not months:
        return pd.DataFrame(columns=["as_of", "bucket", "loans", "outstanding", "overdue_amount"])
    return ctx.query("delinquency_buckets", start=months[0], end=ctx.month_stop, **ctx.scope)


# Period and filters.


def filters_text(ctx: Context) -> str:
    """The loan filters in words, with code labels ('Product: Cash loan; Region: east')."""
    parts = []
    for dim in DIMENSIONS:
        values = ctx.dims.get(dim)
        if values:
            labels = ctx.t("report.list_separator").join(ctx.label(dim, v) for v in values)
            parts.append(ctx.t("report.filter_item", dimension=ctx.t(f"filters.{dim}"), values=labels))
    return ctx.t("report.filter_separator").join(parts) or ctx.t("report.period.no_filters")


def pack_label(ctx: Context) -> str:
    """The active rule pack's label."""
    key = f"codes.rule_pack.{ctx.pack}"
    return ctx.t(key) if i18n.has(key) else str(policy.pack(ctx.pack)["label"])


def _period_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    months = ctx.month_ends
    filtered = ctx.t("report.list_separator").join(
        s.title(ctx.lang) for s in SECTIONS if s.filtered and s.key != "period")
    rows = [
        ("month_end", ctx.as_of.isoformat()),
        ("month", ctx.t("report.period.month_value", start=ctx.month_start.isoformat(), end=ctx.as_of.isoformat())),
        ("previous", ctx.previous.isoformat() if ctx.previous else ctx.t("report.period.no_previous")),
        ("filters", filters_text(ctx)),
        ("filtered_sections", filtered),
        ("rule_pack", pack_label(ctx)),
        ("data_range", ctx.t("report.period.data_range_value", first=months[0].isoformat(),
                             last=months[-1].isoformat(), count=len(months))),
        ("generated", ctx.generated_at.strftime("%Y-%m-%d %H:%M UTC")),
        ("database", data["database"]),
    ]
    # two item/detail pairs per row: page 1 keeps room for the key indicators
    columns = (Column("item", ctx.t("report.period.item")), Column("detail", ctx.t("report.period.detail")),
               Column("item_2", ctx.t("report.period.item")), Column("detail_2", ctx.t("report.period.detail")))
    cells = [(ctx.t(f"report.period.{k}"), v) for k, v in rows]
    pairs = [cells[0], cells[5], cells[1], cells[6], cells[2], cells[7], cells[3], cells[8], cells[4]]
    table_rows = [(*pairs[i], *(pairs[i + 1] if i + 1 < len(pairs) else ("", ""))) for i in range(0, len(pairs), 2)]
    return [Table(columns, tuple(table_rows))]


def _period_gather(ctx: Context) -> dict[str, Any]:
    return {"database": Path(str(ctx.db_path)).name}


# Key indicators: the Overview tiles with their deltas, beside the Overview trend chart.


def _overview_gather(ctx: Context) -> dict[str, Any]:
    return {"kpis": ctx.query("overview_kpis", as_of=ctx.as_of, **ctx.scope), "buckets": _buckets(ctx)}


def tile_rows(frame: pd.DataFrame, ctx: Context) -> tuple[list[tuple[str, ...]], list[tuple[str | None, ...]],
                                                          dict | None]:
    """The KPI tiles as (indicator, value, previous, change) rows, the tone of each change, and the
    previous month-end's row (None when there is none)."""
    current, previous = kpis.tile_values(frame, ctx.as_of) if not frame.empty else ({}, None)
    rows, tones = [], []
    for tile in kpis.TILES:
        value = current.get(tile.column)
        prev = previous.get(tile.column) if previous else None
        delta = kpis.format_delta(tile.kind, value, prev)
        tone = None
        if delta is not None and any(ch in "123456789" for ch in delta):  # "-0.00 pp" is no change
            tone = "good" if (float(value) > float(prev)) == tile.higher_is_better else "bad"
        rows.append((ctx.t(f"dash.overview.{tile.key}"), kpis.format_value(tile.kind, value),
                     kpis.format_value(tile.kind, prev), delta or EMPTY))
        tones.append((None, None, None, tone))
    return rows, tones, (previous if current else None)


def _overview_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    frame = data["kpis"]
    if frame.empty or not kpis.tile_values(frame, ctx.as_of)[0]:
        return [_empty(ctx)]
    rows, tones, previous = tile_rows(frame, ctx)
    prev_header = (ctx.t("report.overview.previous", month=pd.Timestamp(previous["as_of"]).date().isoformat())
                   if previous else ctx.t("report.overview.previous_none"))
    columns = (Column("indicator", ctx.t("report.overview.indicator")),
               Column("value", ctx.t("report.overview.value"), "number"),
               Column("previous", prev_header, "number"),
               Column("change", ctx.t("report.overview.change"), "number"))
    tiles = Table(columns, tuple(rows), tones=tuple(tones))
    buckets = data["buckets"]
    delinquent = buckets[buckets["bucket"] != "M0"]
    if delinquent.empty:
        return [tiles]
    trend = ChartSpec("bucket_trend", delinquent, ctx.t("report.overview.trend_title"),
                      {"value": "overdue_amount", "value_label": ctx.t("dash.overview.trend_balance")})
    return [Row((tiles, Chart(trend)))]


# Delinquency: buckets over the last 12 month-ends.


def delinquency_by_month(buckets: pd.DataFrame) -> pd.DataFrame:
    """Per month-end: loans in each bucket, all loans, the overdue amount at M1 and later and the
    delinquency rates by amount (that overdue amount ÷ all outstanding principal) and by count."""
    frame = buckets.assign(as_of=_dates(buckets, "as_of"))
    loans = frame.pivot_table(index="as_of", columns="bucket", values="loans", aggfunc="sum")
    loans = loans.reindex(columns=list(BUCKETS)).fillna(0).astype("int64")
    late = frame[frame["bucket"] != "M0"].groupby("as_of")
    out = loans.assign(
        loans=loans.sum(axis=1),
        overdue=late["overdue_amount"].sum().reindex(loans.index).fillna(0.0),
        outstanding=frame.groupby("as_of")["outstanding"].sum(),
        delinquent=late["loans"].sum().reindex(loans.index).fillna(0),
    )
    out["rate_amount"] = (out["overdue"] / out["outstanding"]).where(out["outstanding"] > 0)
    out["rate_count"] = (out["delinquent"] / out["loans"]).where(out["loans"] > 0)
    return out.reset_index()


def _delinquency_gather(ctx: Context) -> dict[str, Any]:
    return {"buckets": _buckets(ctx)}


def _delinquency_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    buckets = data["buckets"]
    if buckets.empty:
        return [_empty(ctx)]
    by_month = delinquency_by_month(buckets)
    loans_chart = ChartSpec("bucket_trend", buckets, ctx.t("report.delinquency.loans_title"),
                            {"value": "loans", "value_label": ctx.t("dash.delinquency.loans")})
    rates_chart = ChartSpec(
        "kpi_trend", by_month[["as_of", "rate_amount", "rate_count"]], ctx.t("dash.overview.trend_rates"),
        {"x": "as_of", "ys": {"rate_amount": ctx.t("dash.overview.delinquency_rate_amount"),
                              "rate_count": ctx.t("dash.overview.delinquency_rate_count")}, "percent": True})
    columns = [Column("as_of", ctx.t("report.delinquency.month_end"), "date")]
    columns += [Column(b, ctx.label("bucket", b), "count") for b in BUCKETS]
    columns += [Column("loans", ctx.t("report.delinquency.loans"), "count"),
                Column("overdue", ctx.t("report.delinquency.overdue"), "amount"),
                Column("rate_amount", ctx.t("report.delinquency.rate"), "rate")]
    return [Note(ctx.t("report.delinquency.note")), Row((Chart(loans_chart), Chart(rates_chart))),
            table(by_month, columns, ctx)]


# Roll rates: the matrix from the previous month-end to this one.


def _roll_gather(ctx: Context) -> dict[str, Any]:
    if ctx.previous is None:
        return {"rolls": None}
    return {"rolls": ctx.query("roll_rates", start=ctx.previous, end=ctx.previous + dt.timedelta(days=1),
                               **ctx.scope)}


def roll_matrix(rolls: pd.DataFrame) -> pd.DataFrame:
    """The roll matrix as rows: from_bucket, loans (in it at t), then the share in each to-bucket."""
    order_to = [b for b in (*BUCKETS, "closed") if b in set(rolls["to_bucket"])]
    order_from = [b for b in BUCKETS if b in set(rolls["from_bucket"])]
    shares = rolls.pivot_table(index="from_bucket", columns="to_bucket", values="share", aggfunc="sum")
    shares = shares.reindex(index=order_from, columns=order_to).fillna(0.0)
    loans = rolls.groupby("from_bucket")["loans"].sum().reindex(order_from)
    return shares.assign(loans=loans).reset_index()[["from_bucket", "loans", *order_to]]


def _roll_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    rolls = data["rolls"]
    if rolls is None:
        return [_no_previous(ctx)]
    if rolls.empty:
        return [_empty(ctx)]
    start, end = ctx.previous.isoformat(), ctx.as_of.isoformat()
    matrix = roll_matrix(rolls)
    columns = [Column("from_bucket", ctx.t("report.roll.from_bucket"), "code", "bucket"),
               Column("loans", ctx.t("report.roll.loans"), "count")]
    columns += [Column(b, ctx.label("bucket", b), "rate") for b in matrix.columns[2:]]
    heatmap = ChartSpec("roll_matrix", rolls, ctx.t("report.roll.title", start=start, end=end))
    return [Note(ctx.t("report.roll.note", start=start, end=end)), Chart(heatmap), table(matrix, columns, ctx)]


# Funnels: the cohort delinquent at the previous month-end, followed to this one.


def _funnel_gather(ctx: Context) -> dict[str, Any]:
    if ctx.previous is None:
        return {"stages": None, "steps": None}
    return {"stages": ctx.query("delinquency_funnel", as_of=ctx.previous, **ctx.scope),
            "steps": ctx.query("escalation_funnel", as_of=ctx.previous, **ctx.scope)}


def _funnel_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    stages, steps = data["stages"], data["steps"]
    if stages is None:
        return [_no_previous(ctx)]
    start, end = ctx.previous.isoformat(), ctx.as_of.isoformat()
    cohort = int(stages.loc[stages["stage"] == "delinquent", "loans"].sum())
    if cohort == 0:
        return [_empty(ctx, "report.empty.no_cohort", month=start)]
    loans = stages["loans"].astype(float)
    stages = stages.assign(of_previous=(loans / loans.shift(1)).where(loans.shift(1) > 0))
    steps = steps.assign(share=steps["loans"] / cohort)
    stage_columns = (Column("stage", ctx.t("report.funnel.stage"), "code", "stage"),
                     Column("loans", ctx.t("report.funnel.loans"), "count"),
                     Column("share_of_delinquent", ctx.t("report.funnel.share_of_delinquent"), "rate"),
                     Column("of_previous", ctx.t("report.funnel.of_previous"), "rate"))
    step_columns = (Column("step", ctx.t("report.funnel.step"), "code", "step"),
                    Column("loans", ctx.t("report.funnel.loans"), "count"),
                    Column("share", ctx.t("report.funnel.share_of_delinquent"), "rate"))
    stage_chart = ChartSpec("funnel", stages[["stage", "loans"]],
                            ctx.t("report.funnel.delinquency_title", start=start, end=end),
                            {"stage": "stage", "value": "loans",
                             "labels": {s: ctx.label("stage", s) for s in stages["stage"]}})
    step_chart = ChartSpec("funnel", steps[["step", "loans"]], ctx.t("report.funnel.escalation_title", end=end),
                           {"stage": "step", "value": "loans",
                            "labels": {s: ctx.label("step", s) for s in steps["step"]}})
    return [Note(ctx.t("report.funnel.note", start=start, end=end)),
            Row((Chart(stage_chart), table(stages, stage_columns, ctx))),
            Row((Chart(step_chart), table(steps, step_columns, ctx)))]


# Channel effectiveness against harm (the Channels page's table and bubbles).

CHANNEL_COLUMNS = (
    ("channel", "code", "channel"), ("attempts", "count", None), ("reach_rate", "rate", None),
    ("rpc_rate", "rate", None), ("ptp_rate", "rate", None), ("ptp_kept_rate", "rate", None),
    ("recovered_amount", "amount", None), ("cost", "amount", None), ("cost_per_yuan_recovered", "ratio", None),
    ("complaints", "count", None), ("complaints_per_10k_attempts", "number", None),
)


def _channels_gather(ctx: Context) -> dict[str, Any]:
    return {"channels": ctx.query("channel_effectiveness", start=ctx.month_start, end=ctx.month_stop,
                                  **ctx.scope)}


def _channels_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    frame = data["channels"]
    if frame.empty:
        return [_empty(ctx)]
    columns = [Column(name, ctx.t(f"report.channels.{name}"), kind, codes) for name, kind, codes in CHANNEL_COLUMNS]
    blocks: list[Block] = [Note(ctx.t("report.channels.note", start=ctx.month_start.isoformat(),
                                      end=ctx.as_of.isoformat())), table(frame, columns, ctx)]
    if ((frame["cost"] > 0) & (frame["attempts"] > 0)).any():
        labelled = frame.assign(label=[ctx.label("channel", c) for c in frame["channel"]])
        blocks.append(Chart(ChartSpec(
            "effectiveness_bubbles", labelled, ctx.t("dash.channels.bubble_title"),
            {"label": "label", "x_label": ctx.t("dash.channels.x_label"), "y_label": ctx.t("dash.channels.y_label"),
             "size_label": ctx.t("dash.channels.size_label")})))
    return blocks


# Champion vs challenger (strategy_comparison, as on the Channels page).


def _strategy_gather(ctx: Context) -> dict[str, Any]:
    if ctx.previous is None:
        return {"strategies": None}
    return {"strategies": ctx.query("strategy_comparison", start=ctx.previous, end=ctx.as_of, **ctx.scope)}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def strategy_rows(strategies: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, list[str]]:
    """Champion and challenger with their 95% intervals, and the two verdict lines of the Channels page."""
    by_code = strategies.set_index("strategy", drop=False)
    names = {s: ctx.label("strategy", s) for s in ("champion", "challenger")}
    rows = []
    for code in ("champion", "challenger"):
        row = by_code.loc[code]
        cure = stats.proportion_interval(int(row["cured"]), int(row["accounts"]))
        mean = stats.mean_interval(float(row["recovered_per_account"]), float(row["recovered_sd"]),
                                   int(row["accounts"]))
        rows.append({"code": code, "strategy": names[code], "accounts": int(row["accounts"]),
                     "cured": int(row["cured"]), "cure_rate": cure.estimate, "cure_low": cure.low,
                     "cure_high": cure.high, "recovered_per_account": mean.estimate, "recovered_low": mean.low,
                     "recovered_high": mean.high})
    champion, challenger = by_code.loc["champion"], by_code.loc["challenger"]
    templates = {k: ctx.t(f"dash.channels.verdict_{k}") for k in ("insufficient", "none", "significant", "ci")}
    cure = stats.diff_proportions(int(champion["cured"]), int(champion["accounts"]),
                                  int(challenger["cured"]), int(challenger["accounts"]))
    recovered = stats.diff_means(
        float(champion["recovered_per_account"]), float(champion["recovered_sd"]), int(champion["accounts"]),
        float(challenger["recovered_per_account"]), float(challenger["recovered_sd"]), int(challenger["accounts"]))
    verdicts = [
        f"{ctx.t('dash.channels.verdict_cure')}: " + _sentence(stats.verdict(
            cure, names["champion"], names["challenger"], ctx.t("dash.channels.measure_cure"), templates=templates)),
        f"{ctx.t('dash.channels.verdict_recovered')}: " + _sentence(stats.verdict(
            recovered, names["champion"], names["challenger"], ctx.t("dash.channels.measure_recovered"),
            unit=ctx.t("dash.channels.unit_yuan"), templates=templates)),
    ]
    return pd.DataFrame(rows), verdicts


def _range(ctx: Context, kind: str, low: object, high: object) -> str:
    if is_missing(low) or is_missing(high):
        return EMPTY
    return ctx.t("report.strategy.range", low=fmt(kind, low, ctx.lang), high=fmt(kind, high, ctx.lang))


def _strategy_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    strategies = data["strategies"]
    if strategies is None:
        return [_no_previous(ctx)]
    if not {"champion", "challenger"} <= set(strategies["strategy"]):
        return [_empty(ctx, "dash.channels.need_two")]
    rows, verdicts = strategy_rows(strategies, ctx)
    rows["cure_ci"] = [_range(ctx, "rate", lo, hi) for lo, hi in zip(rows["cure_low"], rows["cure_high"], strict=True)]
    rows["recovered_ci"] = [_range(ctx, "amount", lo, hi)
                            for lo, hi in zip(rows["recovered_low"], rows["recovered_high"], strict=True)]
    columns = (Column("strategy", ctx.t("report.strategy.strategy")),
               Column("accounts", ctx.t("report.strategy.accounts"), "count"),
               Column("cured", ctx.t("report.strategy.cured"), "count"),
               Column("cure_rate", ctx.t("report.strategy.cure_rate"), "rate"),
               Column("cure_ci", ctx.t("report.strategy.cure_ci")),
               Column("recovered_per_account", ctx.t("report.strategy.recovered_per_account"), "amount"),
               Column("recovered_ci", ctx.t("report.strategy.recovered_ci")))
    cure_chart = ChartSpec("strategy_bars", rows, ctx.t("dash.channels.cure_chart"),
                           {"value": "cure_rate", "low": "cure_low", "high": "cure_high",
                            "y_label": ctx.t("dash.channels.cure_rate"), "percent": True})
    money_chart = ChartSpec("strategy_bars", rows, ctx.t("dash.channels.recovered_chart"),
                            {"value": "recovered_per_account", "low": "recovered_low", "high": "recovered_high",
                             "y_label": ctx.t("dash.channels.recovered_per_account")})
    return [Note(ctx.t("report.strategy.note", start=ctx.previous.isoformat(), end=ctx.as_of.isoformat())),
            *[Note(v, "verdict") for v in verdicts], table(rows, columns, ctx),
            Row((Chart(cure_chart), Chart(money_chart)))]


# Complaint deadlines: SLA per issue for the month and the on-time rate over 12 months.


def _months_back(ctx: Context, n: int) -> dt.date:
    first = ctx.month_start
    for _ in range(n - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return first


def _complaints_gather(ctx: Context) -> dict[str, Any]:
    at = ctx.generated_at
    return {"sla": ctx.query("complaint_sla", start=ctx.month_start, end=ctx.month_stop, as_of=at),
            "on_time": ctx.query("complaint_on_time", start=_months_back(ctx, MONTHS_SHOWN), end=ctx.month_stop,
                                 as_of=at)}


def sla_total(sla: pd.DataFrame, label: str) -> dict[str, object]:
    """The all-issues row of complaint_sla: counts summed, on-time rate = timely ÷ resolved."""
    resolved = int(sla["resolved"].sum())
    return {"issue": label, "complaints": int(sla["complaints"].sum()), "resolved": resolved,
            "timely": int(sla["timely"].sum()),
            "timely_rate": (int(sla["timely"].sum()) / resolved) if resolved else None,
            "median_days_to_resolve": None, "open_overdue": int(sla["open_overdue"].sum())}


def _complaints_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    sla, on_time = data["sla"], data["on_time"]
    blocks: list[Block] = [Note(ctx.t("report.complaints.note", start=ctx.month_start.isoformat(),
                                      end=ctx.as_of.isoformat(),
                                      at=ctx.generated_at.strftime("%Y-%m-%d %H:%M UTC")))]
    if sla.empty:
        blocks.append(_empty(ctx, "report.empty.no_complaints"))
    else:
        columns = (Column("issue", ctx.t("report.complaints.issue"), "code", "issue"),
                   Column("complaints", ctx.t("report.complaints.complaints"), "count"),
                   Column("resolved", ctx.t("report.complaints.resolved"), "count"),
                   Column("timely", ctx.t("report.complaints.timely"), "count"),
                   Column("timely_rate", ctx.t("report.complaints.timely_rate"), "rate"),
                   Column("median_days_to_resolve", ctx.t("report.complaints.median_days"), "number"),
                   Column("open_overdue", ctx.t("report.complaints.open_overdue"), "count"))
        blocks.append(table(sla, columns, ctx, total=sla_total(sla, ctx.t("report.total"))))
    trend = on_time[on_time["timely_rate"].notna()] if not on_time.empty else on_time
    if not trend.empty:
        blocks.append(Chart(ChartSpec("on_time_rate", trend[["month", "timely_rate"]],
                                      ctx.t("report.complaints.on_time_title"),
                                      {"y_label": ctx.t("complaints.trends.on_time_rate")})))
    return blocks


# Conduct by rule: policy_violations for the active rule pack, and the agents' league.


def _conduct_gather(ctx: Context) -> dict[str, Any]:
    params = {"pack": ctx.pack, "start": ctx.month_start, "end": ctx.month_stop}
    return {"violations": ctx.query("policy_violations", **params), "league": ctx.query("policy_league", **params)}


def _conduct_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    violations, league = data["violations"], data["league"]
    blocks: list[Block] = [Note(ctx.t("report.conduct.note", start=ctx.month_start.isoformat(),
                                      end=ctx.as_of.isoformat(), pack=pack_label(ctx)))]
    columns = (Column("rule", ctx.t("report.conduct.rule"), "code", "rule"),
               Column("violations", ctx.t("report.conduct.violations"), "count"),
               Column("loans_affected", ctx.t("report.conduct.loans_affected"), "count"),
               Column("agents_affected", ctx.t("report.conduct.agents_affected"), "count"))
    rules = table(violations, columns, ctx)
    if int(violations["violations"].sum()) > 0:
        labelled = violations.assign(rule_label=[ctx.label("rule", r) for r in violations["rule"]])
        bars = ChartSpec("ranked_bars", labelled[["rule_label", "violations"]], ctx.t("report.conduct.chart_title"),
                         {"label": "rule_label", "value": "violations", "x_label": ctx.t("report.conduct.violations")})
        blocks.append(Row((rules, Chart(bars))))
    else:
        blocks.append(rules)
    agents = league[(league["level"] == "agent") & (league["violations"] > 0)].head(LEAGUE_ROWS)
    if not agents.empty:
        agents = agents.assign(id=agents["id"].fillna(ctx.t("policy.no_agent")))
        league_columns = (Column("id", ctx.t("report.conduct.agent")),
                          Column("contacts", ctx.t("report.conduct.contacts"), "count"),
                          Column("violations", ctx.t("report.conduct.violations"), "count"),
                          Column("violations_per_1000", ctx.t("report.conduct.per_1000"), "number"))
        blocks.append(table(agents, league_columns, ctx, title=ctx.t("report.conduct.league_title", n=LEAGUE_ROWS)))
    return blocks


# Improvement actions and their measured effects (portal/improvement.py, as on the Improvement page).


def _improvement_gather(ctx: Context) -> dict[str, Any]:
    actions = ctx.query("improvement_actions")
    measured = []
    for action in actions.to_dict("records"):
        kind, value = action.get("segment_kind"), action.get("segment_value")
        if is_missing(kind) or is_missing(value) or not kind or not value:
            inputs = improvement.effect_inputs({})
        else:
            inputs = ctx.query("action_effect_inputs", segment_kind=kind, segment_value=value, end=ctx.month_stop)
        measured.append((action, inputs, improvement.measure_action(action, inputs=inputs)))
    return {"actions": actions, "measured": measured}


def kpi_value(kpi: str, value: float | None, signed: bool = False) -> str:
    """An effect in its KPI's units, as the Improvement page shows it (pp for shares, per 10,000 for rates)."""
    if value is None or is_missing(value):
        return EMPTY
    if improvement.TARGET_KPIS[kpi].kind == "proportion":
        return f"{value * 100:+.1f} pp" if signed else f"{value:.1%}"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _month(value: Any) -> str:
    return pd.Timestamp(value).strftime("%Y-%m")


def effect_row(action: dict, kpi: str, effect: improvement.Effect, ctx: Context) -> dict[str, str]:
    """One measured effect as the cells of the effects table."""
    verdict = effect.verdict
    ci = EMPTY if verdict == "insufficient" else ctx.t(
        "report.strategy.range", low=kpi_value(kpi, effect.low, True), high=kpi_value(kpi, effect.high, True))
    ratio = EMPTY
    if effect.ratio is not None and verdict != "insufficient":
        ratio = f"{ctx.t('improvement.effect.ratio_value', ratio=f'{effect.ratio:.2f}')} (" + ctx.t(
            "improvement.effect.ratio_ci", low=f"{effect.ratio_low:.2f}", high=f"{effect.ratio_high:.2f}") + ")"
    compared = EMPTY
    if effect.method == "did" and effect.before and effect.after:
        compared = ctx.t("report.improvement.windows", before_from=_month(effect.before[0]),
                         before_to=_month(effect.before[1]), after_from=_month(effect.after[0]),
                         after_to=_month(effect.after[1]))
    elif effect.method == "post_difference" and effect.after:
        compared = ctx.t("report.improvement.post_only", after_from=_month(effect.after[0]),
                         after_to=_month(effect.after[1]))
    return {"action_id": str(action["action_id"]), "kpi": ctx.label("target_kpi", kpi),
            "verdict": ctx.t(f"report.verdict.{verdict}"),
            "estimate": EMPTY if verdict == "insufficient" else kpi_value(kpi, effect.estimate, True),
            "ci": ci, "ratio": ratio, "compared": compared, "tone": {"improved": "good", "worse": "bad"}.get(verdict)}


def _segment(action: dict, ctx: Context) -> str:
    kind, value = action.get("segment_kind"), action.get("segment_value")
    if is_missing(kind) or is_missing(value) or not kind or not value:
        return EMPTY
    return ctx.t("report.improvement.segment_value", kind=ctx.label("segment_kind", kind), value=value)


def _improvement_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    actions, measured = data["actions"], data["measured"]
    if actions.empty:
        return [_empty(ctx, "report.empty.no_actions")]
    listed = actions.assign(segment=[_segment(a, ctx) for a in actions.to_dict("records")])
    action_columns = (Column("action_id", ctx.t("report.improvement.action")),
                      Column("title", ctx.t("report.improvement.title")),
                      Column("status", ctx.t("report.improvement.status"), "code", "action_status"),
                      Column("owner", ctx.t("report.improvement.owner")),
                      Column("start_on", ctx.t("report.improvement.start_on"), "date"),
                      Column("target_kpi", ctx.t("report.improvement.target_kpi"), "code", "target_kpi"),
                      Column("segment", ctx.t("report.improvement.segment")))
    effect_columns = (Column("action_id", ctx.t("report.improvement.action")),
                      Column("kpi", ctx.t("report.improvement.kpi")),
                      Column("verdict", ctx.t("report.improvement.verdict")),
                      Column("estimate", ctx.t("report.improvement.estimate"), "number"),
                      Column("ci", ctx.t("report.improvement.ci"), "number"),
                      Column("ratio", ctx.t("report.improvement.ratio"), "number"),
                      Column("compared", ctx.t("report.improvement.compared")))
    effects, tones, specs = [], [], []
    for action, inputs, by_kpi in measured:
        for kpi, effect in by_kpi.items():
            row = effect_row(action, kpi, effect, ctx)
            effects.append(tuple(row[c.name] for c in effect_columns))
            tones.append(tuple(row["tone"] if c.name == "verdict" else None for c in effect_columns))
            series = improvement.effect_series(inputs, kpi) if not inputs.empty else pd.DataFrame()
            if not series.empty:
                name = ctx.label("target_kpi", kpi)
                specs.append(ChartSpec(
                    "effect_chart", series,
                    ctx.t("report.improvement.chart_title", action=f"{action['action_id']} · {action['title']}",
                          kpi=name),
                    {"start_on": pd.Timestamp(action["start_on"]).date(), "y_label": name,
                     "start_label": ctx.t("improvement.effect.start"),
                     "group_labels": {"treated": ctx.t("improvement.treated"),
                                      "control": ctx.t("improvement.control")},
                     "percent": improvement.TARGET_KPIS[kpi].kind == "proportion"}))
    blocks: list[Block] = [
        Note(ctx.t("report.improvement.note", end=ctx.as_of.isoformat())),
        table(listed, action_columns, ctx, title=ctx.t("report.improvement.actions_title")),
        Table(effect_columns, tuple(effects), ctx.t("report.improvement.effects_title"), tuple(tones)),
    ]
    shown = specs[:MAX_EFFECT_CHARTS]
    for i in range(0, len(shown), 2):
        blocks.append(Row(tuple(Chart(s) for s in shown[i:i + 2])))
    if len(specs) > MAX_EFFECT_CHARTS:
        blocks.append(Note(ctx.t("report.improvement.charts_capped", n=MAX_EFFECT_CHARTS)))
    blocks.append(Note(ctx.t("improvement.effect.method")))
    return blocks


# KPI alerts firing at the month-end (portal/alerts.py: the rules of portal/alert_rules.toml and the
# organisation's files), as the Overview's banner shows them.


def _alerts_gather(ctx: Context) -> dict[str, Any]:
    rules = alerts.load_rules()
    return {"rules": len(rules), "firing": alerts.firing(ctx.as_of, db=ctx.db_path, runner=ctx.query)}


def _alerts_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    if not data["firing"]:
        return [Note(ctx.t("forecast.alerts.quiet", month=ctx.as_of.isoformat(), rules=data["rules"]))]
    severity = {s: i for i, s in enumerate(reversed(alerts.SEVERITIES))}
    rows, tones = [], []
    for alert in sorted(data["firing"], key=lambda a: (severity.get(a.rule.severity, 9), a.rule.name)):
        tile = alert.rule.tile
        rows.append((ctx.label("severity", alert.rule.severity), alert.rule.label or alert.rule.name,
                     ctx.t(f"dash.overview.{tile.key}"), kpis.format_value(tile.kind, alert.value),
                     alert.since.isoformat() if alert.since else EMPTY, alert.message(ctx.lang)))
        tones.append(("bad" if alert.rule.severity == "critical" else None, None, None, None, None, None))
    columns = (Column("severity", ctx.t("report.alerts.severity")), Column("rule", ctx.t("report.alerts.rule")),
               Column("kpi", ctx.t("report.alerts.kpi")), Column("value", ctx.t("report.alerts.value"), "number"),
               Column("since", ctx.t("report.alerts.since"), "date"),
               Column("detail", ctx.t("report.alerts.detail")))
    return [Note(ctx.t("forecast.alerts.banner", count=len(rows), month=ctx.as_of.isoformat()), "verdict"),
            Table(columns, tuple(rows), tones=tuple(tones))]


# Roll-rate forecast (portal/forecast.py, as on the Delinquency page): the next month-ends from this one.

FORECAST_HORIZON = 3


def _forecast_gather(ctx: Context) -> dict[str, Any]:
    k = forecast.available_k(ctx.month_ends, ctx.as_of, forecast.DEFAULT_K)
    if k == 0:
        return {"k": 0}
    projected = forecast.forecast_frame(ctx.as_of, FORECAST_HORIZON, forecast.DEFAULT_K, ctx.scope, runner=ctx.query)
    observed = forecast.observed_balances(ctx.scope, runner=ctx.query)
    backtest_k = forecast.backtest_k(ctx.month_ends, forecast.ACCURACY_HORIZONS, forecast.DEFAULT_K)
    scores = (forecast.accuracy(forecast.ACCURACY_HORIZONS, backtest_k, ctx.scope, runner=ctx.query)
              if backtest_k is not None else None)
    return {"k": k, "projected": projected, "observed": observed, "backtest_k": backtest_k, "scores": scores}


def _forecast_blocks(data: dict[str, Any], ctx: Context) -> list[Block]:
    if data["k"] == 0:
        return [_empty(ctx, "forecast.page.no_history")]
    k, projected = data["k"], data["projected"]
    if projected.empty:
        return [_empty(ctx)]
    month = ctx.as_of.isoformat()
    blocks: list[Block] = [Note(ctx.t("forecast.page.intro", month=month)), Note(
        ctx.t("forecast.page.k_reduced", wanted=forecast.DEFAULT_K, k=k) if k < forecast.DEFAULT_K
        else ctx.t("forecast.page.k_used", k=k, month=month))]
    drawn = forecast.history_and_forecast(projected, data["observed"], ctx.as_of)
    names = {part: ctx.t(f"forecast.page.{part}", bucket="{bucket}") for part in ("actual", "forecast", "band")}
    bucket_labels = {b: ctx.label("bucket", b) for b in (*BUCKETS, forecast.DELINQUENT)}
    options = {"y_label": ctx.t("forecast.page.balance"), "names": names, "bucket_labels": bucket_labels}
    delinquent = projected[projected["bucket"] == forecast.DELINQUENT]
    columns = (Column("month_end", ctx.t("columns.month_end"), "date"),
               Column("forecast_loans", ctx.t("columns.forecast_loans"), "count"),
               Column("forecast_balance", ctx.t("columns.forecast_balance"), "amount"),
               Column("low_balance", ctx.t("columns.low_balance"), "amount"),
               Column("high_balance", ctx.t("columns.high_balance"), "amount"))
    m1 = ChartSpec("forecast_band", drawn, ctx.t("forecast.page.m1_title"),
                   {**options, "buckets": [forecast.DELINQUENT]})
    blocks.append(Row((Chart(m1), table(delinquent, columns, ctx, title=ctx.t("report.forecast.m1")))))
    by_bucket = projected[projected["bucket"].isin(BUCKETS)].assign(
        month_end=lambda f: pd.to_datetime(f["month_end"]).dt.date)
    balances = by_bucket.pivot_table(index="bucket", columns="month_end", values="forecast_balance", aggfunc="sum")
    balances = balances.reindex([b for b in BUCKETS if b in balances.index]).reset_index()
    ends = [c for c in balances.columns if c != "bucket"]
    bucket_columns = [Column("bucket", ctx.t("report.forecast.bucket"), "code", "bucket")]
    bucket_columns += [Column(str(m), m.isoformat(), "amount") for m in ends]
    balances.columns = ["bucket", *(str(m) for m in ends)]
    chart = ChartSpec("forecast_band", drawn, ctx.t("forecast.page.bucket_title"),
                      {**options, "buckets": list(BUCKETS[1:])})
    blocks.append(Row((Chart(chart), table(balances, bucket_columns, ctx,
                                           title=ctx.t("report.forecast.by_bucket")))))
    scores = data["scores"]
    if scores is None:
        blocks.append(_empty(ctx, "forecast.page.accuracy_none", k=1, horizon=max(forecast.ACCURACY_HORIZONS)))
        return blocks
    blocks.append(Note(ctx.t("forecast.page.accuracy_intro", k=data["backtest_k"])))
    for row in scores.itertuples():
        values = {"horizon": row.horizon, "origins": row.origins, "forecast": f"{row.forecast_mape:.2%}",
                  "naive": f"{row.naive_mape:.2%}"}
        key = {"forecast": "forecast.page.verdict_forecast", "naive": "forecast.page.verdict_naive",
               "tie": "forecast.page.verdict_tie"}.get(row.winner)
        blocks.append(Note(ctx.t(key, **values), "verdict") if key else
                      _empty(ctx, "forecast.page.accuracy_none", k=data["backtest_k"], horizon=row.horizon))
    accuracy_columns = (Column("horizon", ctx.t("forecast.accuracy.horizon"), "count"),
                        Column("origins", ctx.t("forecast.accuracy.origins"), "count"),
                        Column("forecast_mape", ctx.t("forecast.accuracy.forecast_mape"), "rate"),
                        Column("naive_mape", ctx.t("forecast.accuracy.naive_mape"), "rate"),
                        Column("winner", ctx.t("forecast.accuracy.winner"), "code", "winner"))
    blocks.append(table(scores, accuracy_columns, ctx, title=ctx.t("forecast.page.accuracy_title")))
    return blocks


SECTIONS: list[Section] = [
    Section("period", (), _period_gather, _period_blocks),
    Section("overview", ("overview_kpis", "delinquency_buckets"), _overview_gather, _overview_blocks),
    Section("alerts", ("overview_kpis", "alert_history"), _alerts_gather, _alerts_blocks, filtered=False),
    Section("delinquency", ("delinquency_buckets",), _delinquency_gather, _delinquency_blocks),
    Section("roll_rates", ("roll_rates",), _roll_gather, _roll_blocks),
    Section("forecast", ("roll_forecast", "roll_forecast_backtest", "delinquency_buckets"), _forecast_gather,
            _forecast_blocks),
    Section("funnels", ("delinquency_funnel", "escalation_funnel"), _funnel_gather, _funnel_blocks),
    Section("channels", ("channel_effectiveness",), _channels_gather, _channels_blocks),
    Section("strategy", ("strategy_comparison",), _strategy_gather, _strategy_blocks),
    Section("complaints", ("complaint_sla", "complaint_on_time"), _complaints_gather, _complaints_blocks,
            filtered=False),
    Section("conduct", ("policy_violations", "policy_league"), _conduct_gather, _conduct_blocks, filtered=False),
    Section("improvement", ("improvement_actions", "action_effect_inputs"), _improvement_gather,
            _improvement_blocks, filtered=False),
]
