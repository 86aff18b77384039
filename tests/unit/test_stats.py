"""portal.stats checked against intervals worked out by hand."""

from __future__ import annotations

import math

import pytest

from portal import stats


def test_difference_of_proportions():
    d = stats.diff_proportions(400, 1000, 450, 1000)
    # se = sqrt(0.4*0.6/1000 + 0.45*0.55/1000) = sqrt(0.0004875) = 0.0220794; half = 1.959964 * se = 0.0432750
    assert d.estimate == pytest.approx(0.05)
    assert (d.low, d.high) == (pytest.approx(0.0067250, abs=1e-6), pytest.approx(0.0932750, abs=1e-6))
    assert d.significant
    assert stats.verdict(d, "champion", "challenger", "cures more") == (
        "Challenger cures more: +5.0 pp, 95% CI +0.7 to +9.3 pp; significant"
    )


def test_no_significant_difference():
    d = stats.diff_proportions(40, 100, 42, 100)
    # se = sqrt(0.24/100 + 0.2436/100) = 0.069541; half = 0.136299 -> CI -0.116 to 0.156
    assert (d.low, d.high) == (pytest.approx(-0.116299, abs=1e-5), pytest.approx(0.156299, abs=1e-5))
    assert not d.significant
    assert stats.verdict(d, "champion", "challenger", "cures more") == (
        "No significant difference: challenger +2.0 pp vs champion, 95% CI -11.6 to +15.6 pp"
    )


def test_welch_difference_of_means():
    d = stats.diff_means(100, 50, 200, 90, 60, 300)
    # va = 2500/200 = 12.5, vb = 3600/300 = 12, se = sqrt(24.5) = 4.949747, half = 9.701330
    # df = 24.5^2 / (12.5^2/199 + 12^2/299) = 600.25 / 1.266781 = 473.84
    assert d.estimate == -10
    assert (d.low, d.high) == (pytest.approx(-19.70133, abs=1e-4), pytest.approx(-0.29867, abs=1e-4))
    assert d.df == pytest.approx(473.84, abs=0.01)
    # champion leads, so the verdict states champion's advantage as a positive number
    assert stats.verdict(d, "champion", "challenger", "recovers more per account", "yuan") == (
        "Champion recovers more per account: +10.00 yuan, 95% CI +0.30 to +19.70 yuan; significant"
    )


def test_too_little_data_and_translated_templates():
    d = stats.diff_means(10, 0, 1, 12, 3, 5)
    assert math.isnan(d.estimate)
    assert stats.verdict(d, "A", "B", "x") == "Not enough data to compare B with A"
    empty = stats.diff_proportions(0, 0, 1, 2)
    assert math.isnan(empty.low) and not empty.significant
    zh = stats.verdict(stats.diff_proportions(400, 1000, 450, 1000), "甲", "乙", "治愈更多",
                       templates={"significant": "{leader}{measure}：+{estimate} {unit}（{ci}），显著"})
    assert zh == "乙治愈更多：+5.0 pp（95% CI +0.7 to +9.3 pp），显著"


def test_one_group_intervals():
    p = stats.proportion_interval(2, 3)
    # p = 0.6667, se = sqrt(0.6667 * 0.3333 / 3) = 0.27217, half = 0.53344 -> (0.1332, 1.2001) clipped to 1
    assert (p.estimate, p.low, p.high) == (pytest.approx(2 / 3), pytest.approx(0.13323, abs=1e-4), 1.0)
    m = stats.mean_interval(73.33, 64.291, 3)
    # half = 1.959964 * 64.291 / sqrt(3) = 72.750
    assert (m.low, m.high) == (pytest.approx(0.58, abs=0.01), pytest.approx(146.08, abs=0.01))
    assert math.isnan(stats.mean_interval(5, 1, 1).low)


def test_a_verdict_starts_with_a_capital_letter_in_every_catalogue_wording():
    from portal import i18n

    d = stats.diff_proportions(40, 100, 42, 100)
    for prefix in ("dash.channels.verdict_", "plans.verdict_line."):
        keys = {"insufficient", "none", "significant", "ci"}
        templates = {k: i18n.t(f"{prefix}{k}", "en") for k in keys}
        line = stats.verdict(d, "champion", "challenger", "cures more", templates=templates)
        assert line.startswith("No significant difference: challenger"), line
        nan = stats.verdict(stats.diff_proportions(0, 0, 0, 0), "a", "b", "x", templates=templates)
        assert nan == "Not enough data to compare b with a"
