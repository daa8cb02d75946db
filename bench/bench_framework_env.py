"""Framework environments (script mode's exact framework versions): building one cold vs using it cached.

Usage: ``python -m bench.bench_framework_env [--framework sklearn] [--version 1.2] [--pip] [--repeat 3]``.

Each round builds the environment of an image tag's framework version in a fresh cache directory
(:class:`sagestack.environments.EnvironmentCache`, exactly what a job's first run does) and then asks for
it again (what every later job does: the cache is checked, nothing built). Measured:

* **cold, downloads** — uv with an empty download cache of its own (``UV_CACHE_DIR`` in a temp dir): what
  the first job on a new machine waits for (the package index's speed counts);
* **cold, uv cache warm** — a fresh environment with uv's shared download cache warm: a new env cache dir
  (or a new server) on a machine that built one before;
* **cold, pip** (``--pip``) — the fallback when uv is not installed, pip's own cache as it is;
* **cached** — ``ensure`` on the built environment.

uv is found as the server finds it (the ``uv`` package, else ``uv`` on PATH); ``--uv PATH`` names one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock


def _build(env, cache_root: Path, extra_env: dict[str, str] | None = None, no_uv: bool = False) -> tuple:
    from sagestack import environments

    cache = environments.EnvironmentCache(cache_root)
    with mock.patch.dict(os.environ, extra_env or {}):
        patch = mock.patch.object(environments, "find_uv", return_value=None) if no_uv else None
        if patch:
            patch.start()
        try:
            started = time.perf_counter()
            cache.ensure(env)
            cold = time.perf_counter() - started
        finally:
            if patch:
                patch.stop()
    started = time.perf_counter()
    for _ in range(100):
        cache.ensure(env)
    cached = (time.perf_counter() - started) / 100
    return cold, cached, cache.info(env)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--framework", default="sklearn")
    parser.add_argument("--version", default="1.2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pip", action="store_true", help="also time the pip fallback (slow)")
    parser.add_argument("--uv", help="the uv binary to use (default: the uv package, else PATH)")
    args = parser.parse_args()
    if args.uv:
        os.environ["PATH"] = os.pathsep.join([str(Path(args.uv).parent), os.environ.get("PATH", "")])

    from sagestack.environments import find_uv
    from sagestack.environments.frameworks import resolve_framework

    env = resolve_framework(args.framework, args.version)
    print(f"environment: {env.description}; uv: {find_uv() or 'not found (pip)'}")
    rows: dict[str, list[tuple[float, float]]] = {}
    installed = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            modes = {
                "cold, downloads (empty uv cache)": {"UV_CACHE_DIR": str(tmp_path / "uv-cache")},
                "cold, uv cache warm": {},
            }
            for label, extra in modes.items():
                cold, cached, info = _build(env, tmp_path / label.replace(" ", "_"), extra)
                rows.setdefault(label, []).append((cold, cached))
                installed = info.get("installed") or installed
            if args.pip:
                cold, cached, _ = _build(env, tmp_path / "pip", no_uv=True)
                rows.setdefault("cold, pip", []).append((cold, cached))
    print(f"installed: {', '.join(f'{k} {v}' for k, v in sorted(installed.items()))}")
    print()
    print("| build | cold (median) | cached `ensure` (median) |")
    print("|---|---|---|")
    for label, values in rows.items():
        cold = statistics.median(v[0] for v in values)
        cached = statistics.median(v[1] for v in values)
        print(f"| {label} | {cold:.2f} s | {cached * 1e6:.0f} µs |")


if __name__ == "__main__":
    main()
