"""MXNet NDArray files and symbol graphs, read and written with numpy (sagestack.formats.mxnet_*)."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from sagestack.formats import mxnet_ndarray as nd
from sagestack.formats import mxnet_symbol
from sagestack.formats.mxnet_ndarray import MXNetFormatError

FIXTURES = Path(__file__).parent.parent / "algorithms" / "data" / "mxnet_aws"

#: ``mx.nd.save(f, {"csr": <[[0, 1.5, 0], [0, 0, 0], [2, 0, 3]] as csr>, "rsp": <[[0,0,0],[1,2,3],[0,0,0],
#: [4,5,6]] as row_sparse>})`` written by MXNet 1.9.1.
MXNET_SPARSE = bytes.fromhex(
    "120100000000000000000000000000000200000000000000c9fa93f9020000000100000003000000000000000200000003"
    "000000000000000300000000000000010000000000000000000000060000000100000004000000000000000600000001000000"
    "03000000000000000000c03f0000004000004040000000000000000001000000000000000100000000000000030000000000"
    "0000010000000000000000000000000000000200000000000000c9fa93f9010000000200000002000000000000000300000000"
    "0000000200000004000000000000000300000000000000010000000000000000000000060000000100000002000000000000"
    "000000803f0000004000004040000080400000a0400000c0400100000000000000030000000000000002000000000000000300"
    "0000000000006373720300000000000000727370"
)


def test_dense_list_layout_is_mxnets():
    """``mx.nd.save(f, [mx.nd.array([[1, 2], [3, 4]])])``, byte for byte."""
    raw = nd.save([np.array([[1, 2], [3, 4]], dtype=np.float32)])
    expected = (
        struct.pack("<QQQ", 0x112, 0, 1)
        + struct.pack("<IiI", 0xF993FAC9, 0, 2)
        + struct.pack("<qq", 2, 2)
        + struct.pack("<iii", 1, 0, 0)
        + np.arange(1, 5, dtype="<f4").tobytes()
        + struct.pack("<Q", 0)
    )
    assert raw == expected
    assert nd.is_ndarray_file(raw)


@pytest.mark.parametrize(
    "dtype", ["float32", "float64", "float16", "uint8", "int8", "int32", "int64", "bool"]
)
def test_round_trip_of_every_dtype(dtype):
    value = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    loaded = nd.load(nd.save({"x": value, "y": value[:1]}))
    assert list(loaded) == ["x", "y"]
    assert loaded["x"].dtype == value.dtype
    np.testing.assert_array_equal(loaded["x"], value)
    np.testing.assert_array_equal(loaded["y"], value[:1])


def test_mxnet_sparse_arrays_read():
    loaded = nd.load(MXNET_SPARSE)
    assert sp.issparse(loaded["csr"])
    np.testing.assert_array_equal(loaded["csr"].toarray(), [[0, 1.5, 0], [0, 0, 0], [2, 0, 3]])
    np.testing.assert_array_equal(loaded["rsp"], [[0, 0, 0], [1, 2, 3], [0, 0, 0], [4, 5, 6]])
    again = nd.load(nd.save({"csr": loaded["csr"]}))["csr"]
    np.testing.assert_array_equal(again.toarray(), loaded["csr"].toarray())


def test_csr_written_with_an_empty_storage_shape():
    """MXNet 1.9 may save a csr array's stored-values shape as (0,); the index shape then counts."""
    matrix = sp.csr_matrix(np.array([[0, 2.0], [3.0, 0]], dtype=np.float32))
    raw = bytearray(nd.save([matrix]))
    storage_dim = 16 + 8 + 8 + 4  # header, count, magic + storage type, rank
    raw[storage_dim : storage_dim + 8] = struct.pack("<q", 0)
    np.testing.assert_array_equal(nd.load(bytes(raw))[0].toarray(), matrix.toarray())


