"""S3 throughput and request rate against a real sagestack server.

Usage: ``python -m bench.bench_s3 [--large-mb 256] [--small-count 20] [--requests 200]``.

Starts ``sagestack serve`` on a temp data dir and measures, with boto3 over http (SigV4, payload
signed, CRC32 flexible checksum as boto3 1.44 sends it):

* PUT and GET throughput of 1 MB and 256 MB objects, each as a ratio to a plain file copy
  (``shutil.copyfile``) of the same size on the same disk in the same run;
* HeadObject/s and STS GetCallerIdentity/s (sequential, one client).
"""

from __future__ import annotations

import argparse
import os
import shutil

from .common import best_of, running_server

MB = 1024 * 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large-mb", type=int, default=256)
    parser.add_argument("--small-count", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)

    rows: list[tuple[str, str, str]] = []
    with running_server() as server:
        work = server.data_dir.parent
        data_dir = server.data_dir
        s3, sts = server.client("s3"), server.client("sts")
        s3.create_bucket(Bucket="bench")
        for label, size, count in (
            ("1 MB", MB, args.small_count),
            (f"{args.large_mb} MB", args.large_mb * MB, 1),
        ):
            source = work / "source.bin"
            with open(source, "wb") as handle:
                block = os.urandom(MB)
                handle.writelines(block for _ in range(size // MB))
            copy_target = data_dir / "copy.bin"  # same disk as the objects directory

            def copy(count=count, source=source, copy_target=copy_target) -> None:
                for _ in range(count):
                    shutil.copyfile(source, copy_target)
                    with open(copy_target, "rb+") as handle:
                        os.fsync(handle.fileno())  # the object store fsyncs each object too

            def put(count=count, source=source) -> None:
                for i in range(count):
                    with open(source, "rb") as handle:
                        s3.put_object(Bucket="bench", Key=f"obj-{i}", Body=handle)

            def get(count=count) -> None:
                for i in range(count):
                    body = s3.get_object(Bucket="bench", Key=f"obj-{i}")["Body"]
                    while body.read(MB):
                        pass

            repeat = 3 if size <= 16 * MB else 1
            t_copy = best_of(copy, repeat)
            t_put = best_of(put, repeat)
            t_get = best_of(get, repeat)
            total = size * count / MB
            rows.append((f"PUT {label}", f"{total / t_put:8.1f} MB/s", f"{t_copy / t_put:5.2f}x of copy"))
            rows.append((f"GET {label}", f"{total / t_get:8.1f} MB/s", f"{t_copy / t_get:5.2f}x of copy"))
            rows.append((f"file copy {label}", f"{total / t_copy:8.1f} MB/s", "baseline"))
            for i in range(count):
                s3.delete_object(Bucket="bench", Key=f"obj-{i}")
            copy_target.unlink(missing_ok=True)
        s3.put_object(Bucket="bench", Key="head-me", Body=b"x")
        n = args.requests
        t_head = best_of(lambda: [s3.head_object(Bucket="bench", Key="head-me") for _ in range(n)], 1)
        t_sts = best_of(lambda: [sts.get_caller_identity() for _ in range(n)], 1)
        rows.append(("HeadObject", f"{n / t_head:8.1f} req/s", "SigV4, sequential"))
        rows.append(("GetCallerIdentity", f"{n / t_sts:8.1f} req/s", "SigV4, sequential"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'rate':>13}  vs baseline")
    for name, rate, note in rows:
        print(f"{name:<{width}}  {rate:>13}  {note}")


if __name__ == "__main__":
    main()
