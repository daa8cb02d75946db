"""Tar archives extracted safely on every supported Python (model.tar.gz, sourcedir.tar.gz, …).

Python 3.12, 3.11.4+ and 3.10.12+ carry tarfile's extraction filters (PEP 706); the ``data`` filter
refuses members that would land outside the destination, links that point outside it and device files,
and drops setuid bits and ownership. Earlier 3.10/3.11 patch releases have no filters (passing
``filter=`` raises TypeError there), so this module checks the members itself before extracting them.
Every tar extraction in sagestack goes through :func:`extract_tar`.
"""

from __future__ import annotations

import copy
import os
import posixpath
import tarfile
from pathlib import Path
from typing import BinaryIO


class UnsafeArchiveError(tarfile.TarError):
    """A member that would be written outside the destination, or a device file."""


def extract_tarball(source: str | Path | BinaryIO, dest: Path) -> None:
    """Extract the tar archive at ``source`` (a path, or a seekable open file; any compression tarfile
    reads) into ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    opened = (
        tarfile.open(source, "r:*")
        if isinstance(source, (str, Path))
        else tarfile.open(fileobj=source, mode="r:*")
    )
    with opened as archive:
        extract_tar(archive, dest)


def extract_tar(archive: tarfile.TarFile, dest: Path) -> None:
    """Extract every member of an open archive into ``dest`` with the ``data`` filter's guarantees."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(dest, filter="data")
        return
    members = [_checked(member, Path(dest)) for member in archive.getmembers()]
    archive.extractall(dest, members=members, numeric_owner=True)


def _checked(member: tarfile.TarInfo, dest: Path) -> tarfile.TarInfo:
    """``member`` if it stays inside ``dest`` (a copy with safe mode and ownership), else an error."""
    name = member.name
    if name.startswith(("/", os.sep)) or os.path.isabs(name):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    root = os.path.realpath(dest)
    target = os.path.realpath(os.path.join(root, name))
    if not _inside(target, root):
        raise UnsafeArchiveError(f"archive member {name!r} would be extracted outside the destination")
    if member.ischr() or member.isblk() or member.isfifo():
        raise UnsafeArchiveError(f"archive member {name!r} is a device file or pipe")
    if member.issym() or member.islnk():
        link = member.linkname
        if link.startswith(("/", os.sep)) or os.path.isabs(link):
            raise UnsafeArchiveError(f"archive member {name!r} links to an absolute path {link!r}")
        if member.issym():
            link_target = os.path.join(root, posixpath.dirname(name), link)
        else:
            link_target = os.path.join(root, link)
        if not _inside(os.path.realpath(link_target), root):
            raise UnsafeArchiveError(f"archive member {name!r} links outside the destination ({link!r})")
    safe = copy.copy(member)
    if safe.isreg() or safe.islnk():
        # As the data filter does: no setuid/setgid/sticky bits, no group/other write, owner may read
        # and write; group/other execute only where the owner may execute.
        mode = (safe.mode & 0o755) | 0o600
        if not mode & 0o100:
            mode &= ~0o011
        safe.mode = mode
    elif safe.isdir():
        safe.mode = (safe.mode & 0o755) | 0o700
    safe.uid, safe.gid = os.getuid(), os.getgid()
    safe.uname = safe.gname = ""
    return safe


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
