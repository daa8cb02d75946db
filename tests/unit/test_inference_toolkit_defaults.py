"""The inference toolkit's default predict_fn for XGBoost script-mode models."""

import numpy as np
import xgboost as xgb

from sagestack.serving.inference_toolkit import _default_predict


def _booster(kind: str) -> xgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5], dtype=np.float32)
    return xgb.train({"booster": kind, "objective": "reg:squarederror"}, xgb.DMatrix(x, label=y), 5), x


def test_default_predict_serves_tree_and_linear_boosters():
    predict = _default_predict("xgboost")
    for kind in ("gbtree", "gblinear"):  # gblinear has no in-place prediction in XGBoost 3
        booster, x = _booster(kind)
        got = predict(x[:4], booster)
        np.testing.assert_allclose(got, booster.predict(xgb.DMatrix(x[:4])), rtol=1e-6)
