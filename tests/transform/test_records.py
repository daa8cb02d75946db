"""Batch transform record handling: splitting, batching, JSONPath filters and joins (pure)."""

import io
import json
import struct

import pytest

from sagestack.execution import jsonpath
from sagestack.execution.transform_records import (
    RecordError,
    batches,
    filter_input,
    iter_line_chunks,
    iter_lines,
    iter_recordio,
    iter_tfrecord,
    join_and_filter,
    split_output,
)


def test_jsonpath_subset():
    row = ["id7", "1.5", "2.5", "3.5"]
    assert jsonpath.parse("$").apply(row) == row
    assert jsonpath.parse("$[1:]").apply(row) == ["1.5", "2.5", "3.5"]
    assert jsonpath.parse("$[0,-1]").apply(row) == ["id7", "3.5"]
    assert jsonpath.parse("$[-1]").apply(row) == "3.5"
    assert jsonpath.parse("$[:2]").apply(row) == ["id7", "1.5"]
    doc = {"id": 1, "features": [1, 2], "SageMakerOutput": {"predicted_label": 3, "score": 0.9}}
    assert jsonpath.parse("$.features").apply(doc) == [1, 2]
    assert jsonpath.parse("$['id','SageMakerOutput']").apply(doc) == {
        "id": 1,
        "SageMakerOutput": doc["SageMakerOutput"],
    }
    assert jsonpath.parse("$.SageMakerOutput['predicted_label']").apply(doc) == 3
    for bad in ("features", "$[a]", "$[1:x]", "$..x"):
        with pytest.raises(jsonpath.JsonPathError):
            jsonpath.parse(bad)


def test_lines_and_chunks():
    data = b"a,1\n\nb,2\r\nc,3"
    assert list(iter_lines(io.BytesIO(data))) == [b"a,1", b"b,2", b"c,3"]
    big = b"".join(f"{i},{i * 2}\n".encode() for i in range(10000))
    chunks = list(iter_line_chunks(io.BytesIO(big), 4096))
    assert b"".join(c for c, _ in chunks) == big
    assert sum(n for _, n in chunks) == 10000
    assert all(len(c) <= 4096 for c, _ in chunks)


def test_recordio_and_tfrecord_splitting():
    def rio(payload):
        pad = (4 - len(payload) % 4) % 4
        return struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\0" * pad

    stream = rio(b"abc") + rio(b"defgh")
    assert list(iter_recordio(io.BytesIO(stream))) == [rio(b"abc"), rio(b"defgh")]
    with pytest.raises(RecordError):
        list(iter_recordio(io.BytesIO(b"\x00" * 8)))
    tf = struct.pack("<Q", 3) + b"crc1" + b"xyz" + b"crc2"
    assert list(iter_tfrecord(io.BytesIO(tf + tf))) == [tf, tf]


def test_batching():
    records = [f"r{i}".encode() for i in range(10)]
    single = list(batches(iter(records), "SingleRecord", 100, b"\n"))
    assert len(single) == 10 and single[3].payload == b"r3\n" and single[3].first_record == 4
    multi = list(batches(iter(records), "MultiRecord", 9, b"\n"))
    assert [b.count for b in multi] == [3, 3, 3, 1]
    assert multi[1].payload == b"r3\nr4\nr5\n" and multi[1].first_record == 4


def test_join_and_filters_csv():
    inputs = [b"id1,1.0,2.0", b"id2,3.0,4.0"]
    path_in = jsonpath.parse("$[1:]")
    assert filter_input(inputs, path_in, "text/csv") == [b"1.0,2.0", b"3.0,4.0"]
    outputs = split_output(b"0.25\n0.75\n", 2)
    joined = join_and_filter(inputs, outputs, True, jsonpath.parse("$[0,-1]"), "text/csv", "text/csv")
    assert joined == [b"id1,0.25", b"id2,0.75"]
    with pytest.raises(RecordError):
        split_output(b"0.25\n", 2)


def test_join_json_lines():
    inputs = [json.dumps({"id": 1, "features": [1, 2]}).encode()]
    out = join_and_filter(
        inputs,
        [b'{"score":0.5}'],
        True,
        jsonpath.parse("$['id','SageMakerOutput']"),
        "application/jsonlines",
        "application/jsonlines",
    )
    assert json.loads(out[0]) == {"id": 1, "SageMakerOutput": {"score": 0.5}}
    # a JSON response holding a list of predictions is split per record
    assert split_output(b'{"predictions":[{"score":1},{"score":2}]}', 2) == [b'{"score":1}', b'{"score":2}']
