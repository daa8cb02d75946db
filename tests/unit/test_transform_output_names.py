"""How batch transform names its outputs below S3OutputPath (the key relative to the input prefix)."""

import pytest

from sagestack.execution.transform import output_name


@pytest.mark.parametrize(
    "prefix,key,expected",
    [
        ("data/multi", "data/multi/part0.csv", "part0.csv"),
        ("data/multi/", "data/multi/part0.csv", "part0.csv"),
        ("data/multi", "data/multi/sub/part1.csv", "sub/part1.csv"),
        ("data/multi", "data/multiple.csv", "multiple.csv"),
        ("data/file.csv", "data/file.csv", "file.csv"),
        ("file.csv", "file.csv", "file.csv"),
        ("", "top/a.csv", "top/a.csv"),
        ("data/part", "data/part-1.csv", "part-1.csv"),
    ],
)
def test_output_name(prefix, key, expected):
    assert output_name(prefix, key) == expected
