"""Writes this folder's ``model_algo-1`` fixtures, in the layouts SageMaker's MXNet-based algorithms use on
AWS, with a real MXNet (1.9.1) and random parameters made here; ``expected.json`` holds what MXNet itself
computes for ``x_test`` with them::

    python3 -m venv /tmp/mxenv && /tmp/mxenv/bin/pip install mxnet==1.9.1 'numpy<1.24'
    /tmp/mxenv/bin/python make_fixtures.py

The layouts are those public material shows (see sagestack/algorithms/aws_artifacts.py); the graphs
around the Linear Learner's ``fc0`` and the Factorization Machines parameters are written the way
they are inferred to be. Not imported by the tests.
"""

import io
import json
import os
import zipfile

import mxnet as mx
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(7)
D = 4
X_TEST = np.round(rng.rand(5, D) * 4 - 2, 3).astype(np.float32)


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as handle:
        handle.write(data)


def checkpoint_zip(symbol, arg_params, files, prefix):
    """A Module checkpoint (``<prefix>-symbol.json``, ``<prefix>-0000.params``) zipped with ``files``."""
    tmp = os.path.join(HERE, "_ckpt")
    mx.model.save_checkpoint(tmp, 0, symbol, arg_params, {})
    names = (
        {"symbol": f"{prefix}-symbol.json", "params": f"{prefix}-0000.params"}
        if prefix
        else {"symbol": "symbol.json", "params": "params"}
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, json.dumps(content))
        archive.write(f"{tmp}-symbol.json", names["symbol"])
        archive.write(f"{tmp}-0000.params", names["params"])
    os.remove(f"{tmp}-symbol.json")
    os.remove(f"{tmp}-0000.params")
    return out.getvalue()


def run(symbol, arg_params, x):
    executor = symbol.bind(
        mx.cpu(),
        {
            "data": mx.nd.array(x),
            **arg_params,
            **{n: mx.nd.zeros((x.shape[0],)) for n in symbol.list_arguments() if n.endswith("label")},
        },
    )
    return executor.forward(is_train=False)[0].asnumpy()


def main():
    expected = {"x_test": X_TEST.tolist()}

    # K-Means: [centroids]
    centroids = rng.rand(3, D).astype(np.float32) * 4 - 2
    write("kmeans-model_algo-1", open_save([mx.nd.array(centroids)]))
    d = ((X_TEST[:, None, :] - centroids[None]) ** 2).sum(-1)
    expected["kmeans"] = {
        "closest_cluster": d.argmin(1).tolist(),
        "distance_to_cluster": np.sqrt(d.min(1)).tolist(),
    }

    # PCA: {"mean", "v", "s"} with components in ascending order of variance
    mean = rng.rand(1, D).astype(np.float32)
    v = np.linalg.qr(rng.randn(D, D))[0][:, :2].astype(np.float32)
    s = np.array([1.5, 4.0], dtype=np.float32)
    write(
        "pca-model_algo-1", open_save({"s": mx.nd.array(s), "v": mx.nd.array(v), "mean": mx.nd.array(mean)})
    )
    expected["pca"] = {"projection": ((X_TEST - mean) @ v).tolist()}

    # Linear Learner (binary, logistic): normalisation in the graph, then fc0, then a logistic output
    data = mx.sym.var("data")
    shift, scale = mx.sym.var("feature_mean"), mx.sym.var("feature_scale")
    fc = mx.sym.FullyConnected(
        mx.sym.broadcast_div(mx.sym.broadcast_sub(data, shift), scale), num_hidden=1, name="fc0"
    )
    sym = mx.sym.LogisticRegressionOutput(fc, name="out")
    params = {
        "fc0_weight": mx.nd.array(rng.randn(1, D)),
        "fc0_bias": mx.nd.array([0.25]),
        "feature_mean": mx.nd.array(rng.rand(1, D)),
        "feature_scale": mx.nd.array(rng.rand(1, D) + 0.5),
    }
    write(
        "linear_learner-binary-model_algo-1",
        checkpoint_zip(sym, params, {"additional-params.json": {}, "manifest.json": {}}, "mx-mod"),
    )
    expected["linear_learner_binary"] = {"score": run(sym, params, X_TEST).ravel().tolist()}

    # Linear Learner (regressor): fc0 then label de-normalisation
    fc = mx.sym.FullyConnected(data, num_hidden=1, name="fc0")
    sym = mx.sym.LinearRegressionOutput((fc * 3.0) + 10.0, name="out")
    params = {"fc0_weight": mx.nd.array(rng.randn(1, D)), "fc0_bias": mx.nd.array([-0.5])}
    write(
        "linear_learner-regressor-model_algo-1",
        checkpoint_zip(sym, params, {"additional-params.json": {}, "manifest.json": {}}, "mx-mod"),
    )
    expected["linear_learner_regressor"] = {"score": run(sym, params, X_TEST).ravel().tolist()}

    # Factorization Machines (binary): w0_weight, w1_weight (D, 1), v (D, k)
    k = 2
    w0, w1, vv = mx.sym.var("w0_weight"), mx.sym.var("w1_weight"), mx.sym.var("v")
    linear = mx.sym.broadcast_add(mx.sym.dot(data, w1), w0)
    pair = 0.5 * mx.sym.sum(
        mx.sym.square(mx.sym.dot(data, vv)) - mx.sym.dot(mx.sym.square(data), mx.sym.square(vv)),
        axis=1,
        keepdims=True,
    )
    sym = mx.sym.LogisticRegressionOutput(linear + pair, name="out")
    params = {
        "w0_weight": mx.nd.array([0.1]),
        "w1_weight": mx.nd.array(rng.randn(D, 1) * 0.5),
        "v": mx.nd.array(rng.randn(D, k) * 0.5),
    }
    meta = {
        "training_parameters": {
            "feature_dim": str(D),
            "num_factors": str(k),
            "predictor_type": "binary_classifier",
        }
    }
    write("factorization_machines-model_algo-1", checkpoint_zip(sym, params, {"meta.json": meta}, None))
    expected["factorization_machines"] = {"score": run(sym, params, X_TEST).ravel().tolist()}

    with open(os.path.join(HERE, "expected.json"), "w") as handle:
        json.dump(expected, handle, indent=1)


def open_save(arrays):
    tmp = os.path.join(HERE, "_arrays")
    mx.nd.save(tmp, arrays)
    with open(tmp, "rb") as handle:
        data = handle.read()
    os.remove(tmp)
    return data


if __name__ == "__main__":
    main()
