"""What a job's or endpoint worker's process can do to isolate itself (Linux namespaces; standard library
only, imported by the job entry and the serving worker).

:func:`no_network` moves the calling process into a new network namespace whose only interface is its own
loopback: the process and everything it starts reach nothing — not the internet, not the host's
``127.0.0.1`` (the namespace's loopback is another one). Sockets created *before* the call stay in the
host's namespace: an endpoint worker keeps accepting the gateway's connections on the listening socket it
was handed. It needs Linux and root (or CAP_SYS_ADMIN); callers fail clearly when it is refused, never run
unisolated.
"""

from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

#: Why a refused namespace was refused, for the failure message.
NEEDS = "a network namespace needs Linux and a server running as root or with CAP_SYS_ADMIN"


def no_network() -> str | None:
    """Enter a new network namespace with only its loopback (brought up); None on success, else why not."""
    if sys.platform != "linux":
        return f"{sys.platform} has no network namespaces"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return f"unshare(CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}"
    loopback_up()
    return None


def loopback_up() -> None:
    """``ip link set lo up`` in this network namespace (best effort: ``127.0.0.1`` inside then reaches the
    process's own listeners, e.g. torch.distributed on one host)."""
    import fcntl
    import socket
    import struct

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = struct.pack("16sH14x", b"lo", 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    except OSError:
        pass
