"""S3 throughput and request rate against a real sagestack server.

Usage: ``python -m bench.bench_s3 [--large-mb 256] [--small-count 20] [--requests 200]``.

Starts ``sagestack serve`` on a temp data dir and measures, with boto3 over http (SigV4, payload
signed, CRC32 flexible checksum as boto3 1.44 sends it):

* PUT and GET throughput of 1 MB and 256 MB objects, each as a ratio to a plain file copy
  (``shutil.copyfile``) of the same size on the same disk in the same run;
* the same large PUT with the client's work taken out ("pre-signed"): the request is signed once by
  botocore (payload SHA-256, CRC32 checksum, Content-MD5 left out as boto3 does) before the clock starts
  and its bytes are replayed from memory over one socket, so the figure is the server's alone (its MD5
  for the ETag, the SHA-256 the signature covers, the CRC32, the write and fsync) — on a 2-core machine
  boto3's own SHA-256 and CRC32 of the body take about as long as the file copy;
* HeadObject/s and STS GetCallerIdentity/s (sequential, one client).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import socket
import zlib
from urllib.parse import urlsplit

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
            if count == 1:
                body = source.read_bytes()
                replay = _presigned_put(server, "bench", "presigned", body)
                t_raw = best_of(lambda replay=replay: _send(server, replay), repeat)
                rows.append(
                    (
                        f"PUT {label} pre-signed",
                        f"{total / t_raw:8.1f} MB/s",
                        f"{t_copy / t_raw:5.2f}x of copy",
                    )
                )
                del body, replay
                s3.delete_object(Bucket="bench", Key="presigned")
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


def _presigned_put(server, bucket: str, key: str, body: bytes) -> list:
    """A PutObject as boto3 sends it over http (SigV4 with the payload's SHA-256, a CRC32 checksum),
    signed now: ``[head bytes, body]``."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    access, secret = server.credentials()
    url = f"{server.url}/{bucket}/{key}"
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    request = AWSRequest("PUT", url, data=body, headers={"x-amz-checksum-crc32": crc})
    S3SigV4Auth(Credentials(access, secret), "s3", "us-east-1").add_auth(request)
    host = urlsplit(url).netloc
    lines = [f"PUT /{bucket}/{key} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    return [("\r\n".join(lines) + "\r\n\r\n").encode(), body]


def _send(server, replay: list) -> None:
    """Send a prepared request over a fresh connection and read the whole answer (it must be a 200)."""
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(replay[0])
        sock.sendall(memoryview(replay[1]))
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"pre-signed PUT answered {answer[:300]!r}")


if __name__ == "__main__":
    main()
