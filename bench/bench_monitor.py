"""Model Monitor baseline statistics vs pandas, in one process, on the same data.

Usage: ``python -m bench.bench_monitor [rows] [cols]`` (defaults 1,000,000 × 20: half float columns, half
integer columns). Times, on one DataFrame:

* pandas: ``describe()`` plus the 10/25/50/75/90 % quantiles (what a data scientist would run);
* sagestack: the analyzer's statistics (``monitoring.profile``: type inference, mean/sum/population
  std/min/max, a KLL sketch per numeric column (Apache DataSketches, k=2048) and its 10 buckets,
  serialised to ``statistics.json``'s dict) plus the suggested constraints.

The ratio (sagestack / pandas) is printed against the pandas time measured in the same run; the aim is
≤ 2×.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from .common import best_of, table


def main(argv: list[str] | None = None) -> None:
    from sagestack.monitoring import baseline, profile

    argv = sys.argv[1:] if argv is None else argv
    rows = int(argv[0]) if len(argv) > 0 else 1_000_000
    cols = int(argv[1]) if len(argv) > 1 else 20
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {f"f{i}": rng.normal(size=rows) if i % 2 else rng.integers(0, 1000, size=rows) for i in range(cols)}
    )

    def pandas_stats() -> None:
        frame.describe()
        frame.quantile([0.1, 0.25, 0.5, 0.75, 0.9])

    def ours() -> None:
        features = profile.profile_frame(frame)
        stats = profile.statistics_json(features, len(frame))
        baseline.suggest(features)
        assert len(stats["features"]) == cols

    t_pandas = best_of(pandas_stats)
    t_ours = best_of(ours)
    print(
        table(
            f"baseline statistics, {rows:,} rows x {cols} columns",
            ["", "seconds", "x pandas"],
            [
                ["pandas describe() + quantiles", f"{t_pandas:.2f}", "1.00"],
                ["sagestack analyzer statistics + constraints", f"{t_ours:.2f}", f"{t_ours / t_pandas:.2f}"],
            ],
        )
    )
    print(f"ratio {t_ours / t_pandas:.2f} (aim <= 2.0)")


if __name__ == "__main__":
    main()
