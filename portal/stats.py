"""Comparing two groups: difference of proportions and of means with 95% confidence intervals,
and a plain-language verdict. Pure Python (no Streamlit); shared by the dashboards and the
improvement loop.

Intervals use the normal approximation: the unpooled (Wald) standard error for proportions and
Welch's standard error for means, with Welch-Satterthwaite degrees of freedom reported for reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class Difference:
    """The difference `b - a` between two groups, with its confidence interval."""

    estimate: float
    low: float
    high: float
    a: float
    b: float
    n_a: int
    n_b: int
    kind: str
    level: float = 0.95
    df: float | None = None

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero."""
        return not math.isnan(self.low) and (self.low > 0 or self.high < 0)


def _z(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2)


@dataclass(frozen=True)
class Interval:
    """A one-group estimate with its confidence interval."""

    estimate: float
    low: float
    high: float
    n: int
    level: float = 0.95


def proportion_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """A proportion with its normal-approximation (Wald) interval, clipped to [0, 1]."""
    if n <= 0:
        nan = float("nan")
        return Interval(nan, nan, nan, 0, level)
    p = successes / n
    half = _z(level) * math.sqrt(p * (1 - p) / n)
    return Interval(p, max(0.0, p - half), min(1.0, p + half), n, level)


def mean_interval(mean: float, sd: float, n: int, level: float = 0.95) -> Interval:
    """A mean with its normal-approximation interval (sd is the sample standard deviation)."""
    if n < 2:
        nan = float("nan")
        return Interval(mean, nan, nan, max(n, 0), level)
    half = _z(level) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, level)


def diff_proportions(successes_a: int, n_a: int, successes_b: int, n_b: int, level: float = 0.95) -> Difference:
    """Difference of two proportions p_b - p_a with a normal-approximation (Wald) interval."""
    if n_a <= 0 or n_b <= 0:
        nan = float("nan")
        return Difference(nan, nan, nan, nan, nan, max(n_a, 0), max(n_b, 0), "proportion", level)
    p_a, p_b = successes_a / n_a, successes_b / n_b
    se = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    half = _z(level) * se
    est = p_b - p_a
    return Difference(est, est - half, est + half, p_a, p_b, n_a, n_b, "proportion", level)


def diff_means(mean_a: float, sd_a: float, n_a: int, mean_b: float, sd_b: float, n_b: int,
               level: float = 0.95) -> Difference:
    """Difference of two means mean_b - mean_a with Welch's standard error and a normal interval."""
    if n_a < 2 or n_b < 2:
        nan = float("nan")
        return Difference(nan, nan, nan, mean_a, mean_b, max(n_a, 0), max(n_b, 0), "mean", level)
    va, vb = sd_a**2 / n_a, sd_b**2 / n_b
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1)) if se > 0 else float("inf")
    half = _z(level) * se
    est = mean_b - mean_a
    return Difference(est, est - half, est + half, mean_a, mean_b, n_a, n_b, "mean", level, df)


VERDICTS = {
    "insufficient": "Not enough data to compare {b} with {a}",
    "none": "No significant difference: {b} {estimate} {unit} vs {a}, {ci}",
    "significant": "{leader} {measure}: +{estimate} {unit}, {ci}; significant",
    "ci": "{level}% CI {low} to {high} {unit}",
}


def verdict(diff: Difference, name_a: str, name_b: str, measure: str, unit: str = "pp",
            templates: dict[str, str] | None = None) -> str:
    """A one-line verdict, e.g. 'challenger cures more: +2.1 pp, 95% CI +0.4 to +3.8 pp; significant'.

    `measure` is a verb phrase ('cures more'). Unit 'pp' shows proportions in percentage points; any
    other unit shows the raw difference with 2 decimals. When group a leads, the estimate and interval
    are shown as a - b so the leader's advantage reads positive. `templates` overrides VERDICTS
    (for translated text) and gets the same {placeholders}.
    """
    text = {**VERDICTS, **(templates or {})}
    if math.isnan(diff.estimate):
        return _sentence(text["insufficient"].format(a=name_a, b=name_b))
    scale, digits = (100.0, 1) if unit == "pp" else (1.0, 2)
    sign = -1.0 if diff.significant and diff.estimate < 0 else 1.0
    est = sign * diff.estimate * scale
    low, high = sorted((sign * diff.low * scale, sign * diff.high * scale))
    ci = text["ci"].format(level=round(diff.level * 100), low=f"{low:+.{digits}f}", high=f"{high:+.{digits}f}",
                           unit=unit)
    if not diff.significant:
        return _sentence(text["none"].format(a=name_a, b=name_b, estimate=f"{est:+.{digits}f}", unit=unit, ci=ci))
    leader = name_b if diff.estimate > 0 else name_a
    return _sentence(text["significant"].format(leader=leader, measure=measure, estimate=f"{est:.{digits}f}",
                                                unit=unit, ci=ci))


def _sentence(text: str) -> str:
    """A verdict reads as a sentence: its first letter upper case (a leader's name may be lower case)."""
    return text[:1].upper() + text[1:]