def test_older_array_versions():
    """V1 (int64 dims, no storage type) and the format before it (rank first, uint32 dims)."""
    values = np.array([1.5, -2.0, 3.25], dtype="<f4")
    v1 = struct.pack("<Iiq", 0xF993FAC8, 1, 3) + struct.pack("<iii", 1, 0, 0) + values.tobytes()
    pre_v1 = struct.pack("<II", 1, 3) + struct.pack("<iii", 1, 0, 0) + values.tobytes()
    for array in (v1, pre_v1):
        raw = struct.pack("<QQQ", 0x112, 0, 1) + array + struct.pack("<Q", 0)
        np.testing.assert_array_equal(nd.load(raw)[0], values)


def test_v3_scalar_and_empty_arrays():
    scalar = struct.pack("<Iii", 0xF993FACA, 0, 0) + struct.pack("<iii", 1, 0, 0) + struct.pack("<f", 3.0)
    empty = struct.pack("<Iii", 0xF993FAC9, 0, 0)
    raw = struct.pack("<QQQ", 0x112, 0, 2) + scalar + empty + struct.pack("<Q", 0)
    first, second = nd.load(raw)
    assert first.shape == () and float(first) == 3.0 and second is None


@pytest.mark.parametrize(
    "raw,message",
    [
        (b"", "ends at byte 0"),
        (struct.pack("<QQ", 0x113, 0), "header is not 0x112"),
        (nd.save([np.zeros((2, 2), np.float32)])[:50], "ends at byte 50"),
        (struct.pack("<QQQ", 0x112, 0, 1) + struct.pack("<Iii", 0xF993FAC9, 7, 0), "storage type 7"),
    ],
)
def test_damaged_files_are_errors(raw, message):
    with pytest.raises(MXNetFormatError, match=message):
        nd.load(raw)


def test_artifacts_list_file_and_zip_archive():
    assert nd.read_artifact((FIXTURES / "kmeans-model_algo-1").read_bytes()).arrays[0].shape == (3, 4)
    archive = nd.read_artifact((FIXTURES / "linear_learner-binary-model_algo-1").read_bytes())
    assert sorted(archive.members) == [
        "additional-params.json",
        "manifest.json",
        "mx-mod-0000.params",
        "mx-mod-symbol.json",
    ]
    args, aux = archive.params()
    assert sorted(args) == ["fc0_bias", "fc0_weight", "feature_mean", "feature_scale"] and aux == {}
    assert archive.symbol()["heads"]
    with pytest.raises(MXNetFormatError, match="neither an MXNet NDArray file nor a zip"):
        nd.read_artifact(b"hello")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as empty:
        empty.writestr("manifest.json", "{}")
    with pytest.raises(MXNetFormatError, match="no parameter file"):
        nd.read_artifact(out.getvalue()).params()


def test_symbol_graph_evaluates_like_mxnet():
    expected = json.loads((FIXTURES / "expected.json").read_text())
    archive = nd.read_artifact((FIXTURES / "linear_learner-binary-model_algo-1").read_bytes())
    graph = mxnet_symbol.Graph.from_json(archive.symbol())
    X = np.array(expected["x_test"], dtype=np.float32)
    (scores,) = mxnet_symbol.evaluate(graph, {"data": X}, archive.params()[0])
    np.testing.assert_allclose(scores.ravel(), expected["linear_learner_binary"]["score"], rtol=1e-5)
    transform, body = graph.split_head()
    assert transform == "sigmoid" and body.nodes[body.heads[0][0]].op == "FullyConnected"


def test_unsupported_operator_is_named():
    doc = {
        "nodes": [
            {"op": "null", "name": "data", "inputs": []},
            {"op": "Convolution", "name": "conv0", "inputs": [[0, 0, 0]]},
        ],
        "heads": [[1, 0, 0]],
    }
    with pytest.raises(MXNetFormatError, match="operator Convolution"):
        mxnet_symbol.evaluate(mxnet_symbol.Graph.from_json(doc), {"data": np.zeros((1, 2))}, {})
