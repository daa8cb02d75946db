"""Tar extraction is safe with and without tarfile's extraction filters (Python < 3.10.12 / 3.11.4)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from sagestack.formats import archives


def _tar(path: Path, members: list[tuple[str, dict]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, spec in members:
            info = tarfile.TarInfo(name)
            kind = spec.get("type", tarfile.REGTYPE)
            info.type = kind
            info.mode = spec.get("mode", 0o644)
            info.linkname = spec.get("link", "")
            data = spec.get("data", b"")
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


@pytest.fixture(params=["filter", "fallback"])
def mode(request, monkeypatch):
    """Run each test with the stdlib's data filter and with the checks used where it is missing."""
    if request.param == "fallback":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile extraction filters")
    return request.param


def test_extracts_files_directories_and_inner_links(tmp_path, mode):
    source = _tar(
        tmp_path / "model.tar.gz",
        [
            ("code", {"type": tarfile.DIRTYPE, "mode": 0o755}),
            ("code/inference.py", {"data": b"print('hi')\n", "mode": 0o4755}),
            ("model.bin", {"data": b"\x00\x01"}),
            ("code/model-link", {"type": tarfile.SYMTYPE, "link": "../model.bin"}),
            ("copy.bin", {"type": tarfile.LNKTYPE, "link": "model.bin"}),
        ],
    )
    dest = tmp_path / "out"
    archives.extract_tarball(source, dest)
    assert (dest / "code" / "inference.py").read_text() == "print('hi')\n"
    assert (dest / "code" / "model-link").read_bytes() == b"\x00\x01"
    assert (dest / "copy.bin").read_bytes() == b"\x00\x01"
    file_mode = stat.S_IMODE(os.stat(dest / "code" / "inference.py").st_mode)
    assert not file_mode & stat.S_ISUID and file_mode & 0o700 == 0o700


@pytest.mark.parametrize(
    "members",
    [
        [("../escape.txt", {"data": b"x"})],
        [("a/../../escape.txt", {"data": b"x"})],
        [("link", {"type": tarfile.SYMTYPE, "link": "/etc/passwd"})],
        [("link", {"type": tarfile.SYMTYPE, "link": "../../outside"})],
        [("hard", {"type": tarfile.LNKTYPE, "link": "/etc/passwd"})],
        [("fifo", {"type": tarfile.FIFOTYPE})],
    ],
    ids=["dotdot", "nested-dotdot", "abs-symlink", "escaping-symlink", "abs-hardlink", "fifo"],
)
def test_refuses_members_that_escape(tmp_path, mode, members):
    source = _tar(tmp_path / "bad.tar.gz", members)
    dest = tmp_path / "out"
    with pytest.raises(tarfile.TarError):
        archives.extract_tarball(source, dest)
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "outside").exists()


def test_fallback_refuses_absolute_names(tmp_path, monkeypatch):
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    source = _tar(tmp_path / "abs.tar.gz", [("/tmp/absolute.txt", {"data": b"x"})])
    with pytest.raises(archives.UnsafeArchiveError, match="absolute path"):
        archives.extract_tarball(source, tmp_path / "out")
