"""score_frame: each row scored by its band's model, aligned to the index, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from aanwas.common.errors import InputError
from models import ModelBundle, score_frame, score_metrics


def _constant(rate: float, cols: list[str]) -> DummyClassifier:
    X = pd.DataFrame({c: np.zeros(10) for c in cols})
    y = np.array([1] * int(rate * 10) + [0] * (10 - int(rate * 10)))
    return DummyClassifier(strategy="prior").fit(X, y)


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age_band": pd.Categorical(
                ["8-12", "13-19", "8-12", "20-23", "13-19"], categories=["8-12", "13-19", "20-23"]
            ),
            "age": [9, 15, 11, 21, 14],
            "ind_halt": [np.nan, 1.0, np.nan, 0.0, 0.0],
        },
        index=[50, 10, 40, 30, 20],
    )


def test_rows_scored_by_their_own_band_and_aligned() -> None:
    bundle = ModelBundle(
        {
            "8-12": _constant(0.1, ["age"]),
            "13-19": _constant(0.3, ["age", "ind_halt"]),
            "20-23": _constant(0.5, ["age"]),
        }
    )
    table = _table()
    risk = score_frame(bundle, table)
    assert risk.index.equals(table.index)
    assert risk.name == "risk"
    assert risk.to_dict() == pytest.approx({50: 0.1, 10: 0.3, 40: 0.1, 30: 0.5, 20: 0.3})
    # order of rows does not matter
    shuffled = table.iloc[[3, 0, 4, 1, 2]]
    pd.testing.assert_series_equal(score_frame(bundle, shuffled), risk.loc[shuffled.index])


def test_model_reads_only_its_columns() -> None:
    X = pd.DataFrame({"age": [13.0, 15.0, 17.0, 19.0]})
    est = LogisticRegression().fit(X, [0, 0, 1, 1])
    table = X.assign(age_band="13-19", migration_group="europa")  # extra columns are ignored
    risk = score_frame(ModelBundle({"13-19": est}), table)
    np.testing.assert_allclose(risk.to_numpy(), est.predict_proba(X)[:, 1])


def test_errors_name_the_problem_without_values() -> None:
    bundle = ModelBundle({"8-12": _constant(0.1, ["age"]), "13-19": _constant(0.3, ["age", "ind_halt"])})
    with pytest.raises(InputError, match=r"age_band.*2 rows|without a model.*\(1 row\)"):
        score_frame(bundle, _table())
    with pytest.raises(InputError, match="ind_halt"):
        score_frame(bundle, _table().drop(columns="ind_halt").query("age_band != '20-23'"))
    with pytest.raises(InputError, match="age_band"):
        score_frame(bundle, _table().drop(columns="age_band"))
    with pytest.raises(TypeError, match="feature_names_in_"):
        ModelBundle({"8-12": object()})


def test_score_metrics_match_sklearn_and_oracle() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(500) * 0.3
    y = (rng.random(500) < p).astype(int)
    m = score_metrics(y, p, truth=p)
    assert m["auc"] == pytest.approx(m["oracle_auc"])
    assert m["prevalence"] == pytest.approx(y.mean())
    assert set(m) == {"auc", "pr_auc", "brier", "ece", "prevalence", "mean_risk"} | {
        "oracle_auc",
        "oracle_brier",
        "oracle_ece",
    }
    assert m["ece"] == pytest.approx(m["oracle_ece"])  # same scores, same bins
    assert np.isnan(score_metrics(np.zeros(5), np.full(5, 0.1))["auc"])


# --- distinct rows: each distinct input scored once (national scale), results unchanged ------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from models.scoring import distinct_rows  # noqa: E402

_values = st.sampled_from([0.0, 1.0, 2.0, np.nan, -0.0, 1e-7])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_values, _values, st.integers(0, 3)), min_size=0, max_size=40))
def test_distinct_rows_rebuild_every_row_exactly(rows) -> None:
    X = pd.DataFrame(rows, columns=["a", "b", "c"]).astype({"a": "float32", "b": "float64", "c": "int8"})
    d, inv = distinct_rows(X)
    assert len(inv) == len(X)
    rebuilt = d.iloc[inv].reset_index(drop=True)
    pd.testing.assert_frame_equal(rebuilt, X.reset_index(drop=True))  # NaN == NaN here, -0.0 == 0.0
    assert len(d) == len(X.drop_duplicates())


def test_distinct_rows_many_columns_do_not_overflow() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.integers(0, 1000, size=(2000, 12)).astype("float32"))
    X = pd.concat([X, X.iloc[::3]], ignore_index=True)  # 1000**12 > 2**62: keys are re-numbered
    d, inv = distinct_rows(X)
    assert len(d) == len(X.drop_duplicates()) and (d.iloc[inv].to_numpy() == X.to_numpy()).all()


def test_score_frame_equals_row_by_row_prediction() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    X = pd.DataFrame({"age": rng.integers(13, 20, n), "ind_a": rng.integers(0, 3, n).astype("float32")})
    X.loc[rng.random(n) < 0.2, "ind_a"] = np.nan
    est = LogisticRegression().fit(X.fillna(-1), rng.integers(0, 2, n))

    class _NanSafe:  # the real models take NaN; a logistic regression needs it filled
        feature_names_in_ = np.array(["age", "ind_a"])

        def predict_proba(self, Z):
            return est.predict_proba(Z.fillna(-1))

    table = X.assign(age_band="13-19")
    got = score_frame(ModelBundle({"13-19": _NanSafe()}), table)
    np.testing.assert_array_equal(got.to_numpy(), est.predict_proba(X.fillna(-1))[:, 1])
