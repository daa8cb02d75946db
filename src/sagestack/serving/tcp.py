"""Socket settings shared by the router's connections and the workers' server."""

from __future__ import annotations

import socket


def set_nodelay(transport) -> None:
    """TCP_NODELAY on a transport's socket: small keep-alive requests must not wait for delayed ACKs."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
