"""Common 1P inference request decoding and response encoding (spec §1.3)."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from sagestack.algorithms.base import InferenceError
from sagestack.formats import recordio_protobuf
from sagestack.formats.inference import decode_request, encode_response


def test_csv_requests():
    X = decode_request(b"1.5,16,14\n2,3,4\n", "text/csv")
    assert X.dtype == np.float32 and X.tolist() == [[1.5, 16, 14], [2, 3, 4]]
    assert decode_request(b"9,1,2\n", "text/csv; label_size=1").tolist() == [[1, 2]]
    assert decode_request(b"1,2", "TEXT/CSV;label_size=0").tolist() == [[1, 2]]
    with pytest.raises(InferenceError) as err:
        decode_request(b"1,x\n", "text/csv")
    assert err.value.status == 400


def test_json_request_shapes():
    dense = {"instances": [{"features": [1.5, 16.0]}, {"data": {"features": {"values": [2, 3]}}}, [4, 5]]}
    X = decode_request(json.dumps(dense).encode(), "application/json")
    assert isinstance(X, np.ndarray) and X.tolist() == [[1.5, 16], [2, 3], [4, 5]]
    assert decode_request(b"[1, 2, 3]", "application/json").tolist() == [[1, 2, 3]]
    assert decode_request(b'{"features": [7, 8]}', "application/json").tolist() == [[7, 8]]
    sparse = {
        "instances": [
            {"data": {"features": {"keys": [26, 182], "shape": [2000], "values": [1, 1]}}},
            {"features": [0.5, 0.25], "configuration": {"k": 1}},
        ]
    }
    S = decode_request(json.dumps(sparse).encode(), "application/json")
    assert S.shape == (2, 2000) and S[0, 182] == 1 and S[1, 1] == 0.25 and S.nnz == 4


def test_jsonlines_and_recordio_requests():
    body = b'{"features": [1, 2]}\n{"data": {"features": {"values": [3, 4]}}}\n\n'
    assert decode_request(body, "application/jsonlines").tolist() == [[1, 2], [3, 4]]
    X = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert (
        decode_request(recordio_protobuf.encode_dense(X), "application/x-recordio-protobuf").tolist()
        == X.tolist()
    )


def test_sdk_record_serializer_request():
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    serializers = pytest.importorskip("sagemaker.serializers")
    X = np.random.default_rng(0).normal(size=(4, 3))
    body = serializers.RecordSerializer().serialize(X).read()
    np.testing.assert_allclose(decode_request(body, "application/x-recordio-protobuf"), X, rtol=1e-6)


@pytest.mark.parametrize(
    "body,ctype,status",
    [
        (b"1,2", "application/x-parquet", 415),
        (b"1,2", "image/png", 415),
        (b"", "text/csv", 400),
        (b"{not json", "application/json", 400),
        (b'{"instances": [{"features": [1]}, {"features": [1, 2]}]}', "application/json", 400),
        (b'{"instances": [{"feat": [1]}]}', "application/json", 400),
        (b'{"instances": [{"features": ["a"]}]}', "application/json", 400),
        (b"\x00\x01\x02\x03\x04\x05\x06\x07\x08", "application/x-recordio-protobuf", 400),
    ],
)
def test_bad_requests(body, ctype, status):
    with pytest.raises(InferenceError) as err:
        decode_request(body, ctype)
    assert err.value.status == status


def test_responses():
    records = [{"score": np.float32(0.25), "predicted_label": 1}, {"score": 0.75, "predicted_label": 0}]
    body, ctype = encode_response(records, "application/json")
    assert ctype == "application/json"
    assert json.loads(body) == {
        "predictions": [{"score": 0.25, "predicted_label": 1}, {"score": 0.75, "predicted_label": 0}]
    }
    body, ctype = encode_response(records, "application/jsonlines")
    assert body.decode().splitlines() == [
        '{"score": 0.25, "predicted_label": 1}',
        '{"score": 0.75, "predicted_label": 0}',
    ]
    body, ctype = encode_response(records, "text/csv")
    assert body == b"0.25,1\n0.75,0\n" and ctype == "text/csv"
    body, ctype = encode_response(records, "application/x-recordio-protobuf")
    assert [r["score"].tolist() for r in recordio_protobuf.decode_records(body)] == [[0.25], [0.75]]
    body, _ = encode_response({"projection": np.array([[1.0, 2.0], [3.0, 4.0]])}, None, key="projections")
    assert json.loads(body) == {"projections": [{"projection": [1.0, 2.0]}, {"projection": [3.0, 4.0]}]}
    body, _ = encode_response({"projection": np.array([[1.0, 2.0]])}, "application/x-recordio-protobuf")
    assert recordio_protobuf.decode_records(body)[0]["projection"].tolist() == [1.0, 2.0]
    assert encode_response(records, "*/*")[1] == "application/json"
    with pytest.raises(InferenceError) as err:
        encode_response(records, "application/x-parquet")
    assert err.value.status == 406


def test_sdk_record_deserializer_reads_responses():
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    deserializers = pytest.importorskip("sagemaker.deserializers")
    body, ctype = encode_response(
        {"closest_cluster": np.array([2, 0]), "distance_to_cluster": np.array([0.5, 1.0])},
        "application/x-recordio-protobuf",
    )
    recs = deserializers.RecordDeserializer().deserialize(io.BytesIO(body), ctype)
    assert [r.label["closest_cluster"].float32_tensor.values[0] for r in recs] == [2.0, 0.0]
    assert [r.label["distance_to_cluster"].float32_tensor.values[0] for r in recs] == [0.5, 1.0]
