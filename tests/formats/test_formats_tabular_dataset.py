"""CSV / LibSVM / Parquet readers, content types, manifests and channel loading."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sagestack.formats import content_types as ct
from sagestack.formats import dataset, manifest, recordio_protobuf, tabular
from sagestack.formats.recordio import FormatError


def test_normalize_and_parameters():
    assert ct.normalize("CSV") == "text/csv"
    assert ct.normalize("text/csv; label_size=1") == "text/csv"
    for alias in ("libsvm", "text/x-libsvm", "application/x-libsvm", "TEXT/LIBSVM"):
        assert ct.normalize(alias) == ct.LIBSVM
    assert ct.normalize("parquet") == ct.normalize("application/x-parquet") == ct.PARQUET
    assert ct.normalize("recordio-protobuf") == ct.RECORDIO_PROTOBUF
    assert ct.normalize("application/x-jsonlines") == ct.JSONLINES
    assert ct.normalize("application/json; charset=utf-8") == ct.JSON
    assert ct.normalize(None) == "" and ct.normalize("image/jpeg") == "image/jpeg"
    assert ct.parameters('text/csv; label_size=1; charset="utf-8"') == {"label_size": "1", "charset": "utf-8"}
    assert ct.parameters("text/csv") == {}
    assert ct.matches("csv;label_size=1", "text/csv")


def test_csv_load_and_stream(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(250, 5)).astype(np.float32)
    np.savetxt(tmp_path / "a.csv", data[:100], delimiter=",", fmt="%.9g")
    np.savetxt(tmp_path / "b.csv", data[100:], delimiter=",", fmt="%.9g")
    files = [tmp_path / "a.csv", tmp_path / "b.csv"]
    X, y = tabular.load_csv(files)
    assert X.dtype == np.float32 and X.shape == (250, 4)
    np.testing.assert_array_equal(y, data[:, 0])
    np.testing.assert_array_equal(X, data[:, 1:])
    X, y = tabular.load_csv(files, label_column=None)
    assert y is None and X.shape == (250, 5)
    batches = list(tabular.iter_csv(files, 60))
    assert [b[0].shape[0] for b in batches] == [60, 60, 60, 60, 10]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), data[:, 0])
    X, y, w = tabular.read_csv(files, 0, weight_column=1)
    np.testing.assert_array_equal(w, data[:, 1])
    assert X.shape == (250, 3)


def test_csv_delimiters_missing_values_and_errors(tmp_path):
    (tmp_path / "t.csv").write_text("1\t2\t\n0\t4\t5\n")
    X, y = tabular.load_csv(tmp_path / "t.csv")
    assert y.tolist() == [1, 0] and np.isnan(X[0, 1])
    (tmp_path / "bad.csv").write_text("1,abc\n")
    with pytest.raises(FormatError, match="CSV"):
        tabular.load_csv(tmp_path / "bad.csv")
    (tmp_path / "empty.csv").write_text("")
    X, y = tabular.load_csv([tmp_path / "empty.csv"])
    assert X.shape[0] == 0


def test_libsvm_with_weights_and_qid(tmp_path):
    (tmp_path / "a.txt").write_text("1 0:1.5 3:2\n0 1:1\n")
    (tmp_path / "b.txt").write_text("1:0.5 qid:3 2:4\n0:2 qid:3 0:1\n")
    X, y = tabular.load_libsvm([tmp_path / "a.txt"])
    assert X.shape == (2, 4) and y.tolist() == [1, 0]
    np.testing.assert_array_equal(X.toarray(), [[1.5, 0, 0, 2], [0, 1, 0, 0]])
    data = tabular.read_libsvm([tmp_path / "a.txt", tmp_path / "b.txt"])
    assert data.X.shape == (4, 4) and data.y.tolist() == [1, 0, 1, 0]
    assert data.weights.tolist() == [1, 1, 0.5, 2]
    assert data.qid.tolist()[2:] == [3, 3]
    assert data.X.dtype == np.float32


def test_parquet_load_and_stream(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(1)
    M = rng.normal(size=(90, 3))
    table = pa.table(
        {"label": M[:, 0], "f1": M[:, 1].astype(np.float32), "f2": (M[:, 2] * 10).astype(np.int64)}
    )
    pq.write_table(table, tmp_path / "p.parquet", row_group_size=25)
    X, y = tabular.load_parquet(tmp_path / "p.parquet")
    np.testing.assert_allclose(y, M[:, 0].astype(np.float32))
    assert X.shape == (90, 2) and X.dtype == np.float32
    sizes = [b[0].shape[0] for b in tabular.iter_parquet(tmp_path / "p.parquet", 40)]
    assert sizes == [40, 40, 10]


def test_manifest_and_augmented_manifest(tmp_path):
    body = json.dumps([{"prefix": "s3://bucket/data/"}, "matrix_0.pbr", "sub/matrix_1.pbr"])
    assert manifest.parse_manifest(body) == [
        "s3://bucket/data/matrix_0.pbr",
        "s3://bucket/data/sub/matrix_1.pbr",
    ]
    assert manifest.split_s3_uri("s3://bucket/data/x") == ("bucket", "data/x")
    for bad in ("{}", "[]", '[{"prefix": 1}]', '["a"]', '[{"prefix": "s3://b/"}, 3]'):
        with pytest.raises(FormatError):
            manifest.parse_manifest(bad)
    lines = b'{"source-ref": "s3://b/1.jpg", "class": "0", "x": 1}\n\n{"source-ref": "s3://b/2.jpg", "class": "1"}\n'
    docs = list(manifest.iter_augmented_manifest(lines, ["class", "source-ref"]))
    assert docs == [
        {"class": "0", "source-ref": "s3://b/1.jpg"},
        {"class": "1", "source-ref": "s3://b/2.jpg"},
    ]
    assert list(docs[0]) == ["class", "source-ref"]
    path = tmp_path / "m.manifest"
    path.write_bytes(lines)
    assert len(list(manifest.iter_augmented_manifest(path))) == 2
    with pytest.raises(FormatError, match="x"):
        list(manifest.iter_augmented_manifest(lines, ["x"]))
    payloads = list(
        manifest.iter_augmented_payloads(lines, ["source-ref", "class"], lambda uri: uri.encode()[-5:])
    )
    assert payloads[0] == [b"1.jpg", b"0"]
    assert manifest.attribute_payload("box", {"a": [1]}, lambda u: b"") == b'{"a":[1]}'


def test_files_in_skips_hidden_and_manifests(tmp_path):
    (tmp_path / "sub" / ".hidden").mkdir(parents=True)
    for name in (
        "b.csv",
        "a.csv",
        "sub/c.csv",
        ".amazon.manifest",
        "_SUCCESS",
        "x.manifest",
        "sub/.hidden/d.csv",
    ):
        (tmp_path / name).write_text("1,2\n")
    assert [p.relative_to(tmp_path).as_posix() for p in dataset.files_in(tmp_path)] == [
        "a.csv",
        "b.csv",
        "sub/c.csv",
    ]
    assert dataset.files_in(tmp_path / "missing") == []


def test_load_and_iter_channel_for_each_content_type(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 3)).astype(np.float32)
    y = rng.integers(0, 2, size=30).astype(np.float32)
    pbr, csv, svm = tmp_path / "pbr", tmp_path / "csv", tmp_path / "svm"
    for d in (pbr, csv, svm):
        d.mkdir()
    (pbr / "matrix_0.pbr").write_bytes(recordio_protobuf.encode_dense(X[:20], y[:20]))
    (pbr / "matrix_1.pbr").write_bytes(recordio_protobuf.encode_dense(X[20:], y[20:]))
    (pbr / ".amazon.manifest").write_text("[]")
    np.savetxt(csv / "train.csv", np.column_stack([y, X]), delimiter=",", fmt="%.9g")
    (svm / "train.txt").write_text(
        "".join(
            f"{int(t)} " + " ".join(f"{j}:{v:.9g}" for j, v in enumerate(row)) + "\n" for t, row in zip(y, X)
        )
    )
    for channel, ctype in (
        (pbr, "application/x-recordio-protobuf"),
        (csv, "text/csv;label_size=1"),
        (svm, "libsvm"),
    ):
        ds = dataset.load_channel(channel, ctype)
        assert len(ds) == 30 and ds.n_features == 3
        np.testing.assert_array_equal(ds.y, y)
        dense = ds.X.toarray() if hasattr(ds.X, "toarray") else ds.X
        np.testing.assert_allclose(dense, X, rtol=1e-6)
        sizes = [len(b) for b in dataset.iter_channel(channel, ctype, 8)]
        assert sizes == [8, 8, 8, 6]
    with pytest.raises(FormatError, match="not supported"):
        dataset.load_channel(csv, "application/json")
    assert dataset.load_channel(csv, "text/csv; label_size=0").y is None
