"""The bias metric code against the spec's golden test vector (monitor-clarify.md §6.6) and the
division / error conventions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sagestack.clarify import bias, dataset, groups, metrics
from sagestack.clarify.errors import ClarifyError

GOLDEN = {
    "CDDL": 0.1562314319667261,
    "CI": 0.3333333333333333,
    "DPL": 0.15999999999999992,
    "JS": 0.013660096307461532,
    "KL": 0.053424632391477184,
    "KS": 0.16000000000000003,
    "LP": 0.22627416997969518,
    "TVD": 0.15999999999999998,
    "AD": 0.08999999999999997,
    "CDDPL": 0.2501485442661913,
    "DAR": 0.06666666666666665,
    "DCA": -0.14666666666666672,
    "DCR": -0.2799999999999999,
    "DI": 0.6666666666666666,
    "DPPL": 0.25,
    "DRR": -0.08000000000000007,
    "FT": -0.5,
    "GE": 0.08631295655517102,
    "RD": 0.1878306878306879,
    "SD": 0.11594202898550732,
    "TE": 0.8999999999999999,
}


def golden_frame() -> pd.DataFrame:
    rows = []
    blocks = {
        0: [((1, 1), 65), ((0, 1), 10), ((1, 0), 5), ((0, 0), 20)],
        1: [((1, 1), 20), ((0, 1), 5), ((1, 0), 7), ((0, 0), 18)],
    }
    for gender, parts in blocks.items():
        for (target, pred), count in parts:
            rows += [(gender, target, pred)] * count
    frame = pd.DataFrame(rows, columns=["Gender", "Target", "Pred"])
    i = np.arange(len(frame))
    frame["Income"] = ((i * 37) % 100).astype(float)
    frame["Dept"] = i % 3
    return frame


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_vector(name):
    frame = golden_frame()
    entry = metrics.compute(
        name,
        facet=frame.Gender == 1,
        label=frame.Target == 1,
        predicted=frame.Pred == 1,
        group=frame.Dept,
        features=frame[["Income"]],
    )
    assert entry["description"].endswith(f"({name})")
    assert entry["value"] == pytest.approx(GOLDEN[name], abs=1e-12)


def test_golden_vector_through_the_report_sections():
    frame = golden_frame()
    data = dataset.Dataset(
        frame[["Gender", "Income", "Dept", "Target", "Pred"]], ["Gender", "Income"], "Target", "Pred"
    )
    config = {
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "Gender", "value_or_threshold": [1]}],
        "group_variable": "Dept",
    }
    inputs = bias.BiasInputs(config, data)
    pre = inputs.pre_training("all")
    post = inputs.post_training("all", frame.Pred)
    assert pre["label"] == "Target" and pre["label_value_or_threshold"] == "1"
    (entry,) = pre["facets"]["Gender"]
    assert entry["value_or_threshold"] == "1"
    assert [m["name"] for m in entry["metrics"]] == sorted(metrics.PRE_TRAINING)
    values = {m["name"]: m["value"] for m in entry["metrics"] + post["facets"]["Gender"][0]["metrics"]}
    assert values == pytest.approx(GOLDEN, abs=1e-12)


def test_division_convention():
    assert metrics.divide(0, 0) == 0.0
    assert metrics.divide(3, 0) == math.inf
    assert metrics.divide(-3, 0) == -math.inf
    assert metrics.json_value(math.inf) == "Infinity"
    assert metrics.json_value(-math.inf) == "-Infinity"


def test_infinite_and_failing_metrics_are_reported_not_raised():
    facet = pd.Series([False, False, True, True])
    label = pd.Series([True, False, True, False])
    predicted = pd.Series([True, True, False, False])  # facet d gets no positive predictions
    di = metrics.compute("DI", facet=facet, predicted=predicted)
    assert di["value"] == 0.0
    dca = metrics.compute("DCA", facet=facet, label=label, predicted=predicted)
    assert dca["value"] == -math.inf
    empty = metrics.compute("CI", facet=pd.Series([False, False]))
    assert empty["value"] is None and empty["error"] == "Facet set is empty."
    cdd = metrics.compute("CDDL", facet=facet, label=label, group=None)
    assert cdd["value"] is None and "Group variable" in cdd["error"]
    ge = metrics.compute("GE", label=pd.Series([True, True]), predicted=pd.Series([False, False]))
    assert ge["value"] is None and "false negatives" in ge["error"]


def test_column_types_follow_smclarify():
    assert groups.column_type(pd.Series(np.arange(100) % 2)) == groups.CATEGORICAL  # 2% unique
    assert groups.column_type(pd.Series(np.arange(100))) == groups.CONTINUOUS
    assert groups.column_type(pd.Series([0.5, 1.5])) == groups.CONTINUOUS
    assert groups.column_type(pd.Series(["a", "b"])) == groups.CATEGORICAL
    assert groups.column_type(pd.Series(np.arange(100)), [1, 2]) == groups.CATEGORICAL


def test_facet_groups():
    ages = pd.Series([20.0, 30.0, 40.0, 50.0], name="Age")
    ((text, index),) = groups.facet_groups(ages, [30])
    assert text == "(30.0, 50.0]" and index.tolist() == [False, False, True, True]
    colours = pd.Series(["red", "blue", "red", "green"], name="Colour")
    assert [t for t, _ in groups.facet_groups(colours, None)] == ["blue", "green", "red"]
    ((text, index),) = groups.facet_groups(colours, ["red", "green"])
    assert text == "red,green" and index.tolist() == [True, False, True, True]
    ints = pd.Series([1, 0] * 50, name="Flag")
    ((_, index),) = groups.facet_groups(ints, ["1"])  # a string value matches an int column
    assert index.sum() == 50


def test_bad_facet_and_metric_names():
    frame = golden_frame()
    data = dataset.Dataset(frame, ["Gender", "Income"], "Target")
    with pytest.raises(ClarifyError, match="Facet 'Sex' is not a column"):
        bias.BiasInputs({"label_values_or_threshold": [1], "facet": [{"name_or_index": "Sex"}]}, data)
    inputs = bias.BiasInputs({"label_values_or_threshold": [1], "facet": [{"name_or_index": "Gender"}]}, data)
    with pytest.raises(ClarifyError, match="XYZ"):
        inputs.pre_training(["CI", "XYZ"])
    # no values: one entry per facet value
    assert [e["value_or_threshold"] for e in inputs.pre_training(["CI"])["facets"]["Gender"]] == ["0", "1"]


def test_csv_header_detection(tmp_path):
    with_header = tmp_path / "a.csv"
    with_header.write_text("y,x1,x2\n1,0.5,2\n0,0.1,3\n")
    data = dataset.load({"dataset_type": "text/csv", "label": "y"}, [with_header])
    assert data.features == ["x1", "x2"] and data.frame.y.tolist() == [1, 0]
    without = tmp_path / "b.csv"
    without.write_text("1,0.5,2\n0,0.1,3\n")
    data = dataset.load({"dataset_type": "text/csv", "label": 0}, [without])
    assert data.label == "label0" and data.features == ["column_1", "column_2"]
    data = dataset.load(
        {"dataset_type": "text/csv", "label": "y", "headers": ["y", "x1", "x2"], "excluded_columns": ["x2"]},
        [with_header],
    )
    assert len(data.frame) == 2 and data.features == ["x1"]
    with pytest.raises(ClarifyError, match="'z' is not a column"):
        dataset.load({"dataset_type": "text/csv", "label": "z"}, [with_header])


def test_jsonlines_dataset(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"f": [1, 2.5], "y": 1}\n{"f": [0, 1.5], "y": 0}\n')
    data = dataset.load(
        {
            "dataset_type": "application/jsonlines",
            "features": "f",
            "label": "y",
            "headers": ["a", "b", "target"],
        },
        [path],
    )
    assert data.features == ["a", "b"] and data.label == "target"
    assert data.frame.target.tolist() == [1, 0]
    with pytest.raises(ClarifyError, match="features"):
        dataset.load({"dataset_type": "application/jsonlines", "label": "y"}, [path])


def test_parquet_dataset(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"x": [1.0, 2.0], "g": [0, 1], "y": [1, 0]}).to_parquet(path)
    data = dataset.load({"dataset_type": "application/x-parquet", "label": "y"}, [path])
    assert data.features == ["x", "g"] and data.label == "y"
