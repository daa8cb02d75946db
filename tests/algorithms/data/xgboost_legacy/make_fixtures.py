"""Writes the legacy XGBoost model fixtures of this folder with an *old* xgboost release.

The files are tiny models trained on random data made here, saved the way older SageMaker XGBoost
images saved them, plus what that release predicts for them (``expected-<version>.json``)::

    python3 -m venv /tmp/xgb090 && /tmp/xgb090/bin/pip install xgboost==0.90 'numpy<1.24' 'scipy<1.12'
    /tmp/xgb090/bin/python make_fixtures.py       # likewise with xgboost==1.0.2 and xgboost==1.7.6

(xgboost 0.72/0.90 need ``collections.Mapping``, which Python 3.10 removed: patched below.)
Not imported by the tests.
"""

import collections
import collections.abc
import json
import os
import pickle

for _name in ("Mapping", "MutableMapping", "Sequence", "Iterable"):
    setattr(collections, _name, getattr(collections.abc, _name))

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = xgb.__version__
V1 = int(VERSION.split(".")[0]) >= 1

rng = np.random.RandomState(20240)
X = rng.rand(200, 5).astype(np.float32)
X[rng.rand(200, 5) < 0.1] = np.nan
X_TEST = np.round(rng.rand(8, 5), 3).astype(np.float32)
X_TEST[[1, 4], [2, 0]] = np.nan
score = np.nan_to_num(X) @ np.array([2.0, -1.0, 0.5, 0.0, 1.5])
Y_BIN = (score > np.median(score)).astype(float)
Y_MC = np.digitize(score, np.percentile(score, [33, 66])).astype(float)

CASES = {
    # name: (params, label, rounds, how it is saved)
    "binary_logistic": (
        dict(objective="binary:logistic", max_depth=2, base_score=0.3),
        Y_BIN,
        3,
        "save_model",
    ),
    "multi_softprob": (dict(objective="multi:softprob", num_class=3, max_depth=2), Y_MC, 2, "save_model"),
    "gblinear": (
        dict(booster="gblinear", objective="reg:squarederror" if V1 else "reg:linear"),
        score,
        4,
        "save_model",
    ),
    "early_stopped": (dict(objective="binary:logistic", max_depth=2, eta=1.0), Y_BIN, 8, "pickle"),
}


def main():
    expected = {
        "version": VERSION,
        "x_test": [[None if np.isnan(v) else float(v) for v in row] for row in X_TEST],
        "models": {},
    }
    dtest = xgb.DMatrix(X_TEST, missing=np.nan)
    for name, (params, label, rounds, how) in CASES.items():
        dtrain = xgb.DMatrix(X, label=label, missing=np.nan)
        kwargs = {}
        if name == "early_stopped":
            valid = xgb.DMatrix(X_TEST, label=np.array([1, 0, 1, 1, 0, 0, 1, 0]), missing=np.nan)
            kwargs = dict(evals=[(valid, "validation")], early_stopping_rounds=2, verbose_eval=False)
        params = dict(params, verbosity=0) if V1 else dict(params, silent=1)
        booster = xgb.train(params, dtrain, rounds, **kwargs)
        if how == "pickle":
            file_name = f"{name}-{VERSION}.pkl"
            with open(os.path.join(HERE, file_name), "wb") as handle:
                pickle.dump(booster, handle, protocol=2)
        else:
            file_name = f"{name}-{VERSION}.model"
            booster.save_model(os.path.join(HERE, file_name))  # the legacy binary format in < 2.0
            if VERSION.startswith("1.7") and name == "multi_softprob":  # the JSON 1.7 writes for it
                booster.save_model(os.path.join(HERE, f"{name}-{VERSION}.json"))
        limit = getattr(booster, "best_ntree_limit", 0) if how == "pickle" else 0
        entry = {"file": file_name, "predictions": booster.predict(dtest, ntree_limit=limit).tolist()}
        if limit:
            entry["best_ntree_limit"] = limit
            entry["all_trees"] = booster.predict(dtest).tolist()
        expected["models"][name] = entry
    with open(os.path.join(HERE, f"expected-{VERSION}.json"), "w") as handle:
        json.dump(expected, handle, indent=1)
    print(VERSION, sorted(expected["models"]))


if __name__ == "__main__":
    main()
