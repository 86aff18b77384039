"""Risk segmentation: a transparent logistic regression that predicts a roll to M3+ (DPD >= 61) within
three month-ends, from snapshot, loan, contact and payment features (queries/risk_features.sql).

The model is trained on every labelled month-end but the latest and evaluated on that latest one
(a held-out month, so the AUC is out of time, not out of sample). Numeric features are standardised,
so the coefficients compare directly; product and risk grade are one-hot encoded. Training rows are
capped at MAX_TRAIN_ROWS by a seeded sample, which keeps the fit well under a minute on a
1,000,000-loan book. Segments cut the predicted probability at fixed quantiles of the held-out scores.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ("dpd", "outstanding_principal", "overdue_amount", "term_months", "annual_rate", "months_on_book",
           "contacts", "phone_calls", "rpc_contacts", "ptp_contacts", "payments", "paid_amount")
CATEGORICAL = ("product", "risk_grade")
LABEL = "rolled_m3"
MAX_TRAIN_ROWS = 400_000
SEGMENTS = (("low", 0.5), ("medium", 0.8), ("high", 0.95), ("very_high", 1.0))


class RiskError(ValueError):
    """Not enough labelled data to fit or evaluate the model."""


@dataclass(frozen=True)
class RiskModel:
    """A fitted model with its held-out evaluation."""

    pipeline: Pipeline
    holdout_as_of: object
    auc: float
    train_rows: int
    holdout_rows: int
    fit_seconds: float
    calibration: pd.DataFrame  # predicted, observed (per probability bin)
    top_features: pd.DataFrame  # feature, coefficient
    cutoffs: tuple[float, ...]  # probability cut points between segments


def _pipeline() -> Pipeline:
    encode = ColumnTransformer([
        ("numeric", StandardScaler(), list(NUMERIC)),
        ("category", OneHotEncoder(drop="first", handle_unknown="ignore"), list(CATEGORICAL)),
    ])
    return Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=500, C=1.0))])


def fit(features: pd.DataFrame, *, max_train_rows: int = MAX_TRAIN_ROWS, seed: int = 0, bins: int = 10
        ) -> RiskModel:
    """Fit on all labelled month-ends but the latest and evaluate AUC and calibration on the latest."""
    labelled = features[features[LABEL].notna()]
    months = sorted(labelled["as_of"].unique())
    if len(months) < 2:
        raise RiskError("need at least two labelled month-ends")
    holdout_as_of = months[-1]
    train = labelled[labelled["as_of"] != holdout_as_of]
    test = labelled[labelled["as_of"] == holdout_as_of]
    if len(train) > max_train_rows:
        train = train.sample(n=max_train_rows, random_state=seed)
    y_train, y_test = train[LABEL].astype(int), test[LABEL].astype(int)
    if y_train.nunique() < 2 or y_test.nunique() < 2:
        raise RiskError("both outcomes must occur in training and held-out months")
    started = time.perf_counter()
    pipeline = _pipeline().fit(train[list(NUMERIC + CATEGORICAL)], y_train)
    seconds = time.perf_counter() - started
    scores = pipeline.predict_proba(test[list(NUMERIC + CATEGORICAL)])[:, 1]
    observed, predicted = calibration_curve(y_test, scores, n_bins=bins, strategy="quantile")
    names = [n.split("__", 1)[1] for n in pipeline.named_steps["encode"].get_feature_names_out()]
    coefs = pipeline.named_steps["model"].coef_[0]
    top = pd.DataFrame({"feature": names, "coefficient": coefs})
    top = top.reindex(top["coefficient"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    cutoffs = tuple(float(np.quantile(scores, q)) for _, q in SEGMENTS[:-1])
    return RiskModel(pipeline, holdout_as_of, float(roc_auc_score(y_test, scores)), len(train), len(test),
                     seconds, pd.DataFrame({"predicted": predicted, "observed": observed}), top, cutoffs)


def score(model: RiskModel, features: pd.DataFrame) -> pd.Series:
    """The predicted probability of a roll to M3+ within three month-ends, per row."""
    return pd.Series(model.pipeline.predict_proba(features[list(NUMERIC + CATEGORICAL)])[:, 1],
                     index=features.index, name="probability")


def segment(model: RiskModel, probability: pd.Series) -> pd.Series:
    """The risk segment (low, medium, high, very_high) of each predicted probability."""
    edges = np.searchsorted(np.array(model.cutoffs), probability.to_numpy(), side="right")
    return pd.Series(np.array([name for name, _ in SEGMENTS])[edges], index=probability.index, name="segment")


def channel_mix(segments: pd.DataFrame, outcomes: pd.DataFrame, complaint_cost: float = 500.0) -> pd.DataFrame:
    """Per segment and channel: attempts and net recovery per attempt; recommended = positive, best first.

    `segments` has loan_id, as_of, segment; `outcomes` is risk_channel_outcomes (loan_id, as_of, channel,
    attempts, cost, recovered_amount, complaints) for the month after each as_of.
    """
    left = outcomes.assign(as_of=pd.to_datetime(outcomes["as_of"]))
    right = segments[["loan_id", "as_of", "segment"]].assign(as_of=pd.to_datetime(segments["as_of"]))
    joined = left.merge(right, on=["loan_id", "as_of"])
    grouped = joined.groupby(["segment", "channel"], as_index=False)[
        ["attempts", "cost", "recovered_amount", "complaints"]].sum()
    grouped["net_value"] = (grouped["recovered_amount"].astype(float) - grouped["cost"].astype(float)
                            - grouped["complaints"] * complaint_cost)
    grouped["net_per_attempt"] = grouped["net_value"] / grouped["attempts"].where(grouped["attempts"] > 0)
    grouped["recommended"] = grouped["net_per_attempt"] > 0
    order = {name: i for i, (name, _) in enumerate(SEGMENTS)}
    grouped["_order"] = grouped["segment"].map(order)
    grouped = grouped.sort_values(["_order", "net_per_attempt"], ascending=[True, False])
    return grouped.drop(columns=["_order"]).reset_index(drop=True)


@dataclass(frozen=True)
class RiskReport:
    """What the risk page shows: the fitted model, held-out segment sizes and the channel mix per segment."""

    model: RiskModel
    segments: pd.DataFrame  # segment, loans, predicted, observed (held-out month)
    channel_mix: pd.DataFrame


def analyse(*, db=None, complaint_cost: float = 500.0, max_train_rows: int = MAX_TRAIN_ROWS) -> RiskReport:
    """Fit the model on the database's history and segment the held-out month with its channel mix."""
    from portal import db as dbmod

    features = dbmod.query("risk_features", db=db)
    model = fit(features, max_train_rows=max_train_rows)
    held = features[features["as_of"] == model.holdout_as_of].copy()
    held["probability"] = score(model, held)
    held["segment"] = segment(model, held["probability"])
    order = [name for name, _ in SEGMENTS]
    sizes = held.groupby("segment").agg(loans=("loan_id", "size"), predicted=("probability", "mean"),
                                        observed=(LABEL, "mean")).reindex(order).dropna(how="all")
    as_of = pd.Timestamp(model.holdout_as_of).date()
    outcomes = dbmod.query("risk_channel_outcomes", db=db, start=as_of, end=as_of + pd.Timedelta(days=1))
    mix = channel_mix(held, outcomes, complaint_cost) if not outcomes.empty else pd.DataFrame()
    return RiskReport(model, sizes.reset_index(), mix)
