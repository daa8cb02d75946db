"""Start the server: the platform, the ASGI gateway and uvicorn on one port."""

from __future__ import annotations

import logging
import socket

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


def serve(settings: Settings) -> int:
    import uvicorn

    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if port_in_use(settings.host, settings.port):
        log.error("port %s on %s is already in use: is another sagestack running? "
                  "Pick another with --port N (or SAGESTACK_PORT).", settings.port, settings.host)
        return 2
    from .memory import tune_allocator

    tune_allocator()
    app = build_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, lifespan="on", access_log=False,
        log_level=settings.log_level.lower(), loop=_loop(), http=_http(), timeout_keep_alive=75,
        server_header=False, date_header=True,
    )
    server = uvicorn.Server(config)
    log.info("sagestack on %s (data dir %s)", settings.endpoint_url, settings.data_dir)
    server.run()
    return 0


def _loop() -> str:
    try:
        import uvloop  # noqa: F401
        return "uvloop"
    except ImportError:
        return "asyncio"


def _http() -> str:
    try:
        import httptools  # noqa: F401
        return "httptools"
    except ImportError:
        return "h11"
