"""One endpoint instance: ``python -m sagestack.serving.worker --config FILE``.

It speaks the SageMaker container contract on a loopback socket the controller created and passed
down (``GET /ping``, ``POST /invocations``, ``GET /execution-parameters``), like gunicorn with a
preloaded app: the *supervisor* loads the model once (its errors become the endpoint's FailureReason),
then forks serving processes that share the listening socket; a serving process that dies is forked
again within milliseconds, so only its in-flight requests fail. Because the controller keeps the
listening socket open, connections made while a process restarts wait in the kernel's backlog.

Each serving process is a minimal HTTP/1.1 server (uvloop + httptools when installed) that runs the
model inline on its event loop: one request at a time per process, no thread hops.

Status lines go to ``status_fd`` (``READY <pids>``, ``CHILD <pid>``, ``FAILED <json reason>``); the
supervisor exits when ``lifeline_fd`` reaches EOF (the controller's process is gone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from ..algorithms.base import InferenceError
from .tcp import set_nodelay

CRASH_WINDOW_S = 2.0
MAX_FAST_CRASHES = 5
REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    406: b"Not Acceptable",
    413: b"Payload Too Large",
    415: b"Unsupported Media Type",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Die with the parent (Linux); elsewhere the lifeline pipe covers it."""
    if sys.platform != "linux":
        return
    import contextlib
    import ctypes

    with contextlib.suppress(Exception):  # best effort
        ctypes.CDLL(None, use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG


# -- the HTTP side -------------------------------------------------------------------------------


def http_response(
    status: int, body: bytes, content_type: bytes | str = b"text/plain", extra: bytes = b""
) -> bytes:
    if isinstance(content_type, str):
        content_type = content_type.encode("latin-1")
    return b"".join(
        (
            b"HTTP/1.1 %d %s\r\nContent-Type: " % (status, REASONS.get(status, b"Error")),
            content_type,
            b"\r\nContent-Length: %d\r\n" % len(body),
            extra,
            b"\r\n",
            body,
        )
    )


PING_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"
EXECUTION_PARAMETERS = json.dumps(
    {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
).encode()


class InvocationApp:
    """Routes the container contract's paths to the model handler."""

    def __init__(self, handler: Any):
        self.handler = handler

    def handle(self, method: bytes, url: bytes, headers: dict[bytes, bytes], body: bytes) -> bytes:
        path = url.split(b"?", 1)[0]
        if path == b"/invocations":
            if method != b"POST":
                return http_response(405, b"")
            return self.invoke(headers, body)
        if path == b"/ping":
            return PING_OK
        if path == b"/execution-parameters":
            return http_response(200, EXECUTION_PARAMETERS, b"application/json")
        return http_response(404, b"")

    def invoke(self, headers: dict[bytes, bytes], body: bytes) -> bytes:
        content_type = headers.get(b"content-type")
        accept = headers.get(b"accept")
        target = headers.get(b"x-amzn-sagemaker-target-container-hostname")
        extra = b""
        multi_model = getattr(self.handler, "multi_model", None)
        try:
            if multi_model is not None and b"x-amzn-sagemaker-target-model" in headers:  # multi_model.py
                result, result_type, extra = multi_model(headers, body)
            else:
                result, result_type = self.handler.invoke(
                    body,
                    content_type.decode("latin-1") if content_type else None,
                    accept.decode("latin-1") if accept else None,
                    target.decode("latin-1") if target else None,
                )
        except InferenceError as exc:
            print(f"Invocation failed ({exc.status}): {exc}", file=sys.stderr, flush=True)
            return http_response(exc.status, str(exc).encode(), extra=_failed_container(exc))
        except Exception as exc:  # noqa: BLE001 - the model's own failure: 500 with its message
            trace = traceback.format_exc()
            print(trace, file=sys.stderr, flush=True)
            return http_response(500, f"{exc}\n{trace}".encode(), extra=_failed_container(exc))
        return http_response(200, result, result_type or "application/octet-stream", extra)


def _failed_container(exc: BaseException) -> bytes:
    """Names the failing container of an inference pipeline for the gateway's ModelError."""
    name = getattr(exc, "container", None)
    return b"X-Sagestack-Container: " + name.encode("latin-1", "replace") + b"\r\n" if name else b""


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive (pipelining-safe) on httptools; requests are answered in order."""

    def __init__(self, app: InvocationApp):
        import httptools

        self.app = app
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.transport = transport
        set_nodelay(transport)

    def data_received(self, data: bytes) -> None:
        import httptools

        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.write(http_response(400, b"malformed request"))
            self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = {}
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        response = self.app.handle(self.parser.get_method(), self.url, self.headers, body)
        self.transport.write(response)
        if not self.parser.should_keep_alive():
            self.transport.close()


def serve(sock: socket.socket, handler: Any) -> None:
    """Run the HTTP server on ``sock`` forever (one serving process)."""
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = InvocationApp(handler)
    loop.run_until_complete(loop.create_server(lambda: HttpProtocol(app), sock=sock, backlog=1024))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()


# -- the supervisor ------------------------------------------------------------------------------


class Supervisor:
    def __init__(self, sock: socket.socket, handler: Any, workers: int, status) -> None:
        self.sock = sock
        self.handler = handler
        self.workers = max(1, workers)
        self.status = status
        self.children: dict[int, float] = {}
        self.stopping = False
        self.fast_crashes = 0

    def report(self, line: str) -> None:
        try:
            self.status.write(line + "\n")
            self.status.flush()
        except OSError:
            pass

    def spawn(self) -> int:
        pid = os.fork()
        if pid == 0:  # the serving process
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                set_parent_death_signal()
                serve(self.sock, self.handler)
            except BaseException:  # noqa: BLE001
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.children[pid] = time.monotonic()
        return pid

    def stop(self, *_: Any) -> None:
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        pids = [self.spawn() for _ in range(self.workers)]
        self.report("READY " + ",".join(map(str, pids)))
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            started = self.children.pop(pid, None)
            if started is None or self.stopping:
                continue
            how = (
                f"signal {os.WTERMSIG(status)}"
                if os.WIFSIGNALED(status)
                else f"exit code {os.WEXITSTATUS(status)}"
            )
            print(f"Worker process {pid} exited ({how}); starting a new one.", file=sys.stderr, flush=True)
            self.fast_crashes = self.fast_crashes + 1 if time.monotonic() - started < CRASH_WINDOW_S else 0
            if self.fast_crashes >= MAX_FAST_CRASHES:
                self.report("FAILED " + json.dumps(f"worker processes keep exiting ({how})"))
                self.stop()
                continue
            self.report(f"CHILD {self.spawn()}")
        return 0 if not self.fast_crashes else 1


def watch_lifeline(fd: int, supervisor_pid: int) -> None:
    """EOF on the lifeline: the controller is gone, so stop."""

    def run() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        os.kill(supervisor_pid, signal.SIGTERM)

    threading.Thread(target=run, name="lifeline", daemon=True).start()


# -- a pooled worker (warm_pool.py) -------------------------------------------------------------


def warm_up(profile: str) -> float:
    """Make the imports a pooled worker makes before it knows its model (handlers.warm_imports); the
    seconds it took. A failing import is left to fail again, with its message, when the model loads."""
    import importlib

    started = time.monotonic()
    for name in [n for n in profile.split(",") if n] + ["sagestack.serving.handlers", "uvloop", "httptools"]:
        try:
            if name.startswith("-"):
                sys.modules[name[1:]] = None  # type: ignore[assignment]
            elif name.startswith("algorithm:"):
                from ..algorithms import registry

                registry.load(name.partition(":")[2])
            else:
                importlib.import_module(name)
        except Exception:  # noqa: BLE001
            pass
    return time.monotonic() - started


def wait_for_model(control_fd: int) -> tuple[dict, str] | None:
    """(pooled) Say WARM, then wait for an instance's config and its three descriptors (listening socket,
    status pipe, lifeline); None when the server closed the control socket instead (pool shrunk, server gone)."""
    control = socket.socket(fileno=control_fd)
    try:
        try:
            control.sendall(b"WARM\n")
        except OSError:  # the server handed an instance over (and closed its end) while we imported
            pass
        message, fds, _, _ = socket.recv_fds(control, 65536, 3)
    except OSError:
        return None
    finally:
        control.close()
    if not message or len(fds) != 3:
        return None
    path = message.decode()
    with open(path) as handle:
        config = json.load(handle)
    config["listen_fd"], config["status_fd"], config["lifeline_fd"] = fds
    return config, path


def set_command_line(args: list[str]) -> None:
    """Rewrite this process's command line (/proc/PID/cmdline, ps) in place, within the space its original
    one took (a pooled worker reserves room): so a pooled worker reads, once handed over, as one started
    for its instance. Linux only; does nothing where it cannot."""
    if sys.platform != "linux":
        return
    import contextlib
    import ctypes

    with contextlib.suppress(Exception):
        with open("/proc/self/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (proc(5) fields 48, 49)
        new = b"\0".join(a.encode() for a in args) + b"\0"
        if 0 < start < end and len(new) <= end - start:
            ctypes.memmove(start, new + b"\0" * (end - start - len(new)), end - start)


def confine(config: dict, own_dir: Path) -> None:
    """This worker's own mount namespace (for ``/opt/ml/model`` and the sandbox), then the inference code's
    ``/opt/ml/model`` (runtimes.py) and its confinement (worker_sandbox.py). Each outcome is one log line."""
    from .opt_ml import bind_model_dir, private_namespace

    private = [c["model_dir"] for c in config["containers"] if c.get("private_opt_ml_model")]
    sandbox = config.get("sandbox")
    if not sandbox and len(private) != 1:
        return
    namespace = private_namespace()
    if len(private) == 1:  # inference code that reads /opt/ml/model itself (runtimes.py)
        problem = namespace or bind_model_dir(private[0])
        _say(f"/opt/ml/model is {private[0]}" if problem is None else f"no private /opt/ml/model ({problem})")
    if not sandbox:
        return
    if namespace is not None:
        _say(
            f"/tmp is shared and the model's code runs as the server's user (no private mount namespace: {namespace})"
        )
        return
    from .worker_sandbox import confine_worker

    try:
        lines = confine_worker(config, own_dir)
    except OSError as exc:  # the worker runs as before, as the line says
        lines = [f"/tmp is shared and the model's code runs as the server's user ({exc})"]
    for line in lines:
        _say(line)


def _say(line: str) -> None:
    print(f"sagestack: {line}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sagestack.serving.worker")
    parser.add_argument("--config")
    parser.add_argument("--endpoint", default="")  # informational (ps / tests)
    parser.add_argument("--variant", default="")
    parser.add_argument("--instance", default="")
    parser.add_argument("--pool", help="a pooled worker: import these first (comma-separated)")
    parser.add_argument("--control-fd", type=int, help="a pooled worker: where its model comes from")
    parser.add_argument("--reserve", default="", help="room for the command line once handed over")
    args = parser.parse_args(argv)
    from ..memory import tune_allocator

    tune_allocator()
    pooled = ""
    if args.pool is not None:
        warm_s = warm_up(args.pool)
        received = wait_for_model(args.control_fd)
        if received is None:
            return 0
        config, args.config = received
        labels = config.get("labels") or {}
        args.endpoint, args.variant = labels.get("endpoint", ""), labels.get("variant", "")
        args.instance = config.get("instance", "")
        os.environ.update(config.get("environment") or {})
        if config.get("cwd"):
            os.chdir(config["cwd"])
        command = [sys.executable, "-m", "sagestack.serving.worker", "--config", args.config]
        for name in ("endpoint", "variant", "instance"):
            if getattr(args, name):
                command += [f"--{name}", getattr(args, name)]
        set_command_line(command)
        pooled = f" by a pooled worker (pid {os.getpid()}, its imports made ahead in {warm_s:.2f}s)"
    elif args.config is None:
        parser.error("--config is required")
    else:
        with open(args.config) as handle:
            config = json.load(handle)
    status = (
        os.fdopen(config["status_fd"], "w", buffering=1)
        if config.get("status_fd") is not None
        else sys.stdout
    )
    if config.get("lifeline_fd") is not None:
        watch_lifeline(config["lifeline_fd"], os.getpid())
    sock = socket.socket(fileno=config["listen_fd"])
    started = time.monotonic()
    for container in config["containers"]:  # what runs differs from the image tag (runtimes.py)
        for note in container.get("notes") or ():
            print(f"sagestack: {note}", file=sys.stderr, flush=True)
    if any(c.get("network_isolation") for c in config["containers"]):
        # The model's EnableNetworkIsolation: the listening socket (made in the host's namespace) keeps
        # answering the gateway; nothing the inference code opens reaches anything.
        from ..sandbox import NEEDS, no_network

        problem = no_network()
        if problem is not None:
            message = (
                f"EnableNetworkIsolation is set and this server cannot isolate the model: {problem} ({NEEDS})"
            )
            print(f"sagestack: {message}", file=sys.stderr, flush=True)
            status.write("FAILED " + json.dumps(message) + "\n")
            status.flush()
            return 1
        print(
            "sagestack: network isolation: the model runs in its own network namespace",
            file=sys.stderr,
            flush=True,
        )
    confine(config, Path(args.config).parent / f"{args.instance or os.getpid()}.sandbox")
    try:
        from .handlers import load_model_handler

        handler = load_model_handler(config["containers"], config.get("mode", "Serial"))
    except BaseException as exc:  # noqa: BLE001 - any load failure fails the instance with its message
        traceback.print_exc()
        message = f"{type(exc).__name__}: {exc}"
        try:
            status.write("FAILED " + json.dumps(message) + "\n")
            status.flush()
        except OSError:
            pass
        return 1
    print(
        f"Model loaded{pooled} in {time.monotonic() - started:.2f}s; serving on "
        f"{sock.getsockname()[0]}:{sock.getsockname()[1]}",
        file=sys.stderr,
        flush=True,
    )
    for module in ("uvloop", "httptools"):  # imported once here, not in every forked process
        try:
            __import__(module)
        except ImportError:
            pass
    status.write(f"LOADED {int((time.monotonic() - started) * 1e6)}\n")
    status.flush()
    return Supervisor(sock, handler, int(config.get("workers", 1)), status).run()


if __name__ == "__main__":
    sys.exit(main())
