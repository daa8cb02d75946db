"""Decode rate of sagestack's RecordIO-protobuf reader vs the SageMaker SDK's ``read_records``.

Usage: ``python bench/bench_formats.py [rows] [cols]`` (defaults 200000 × 20 dense float32). Writes one
file with the SDK's ``write_numpy_to_dense_tensor``, then times, on that file:

* SDK: ``read_records`` (parses every Record; values stay inside protobuf objects);
* sagestack: ``recordio_protobuf.load`` (records → float32 matrix + labels), fast path and the general
  vectorised parser.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile

import numpy as np

from .common import best_of

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


def main(argv: list[str] | None = None) -> None:
    from sagemaker.amazon.common import read_records, write_numpy_to_dense_tensor

    from sagestack.formats import recordio, recordio_protobuf

    argv = sys.argv[1:] if argv is None else argv
    rows = int(argv[0]) if len(argv) > 0 else 200_000
    cols = int(argv[1]) if len(argv) > 1 else 20
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, cols)).astype(np.float32)
    y = rng.integers(0, 2, size=rows).astype(np.float32)
    buf = io.BytesIO()
    write_numpy_to_dense_tensor(buf, X, y)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.pbr")
        with open(path, "wb") as fh:
            fh.write(buf.getvalue())

        def sdk() -> None:
            with open(path, "rb") as fh:
                read_records(fh)

        def ours() -> None:
            batch = recordio_protobuf.load(path)
            assert batch.features.shape == (rows, cols)

        def ours_general() -> None:
            with open(path, "rb") as fh:
                spans, _ = recordio.scan(fh.read())
            recordio_protobuf._decode_general(spans)

        t_sdk = best_of(sdk, repeat=1)
        t_ours = best_of(ours)
        t_general = best_of(ours_general, repeat=1)
    size_mb = len(buf.getvalue()) / 1e6
    print(f"{rows} records x {cols} float32 features + label ({size_mb:.1f} MB)")
    print(f"SDK read_records       : {rows / t_sdk:14,.0f} records/s")
    print(f"sagestack load         : {rows / t_ours:14,.0f} records/s  ({t_sdk / t_ours:.1f}x)")
    print(f"sagestack general path : {rows / t_general:14,.0f} records/s  ({t_sdk / t_general:.1f}x)")


if __name__ == "__main__":
    main()
