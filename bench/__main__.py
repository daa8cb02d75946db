"""`make bench`: every benchmark in turn (each starts its own server); results go to stdout.

python -m bench                 # all
python -m bench s3 endpoint     # some (module names without the bench_ prefix)
"""

from __future__ import annotations

import importlib
import sys
import time

ALL = (
    "formats",
    "s3",
    "s3_put",
    "training",
    "tuning",
    "processing",
    "endpoint",
    "invocations",
    "http_protocol",
    "transform",
    "algorithms",
    "algorithms_iii",
    "production",
    "serverless",
    "metrics",
    "pipelines",
    "monitor",
    "clarify",
    "containers",
    "algorithms_iii",
    "algorithms_iv",
    "vision",
    "console",
    "multiserver",
    "framework_env",
    "vision_dense",
)


def main(argv: list[str]) -> int:
    names = argv or list(ALL)
    for name in names:
        try:
            module = importlib.import_module(f"bench.bench_{name}")
        except ModuleNotFoundError as exc:
            print(f"# bench_{name}: not available ({exc})\n")
            continue
        started = time.perf_counter()
        print(f"# bench_{name}\n", flush=True)
        module.main([])
        print(f"\n({time.perf_counter() - started:.0f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
