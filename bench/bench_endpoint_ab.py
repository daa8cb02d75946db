"""Two source trees' gateways side by side: InvokeEndpoint CPU per request, alternating wrk runs.

Usage: ``python -m bench.bench_endpoint_ab --other-src /path/to/other/src [--rounds 4] [--seconds 5]``

Starts ``sagestack serve`` twice, from this tree's ``src`` and from ``--other-src`` (e.g. an exported
earlier commit), deploys the same XGBoost endpoint on both (bench_endpoint's model), then alternates between
them round by round: a warm-up, wrk at 16 connections with a freshly signed request, the CPU per request of
the gateway process and of its workers (``/proc``), and the 1-connection p50. Alternating in one run on the
same machine is what separates two trees when the machine is shared and its load moves (benchmarks.md).
Needs wrk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .bench_endpoint import (
    ROOT,
    ROW,
    deploy,
    free_port,
    signed_invoke,
    split_cpu,
    start_server,
    train_model,
    wrk_load,
)


def round_of(name: str, port: int, pid: int, key: str, secret: str, seconds: int, workdir: Path) -> dict:
    path, headers = signed_invoke(f"http://127.0.0.1:{port}", key, secret, "bench-xgb")
    wrk_load(port, path, headers, ROW, 16, 1, workdir)
    (total0, own0), load = split_cpu(pid), os.getloadavg()[0]
    multi = wrk_load(port, path, headers, ROW, 16, seconds, workdir)
    total1, own1 = split_cpu(pid)
    single = wrk_load(port, path, headers, ROW, 1, max(1, seconds // 2), workdir)
    n = max(1, multi["requests"])
    return {
        "name": name,
        "gateway_us": (own1 - own0) / n * 1e6,
        "workers_us": (total1 - own1 - total0 + own0) / n * 1e6,
        "rps": multi["rps"],
        "p50_ms": single["p50_ms"],
        "load": load,
        "errors": multi["errors"] + single["errors"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_endpoint_ab")
    parser.add_argument("--other-src", required=True)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-endpoint-ab-"))
    servers = []
    try:
        train_model(workdir)
        trees = {"this": ROOT / "src", "other": Path(args.other_src).resolve()}
        for name, src in trees.items():
            data_dir, port = workdir / f"data-{name}", free_port()
            proc = start_server(data_dir, port, src)
            servers.append(proc)
            key, secret, _ = deploy(port, data_dir, workdir / "model.tar.gz")
            trees[name] = (port, proc.pid, key, secret)
        rows = []
        for index in range(args.rounds):
            order = ["this", "other"] if index % 2 == 0 else ["other", "this"]
            for name in order:
                row = round_of(name, *trees[name], args.seconds, workdir)
                rows.append(row)
                print(
                    f"round {index + 1} {name:<5} gateway {row['gateway_us']:6.1f} µs  workers {row['workers_us']:6.1f} µs  "
                    f"{row['rps']:7.0f} req/s  1-conn p50 {row['p50_ms']:.3f} ms  load {row['load']:.1f}  errors {row['errors']}",
                    flush=True,
                )
        for name in ("this", "other"):
            mine = [r for r in rows if r["name"] == name]
            print(
                f"median {name:<5} gateway {statistics.median(r['gateway_us'] for r in mine):6.1f} µs  "
                f"workers {statistics.median(r['workers_us'] for r in mine):6.1f} µs  "
                f"p50 {statistics.median(r['p50_ms'] for r in mine):.3f} ms"
            )
    finally:
        for proc in servers:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
