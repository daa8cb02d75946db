"""RecordIO-protobuf codec: spec §1.2.4 vectors, and round trips against the SageMaker SDK's own code."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import scipy.sparse as sp

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
common = pytest.importorskip("sagemaker.amazon.common")

from sagestack.formats import recordio  # noqa: E402
from sagestack.formats import recordio_protobuf as rp
from sagestack.formats.recordio import FormatError  # noqa: E402

VECTORS = {
    "dense_f32_label": (
        "0a23d7ce2c000000"
        "0a160a0676616c756573120c120a0a080000c03f00000040"
        "12120a0676616c756573120812060a040000803f"
    ),
    "dense_f64": "0a23d7ce200000000a1e0a0676616c75657312141a120a10000000000000f83f0000000000000040",
    "dense_int": "0a23d7ce130000000a110a0676616c75657312073a050a0301020300",
    "sparse_f32_label": (
        "0a23d7ce33000000"
        "0a1d0a0676616c756573121312110a080000803f00008040120200031a0105"
        "12120a0676616c756573120812060a0400000000"
        "00"
    ),
    "two_rows": (
        "0a23d7ce14000000"
        "0a120a0676616c756573120812060a040000803f"
        "0a23d7ce14000000"
        "0a120a0676616c756573120812060a0400000040"
    ),
}


def sdk_dense(X, y=None) -> bytes:
    buf = io.BytesIO()
    common.write_numpy_to_dense_tensor(buf, X, y)
    return buf.getvalue()


def sdk_sparse(X, y=None) -> bytes:
    buf = io.BytesIO()
    common.write_spmatrix_to_sparse_tensor(buf, X, y)
    return buf.getvalue()


def sparse_5() -> sp.csr_matrix:
    return sp.csr_matrix((np.array([1.0, 4.0], np.float32), np.array([0, 3]), np.array([0, 2])), shape=(1, 5))


def test_spec_vectors_encode_byte_for_byte():
    assert (
        rp.encode_dense(np.array([[1.5, 2.0]], np.float32), np.array([1.0], np.float32)).hex()
        == VECTORS["dense_f32_label"]
    )
    assert rp.encode_dense(np.array([[1.5, 2.0]])).hex() == VECTORS["dense_f64"]
    assert rp.encode_dense(np.array([[1, 2, 3]], dtype=np.int64)).hex() == VECTORS["dense_int"]
    assert rp.encode_sparse(sparse_5(), np.array([0.0], np.float32)).hex() == VECTORS["sparse_f32_label"]
    assert rp.encode_dense(np.array([[1.0], [2.0]], np.float32)).hex() == VECTORS["two_rows"]
    assert len(bytes.fromhex(VECTORS["dense_int"])) == 28


def test_spec_vectors_decode():
    b = rp.decode(bytes.fromhex(VECTORS["dense_f32_label"]))
    np.testing.assert_array_equal(b.features, [[1.5, 2.0]])
    assert b.features.dtype == np.float32 and b.labels.tolist() == [1.0]
    b = rp.decode(bytes.fromhex(VECTORS["dense_f64"]))
    np.testing.assert_array_equal(b.features, [[1.5, 2.0]])
    assert b.labels is None
    np.testing.assert_array_equal(rp.decode(bytes.fromhex(VECTORS["dense_int"])).features, [[1, 2, 3]])
    b = rp.decode(bytes.fromhex(VECTORS["sparse_f32_label"]))
    assert b.is_sparse and b.features.shape == (1, 5)
    np.testing.assert_array_equal(b.features.toarray(), [[1, 0, 0, 4, 0]])
    assert b.labels.tolist() == [0.0]
    np.testing.assert_array_equal(rp.decode(bytes.fromhex(VECTORS["two_rows"])).features, [[1.0], [2.0]])


def test_spec_vectors_match_the_sdk_writer():
    assert (
        sdk_dense(np.array([[1.5, 2.0]], np.float32), np.array([1.0], np.float32)).hex()
        == VECTORS["dense_f32_label"]
    )
    assert sdk_sparse(sparse_5(), np.array([0.0], np.float32)).hex() == VECTORS["sparse_f32_label"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("label_dtype", [None, np.float32, np.float64, np.int64])
def test_dense_identical_to_sdk_and_round_trips(dtype, label_dtype):
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(37, 6)) * 1000).astype(dtype)
    y = None if label_dtype is None else (rng.normal(size=37) * 100).astype(label_dtype)
    ours = rp.encode_dense(X, y)
    assert ours == sdk_dense(X, y)
    batch = rp.decode(ours)
    np.testing.assert_array_equal(batch.features, X.astype(np.float32))
    if y is None:
        assert batch.labels is None
    else:
        np.testing.assert_allclose(batch.labels, y.astype(np.float64), rtol=1e-7)
    # the SDK reads what we wrote
    records = common.read_records(io.BytesIO(ours))
    assert len(records) == 37
    tensor = {np.float32: "float32_tensor", np.float64: "float64_tensor", np.int64: "int32_tensor"}[dtype]
    np.testing.assert_array_equal(getattr(records[5].features["values"], tensor).values, X[5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("with_labels", [False, True])
def test_sparse_identical_to_sdk_and_round_trips(dtype, with_labels):
    rng = np.random.default_rng(5)
    M = sp.random(40, 300, density=0.05, format="csr", random_state=7)
    M.data = (M.data * 1000 - 500).astype(dtype)
    M = sp.csr_matrix(M, dtype=dtype)
    M = sp.csr_matrix(sp.diags((np.arange(40) != 3).astype(np.float64)) @ M).astype(dtype)  # row 3 empty
    M.eliminate_zeros()
    assert M[3].nnz == 0
    y = rng.integers(0, 3, size=40).astype(np.float32) if with_labels else None
    ours = rp.encode_sparse(M, y)
    assert ours == sdk_sparse(M, y)
    batch = rp.decode(ours)
    assert batch.is_sparse and batch.features.shape == M.shape
    np.testing.assert_array_equal(batch.features.toarray(), M.toarray().astype(np.float32))
    if with_labels:
        np.testing.assert_array_equal(batch.labels, y)


def test_sdk_written_file_decodes_through_both_paths():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    y = rng.normal(size=50)
    data = sdk_dense(X, y)
    spans, _ = recordio.scan(data)
    fast = rp._decode_uniform(spans)
    general = rp._decode_general(spans)
    assert fast is not None
    for b in (fast, general):
        np.testing.assert_array_equal(b.features, X)
        np.testing.assert_array_equal(b.labels, y)
        assert b.labels.dtype == np.float64


def test_int_values_needing_multibyte_varints():
    X = np.array([[-1, 300, 2**31 - 1], [-(2**31), 0, 127]], dtype=np.int64)
    data = rp.encode_dense(X, np.array([-5, 1000]))
    assert data == sdk_dense(X, np.array([-5, 1000]))
    b = rp.decode(data)
    np.testing.assert_array_equal(b.features, X.astype(np.float32))
    np.testing.assert_array_equal(b.labels, [-5, 1000])
    with pytest.raises(FormatError, match="out of range"):
        rp.encode_dense(np.array([[2**33]]))


def test_zero_width_and_empty_inputs():
    Z = np.zeros((2, 0), np.float32)
    assert rp.encode_dense(Z) == sdk_dense(Z)
    assert rp.decode(rp.encode_dense(Z)).features.shape == (2, 0)
    E = sp.csr_matrix(np.zeros((2, 3), np.float32))
    assert rp.encode_sparse(E) == sdk_sparse(E)
    assert rp.decode(rp.encode_sparse(E)).features.shape == (2, 3)
    assert rp.encode_dense(np.zeros((0, 3), np.float32)) == b""
    assert len(rp.decode(b"")) == 0


def test_encode_records_read_by_sdk_record_deserializer():
    from sagemaker.deserializers import RecordDeserializer

    records = [
        {"score": 0.25, "predicted_label": 1.0},
        {"score": np.float32(0.75), "predicted_label": 0},
        {"projection": np.array([1.0, -2.0, 3.5])},
    ]
    body = rp.encode_records(records)
    parsed = RecordDeserializer().deserialize(io.BytesIO(body), "application/x-recordio-protobuf")
    assert len(parsed) == 3
    assert list(parsed[0].label["score"].float32_tensor.values) == [0.25]
    assert list(parsed[1].label["predicted_label"].float32_tensor.values) == [0.0]
    assert list(parsed[2].label["projection"].float32_tensor.values) == [1.0, -2.0, 3.5]
    assert len(parsed[0].features) == 0 and "score" not in parsed[2].label
    back = rp.decode_records(body)
    assert back[0]["score"].tolist() == [0.25] and back[2]["projection"].tolist() == [1.0, -2.0, 3.5]
    assert set(back[2]) == {"projection"}


def test_encode_label_columns_matches_encode_records_and_label_maps():
    cols = {"closest_cluster": np.array([1, 0, 2]), "distance_to_cluster": np.array([0.5, 1.5, 2.5])}
    body = rp.encode_label_columns(cols)
    rows = [{"closest_cluster": c, "distance_to_cluster": d} for c, d in zip(*cols.values())]
    assert body == rp.encode_records(rows)
    batch = rp.decode(body)
    assert batch.features.shape == (3, 0) and batch.labels is None
    np.testing.assert_array_equal(batch.label_maps["closest_cluster"], [1, 0, 2])
    multi = rp.decode(rp.encode_label_columns({"projection": np.arange(6).reshape(3, 2)}))
    assert multi.label_maps["projection"].shape == (3, 2)


def test_protobuf_runtime_records_with_unusual_layouts():
    """Records written by the protobuf runtime with several map keys, unknown fields and unpacked
    values decode like the SDK reads them."""
    from sagemaker.amazon.record_pb2 import Record

    payloads = []
    for i in range(3):
        r = Record()
        r.features["values"].float32_tensor.values.extend([i, i + 0.5])
        r.features["other"].float64_tensor.values.extend([9.0])
        r.label["values"].float32_tensor.values.extend([float(i)])
        r.label["extra"].int32_tensor.values.extend([-i, i])
        r.uid = f"id-{i}"
        r.configuration = "{}"
        payloads.append(r.SerializeToString())
    # an unpacked float (tag 0x0d) inside features["values"] of an extra record
    unpacked = bytes.fromhex("0a160a0676616c756573120c120a0d0000803f0d00000040")
    batch = rp.decode(recordio.frame(payloads))
    np.testing.assert_array_equal(batch.features, [[0, 0.5], [1, 1.5], [2, 2.5]])
    np.testing.assert_array_equal(batch.labels, [0, 1, 2])
    np.testing.assert_array_equal(batch.label_maps["extra"], [[0, 0], [-1, 1], [-2, 2]])
    assert [
        r.features["values"].float32_tensor.values[1]
        for r in common.read_records(io.BytesIO(recordio.frame(payloads)))
    ] == [0.5, 1.5, 2.5]
    unusual = rp.decode(recordio.frame([unpacked, unpacked]))
    np.testing.assert_array_equal(unusual.features, [[1, 2], [1, 2]])
    with pytest.raises(FormatError, match="label"):
        rp.decode(recordio.frame(payloads + [unpacked]))  # some records have a label, one has none


def test_mixed_dimensions_and_garbage_are_errors():
    data = rp.encode_dense(np.ones((2, 3), np.float32)) + rp.encode_dense(np.ones((1, 4), np.float32))
    with pytest.raises(FormatError, match="different feature dimensions"):
        rp.decode(data)
    with pytest.raises(FormatError):
        rp.decode(recordio.frame([b"\xff\xff\xff"]))
    with pytest.raises(FormatError):
        rp.decode(rp.encode_dense(np.ones((2, 3), np.float32))[:-3])


def test_iter_batches_streams_multi_chunk_files(tmp_path):
    rng = np.random.default_rng(2)
    X1, X2 = rng.normal(size=(300, 7)).astype(np.float32), rng.normal(size=(155, 7)).astype(np.float32)
    y1, y2 = rng.normal(size=300).astype(np.float32), rng.normal(size=155).astype(np.float32)
    (tmp_path / "a.pbr").write_bytes(rp.encode_dense(X1, y1))
    (tmp_path / "b.pbr").write_bytes(sdk_dense(X2, y2))
    paths = [tmp_path / "a.pbr", tmp_path / "b.pbr"]
    batches = list(rp.iter_batches(paths, batch_rows=64, chunk_bytes=1000))
    assert [len(b) for b in batches] == [64] * 7 + [455 - 7 * 64]
    np.testing.assert_array_equal(np.concatenate([b.features for b in batches]), np.concatenate([X1, X2]))
    np.testing.assert_array_equal(np.concatenate([b.labels for b in batches]), np.concatenate([y1, y2]))
    whole = rp.load(paths)
    np.testing.assert_array_equal(whole.features, np.concatenate([X1, X2]))


def test_iter_batches_sparse(tmp_path):
    M = sp.random(120, 50, density=0.1, format="csr", random_state=3, dtype=np.float32)
    (tmp_path / "s.pbr").write_bytes(rp.encode_sparse(M, np.arange(120, dtype=np.float32)))
    batches = list(rp.iter_batches(tmp_path / "s.pbr", batch_rows=50, chunk_bytes=512))
    assert [len(b) for b in batches] == [50, 50, 20]
    got = sp.vstack([b.features for b in batches])
    assert got.shape == (120, 50) and (got != M).nnz == 0


@pytest.mark.parametrize("labelled", [False, True])
@pytest.mark.parametrize("dim", [7, 50, 3])
def test_iter_batches_transient_gives_the_same_rows_without_copies(tmp_path, labelled, dim):
    """transient: one reused read buffer, features as strided views of it, batches of at most batch_rows
    that never straddle chunks; the rows are those of the copying reader, in order."""
    rng = np.random.default_rng(dim)
    X1, X2 = rng.normal(size=(300, dim)).astype(np.float32), rng.normal(size=(155, dim)).astype(np.float32)
    y1, y2 = (rng.normal(size=300).astype(np.float32), rng.normal(size=155).astype(np.float32))
    (tmp_path / "a.pbr").write_bytes(rp.encode_dense(X1, y1 if labelled else None))
    (tmp_path / "b.pbr").write_bytes(sdk_dense(X2, y2) if labelled else rp.encode_dense(X2))
    paths = [tmp_path / "a.pbr", tmp_path / "b.pbr"]
    rows, labels, sizes = [], [], []
    for batch in rp.iter_batches(paths, batch_rows=64, chunk_bytes=1000, transient=True):
        sizes.append(len(batch))
        rows.append(batch.features.copy())  # valid only until the next batch
        if labelled:
            labels.append(batch.labels.copy())
    assert max(sizes) <= 64 and sum(sizes) == 455
    np.testing.assert_array_equal(np.concatenate(rows), np.concatenate([X1, X2]))
    if labelled:
        np.testing.assert_array_equal(np.concatenate(labels), np.concatenate([y1, y2]))
    copying = list(rp.iter_batches(paths, batch_rows=64, chunk_bytes=1000))
    np.testing.assert_array_equal(np.concatenate([b.features for b in copying]), np.concatenate(rows))


def test_iter_batches_transient_views_the_read_buffer(tmp_path):
    X = np.arange(40 * 4, dtype=np.float32).reshape(40, 4)
    (tmp_path / "a.pbr").write_bytes(rp.encode_dense(X))
    done = 0
    chunks = 0
    for batch in rp.iter_batches(tmp_path / "a.pbr", batch_rows=100, chunk_bytes=400, transient=True):
        assert not batch.features.flags.c_contiguous  # a strided view of the records, not a copy
        np.testing.assert_array_equal(batch.features, X[done : done + len(batch)])
        done += len(batch)
        chunks += 1
    assert chunks > 1 and done == 40


def test_iter_batches_transient_general_layout_and_bad_files(tmp_path):
    """Records the uniform path cannot view (sparse, ragged) still stream; framing errors still raise."""
    M = sp.random(120, 50, density=0.1, format="csr", random_state=3, dtype=np.float32)
    (tmp_path / "s.pbr").write_bytes(rp.encode_sparse(M))
    batches = [b.features.copy() for b in rp.iter_batches(tmp_path / "s.pbr", 50, 512, transient=True)]
    got = sp.vstack(batches)
    assert got.shape == (120, 50) and (got != M).nnz == 0
    (tmp_path / "t.pbr").write_bytes(rp.encode_dense(np.ones((20, 5), np.float32))[:-3])
    with pytest.raises(FormatError, match="truncated"):
        list(rp.iter_batches(tmp_path / "t.pbr", 8, 256, transient=True))


@pytest.mark.parametrize("stride,width,offset", [(12, 8, 0), (228, 20, 8), (10, 3, 1), (16, 16, 0)])
def test_rows_equal(stride, width, offset):
    count = 5000
    buf = np.zeros(stride * count + offset, dtype=np.uint8)
    rows = buf[offset : offset + stride * count].reshape(count, stride)
    rows[:, :width] = np.arange(1, width + 1, dtype=np.uint8)
    rows[:, width:] = np.arange(count, dtype=np.uint64)[:, None] % 251  # differs outside the span
    assert recordio.rows_equal(buf, offset, stride, count, width)
    rows[count - 1, width - 1] ^= 0x40  # one byte of the last row
    assert not recordio.rows_equal(buf, offset, stride, count, width)
    assert recordio.rows_equal(buf, offset, stride, 1, width)
