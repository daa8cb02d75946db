"""Start the server: the platform, the ASGI gateway and uvicorn on one port."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time

from . import startup
from .gateway.app import Gateway
from .platform import Platform
from .settings import Settings

log = logging.getLogger("sagestack")


def build_app(settings: Settings) -> Gateway:
    platform = Platform(settings)
    gateway = Gateway(platform)
    platform.gateway = gateway
    gateway.startup_hooks.append(lambda: startup.start_all(platform))
    gateway.shutdown_hooks.append(platform.stop)
    return gateway


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogFormatter(logging.Formatter):
    """The server's log lines (LOG_FORMAT), with the date and time text made once per second rather than
    for every line (at ``info`` a line per request: strftime was a fifth of its cost)."""

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT)
        self._second = -1
        self._text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return f"{self._text},{int(record.msecs):03d}"


def configure_logging(level: str) -> None:
    """``level`` for sagestack's loggers (and uvicorn's, through its config); other libraries log
    warnings and errors only, whatever the level (botocore's debug output would drown the rest)."""
    numeric = logging.getLevelName(level.upper())
    handler = logging.StreamHandler()
    handler.setFormatter(LogFormatter())
    logging.basicConfig(level=max(numeric, logging.WARNING), handlers=[handler])
    logging.getLogger("sagestack").setLevel(numeric)
    # nothing in the server's log format shows them; every record looked them up (a multiprocessing import
    # check, the current process and thread)
    logging.logMultiprocessing = False
    logging.logProcesses = False
    logging.logThreads = False


def serve(settings: Settings) -> int:
    import os
    import time

    import uvicorn

    from . import __version__
    from .pidfile import DataDirInUse, DataDirLock, stale_owner

    configure_logging(settings.log_level)
    if port_in_use(settings.host, settings.port):
        log.error(
            "port %s on %s is already in use: is another sagestack running? "
            "Pick another with --port N (or SAGESTACK_PORT).",
            settings.port,
            settings.host,
        )
        return 2
    stale = None if settings.cluster else stale_owner(settings.data_dir)
    try:
        lock = (
            None
            if settings.cluster
            else DataDirLock.acquire(
                settings.data_dir,
                owner={
                    "pid": os.getpid(),
                    "host": settings.host,
                    "port": settings.port,
                    "url": settings.endpoint_url,
                    "started_at": time.time(),
                    "version": __version__,
                },
            )
        )
    except DataDirInUse as exc:
        log.error("%s: one server per data dir. Stop it, or pick another with --data-dir DIR.", exc)
        return 2
    if stale:
        log.warning(
            "the previous server on this data dir (pid %s) did not exit cleanly; carrying on from "
            "what the store says",
            stale.get("pid", "?"),
        )
    try:
        from .memory import tune_allocator

        tune_allocator()
        app = build_app(settings)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            lifespan="on",
            access_log=False,
            log_config=None,
            log_level=settings.log_level,
            loop=_loop(),
            http=_http(),
            timeout_keep_alive=75,
            server_header=False,
            date_header=True,
            # no X-Forwarded-* rewriting: nothing reads the client address, and the middleware is one more
            # coroutine and header scan per request
            proxy_headers=False,
        )
        server = _draining_server(config)
        # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler that was
        # there before: make that one exit through the `finally` below (which gives the data dir back)
        # rather than end the process where it stands.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _exit_on_signal)
        log.info(
            "sagestack on %s (data dir %s, pid %d)", settings.endpoint_url, settings.data_dir, os.getpid()
        )
        log.info("web console: %s/_sagestack/console/", settings.endpoint_url.rstrip("/"))
        server.run()
    finally:
        if lock is not None:
            lock.release()
    return 0


def _draining_server(config):
    """uvicorn's server, telling the platform at once when a stop is asked for: uvicorn then waits for
    the requests in flight, and the platform ends those that would wait long (a Lambda invocation, an
    SQS long poll) instead of holding the stop up."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            platform = getattr(self.config.app, "platform", None)
            if platform is not None:
                platform.drain()
            super().handle_exit(sig, frame)

    return DrainingServer(config)


def _exit_on_signal(signum, frame) -> None:
    sys.exit(128 + signum)


def _loop() -> str:
    try:
        import uvloop  # noqa: F401

        return "uvloop"
    except ImportError:
        return "asyncio"


def _http():
    """httptools with one write per response (gateway/http_protocol.py); h11 where httptools is missing."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    from .gateway.http_protocol import protocol_class

    return protocol_class()
