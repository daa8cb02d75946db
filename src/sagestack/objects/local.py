"""The local-disk object store: bytes under ``<objects_dir>/data``, the index in the SQL store.

Writes are staged: bytes stream into a temp file under ``<objects_dir>/.tmp/<pid>/`` while MD5 (and
any requested checksums) are computed, the file is fsynced and renamed into ``data/`` under a fresh
name, and only then is the index row committed. Readers only ever see committed rows, so an object is
visible whole or not at all; a stored file is never modified in place (an overwrite writes a new file
and deletes the old one after commit), which lets copies share files through hard links. An upload
cut off mid-stream discards its temp file; temp directories of dead processes are removed at start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import hashlib
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from ..store.objects_index import (
    BucketInfo,
    ConfigKey,
    IndexConflict,
    ListPage,
    ObjectIndex,
    ObjectInfo,
    PartInfo,
    UploadInfo,
    UploadPage,
)
from . import checksums as cks
from . import errors
from .encryption import FrameSealer, open_sealed, sealed_size, segments_of

UTC = dt.timezone.utc
PARALLEL_HASH_BYTES = 256 * 1024  # below this, handing digests to threads costs more than it saves
WRITE_BUFFER = 4 << 20  # bytes gathered before each write to disk (done off the event loop)
IOV_MAX = 1024  # buffers per writev (Linux's limit)
DEFAULT_CONTENT_TYPE = "binary/octet-stream"


@dataclass
class StagedFile:
    """Bytes written to a temp file, with their digests; ``commit``/``discard`` consume it."""

    path: Path
    size: int = 0
    md5: bytes = b""
    sha256: str | None = None
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm → base64
    published: bool = False  # moved into data/ by commit: nothing left to discard

    @property
    def etag(self) -> str:
        return self.md5.hex()

    def discard(self) -> None:
        if self.published:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _update(hasher: Any, chunks: list) -> None:
    for chunk in chunks:
        hasher.update(chunk)


def _write_all(handle: IO[bytes], chunks: list) -> None:
    """Write ``chunks`` in order: one buffer as is, several with ``writev`` (up to IOV_MAX at a time)."""
    if len(chunks) == 1:
        handle.write(chunks[0])
        return
    handle.flush()
    fd = handle.fileno()
    views = [memoryview(c) for c in chunks]
    first = 0
    while first < len(views):
        written = os.writev(fd, views[first : first + IOV_MAX])
        while first < len(views) and written >= len(views[first]):
            written -= len(views[first])
            first += 1
        if written:
            views[first] = views[first][written:]


class Stager:
    """Synchronous sink: ``write`` hashes and appends, ``finish`` fsyncs and returns the StagedFile.
    With a ``sealer`` the digests and size are the plaintext's and the file holds sealed frames."""

    def __init__(
        self,
        path: Path,
        algorithms: Iterable[str] = (),
        sha256: bool = False,
        fsync: bool = True,
        pool: ThreadPoolExecutor | None = None,
        sealer: FrameSealer | None = None,
    ):
        self.staged = StagedFile(path)
        self._sealer = sealer
        self._pool = pool
        self._fsync = fsync
        self._handle: IO[bytes] | None = open(path, "wb")
        self._md5 = hashlib.md5()
        self._sha = hashlib.sha256() if sha256 else None
        self._checks = {name: cks.new(name) for name in dict.fromkeys(a.lower() for a in algorithms)}

    def write(self, data: bytes | bytearray | list) -> None:
        """Append ``data``: one buffer, or a list of them (the request's chunks as received, written with
        one ``writev`` and hashed where they lie: no copy into one buffer first)."""
        assert self._handle is not None
        chunks = data if isinstance(data, list) else [data]
        if self._sealer is not None:
            for chunk in chunks:
                self._hash(chunk)
                self._handle.writelines(self._sealer.update(chunk))
                self.staged.size += len(chunk)
            return
        size = sum(map(len, chunks))
        hashers = [self._md5] + ([self._sha] if self._sha is not None else []) + list(self._checks.values())
        if self._pool is not None and size >= PARALLEL_HASH_BYTES:
            # hashlib and zlib release the GIL on large buffers: every digest runs in its own thread while
            # this one writes, so a large body costs the slowest digest's time, not their sum.
            futures = [self._pool.submit(_update, hasher, chunks) for hasher in hashers]
            try:
                _write_all(self._handle, chunks)
            finally:
                for future in futures:
                    future.result()
        else:
            _write_all(self._handle, chunks)
            for hasher in hashers:
                _update(hasher, chunks)
        self.staged.size += size

    def _hash(self, data: bytes) -> None:
        for hasher in (
            [self._md5] + ([self._sha] if self._sha is not None else []) + list(self._checks.values())
        ):
            hasher.update(data)

    def finish(self) -> StagedFile:
        assert self._handle is not None
        if self._sealer is not None:
            self._handle.writelines(self._sealer.finish())
        self._handle.flush()
        if self._fsync:
            os.fsync(self._handle.fileno())
        self._handle.close()
        self._handle = None
        staged = self.staged
        staged.md5 = self._md5.digest()
        staged.sha256 = self._sha.hexdigest() if self._sha is not None else None
        staged.checksums = {name: cks.encode(c.digest()) for name, c in self._checks.items()}
        return staged

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self.staged.discard()


class ObjectStore:
    """Buckets and objects with S3 semantics. Thread-safe; the async methods never block the loop.

    Paths handed out (``get_path``, ``ObjectInfo.storage_path`` resolved through ``path_of``) are the
    stored files themselves: read them, never modify them.
    """

    def __init__(self, root: Path, index: ObjectIndex, region: str = "us-east-1", keyring: Any = None):
        self.root = Path(root)
        self.index = index
        self.region = region
        #: unwraps the data keys of encrypted objects: ``keyring.unwrap(envelope) -> bytes`` (store.kms)
        self.keyring = keyring
        self.data_dir = self.root / "data"
        # <host>-<pid>: servers on several machines may share one data dir (--cluster on a shared
        # filesystem); each sweeps only its own machine's temp dirs
        self.tmp_dir = self.root / ".tmp" / f"{socket.gethostname()}-{os.getpid()}"
        self._hash_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="s3-digest")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._sweep_temp()
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    # -- files ------------------------------------------------------------------------------

    def _sweep_temp(self) -> None:
        """Remove temp directories left by processes that are gone (uploads cut off by a crash)."""
        base = self.root / ".tmp"
        if not base.is_dir():
            return
        host = socket.gethostname()
        for entry in base.iterdir():
            owner, _, pid_text = entry.name.rpartition("-")
            if owner and owner != host:
                continue  # another machine's (shared data dir): its server sweeps it
            pid = int(pid_text) if pid_text.isdigit() else None
            if pid is not None and pid != os.getpid() and _alive(pid):
                continue
            shutil.rmtree(entry, ignore_errors=True)

    def path_of(self, storage_path: str) -> Path:
        return self.root / storage_path

    def new_stager(
        self,
        algorithms: Iterable[str] = (),
        sha256: bool = False,
        fsync: bool = True,
        sealer: FrameSealer | None = None,
    ) -> Stager:
        return Stager(self.tmp_dir / uuid.uuid4().hex, algorithms, sha256, fsync, self._hash_pool, sealer)

    async def stage_stream(
        self,
        chunks: AsyncIterable[bytes],
        algorithms: Iterable[str] = (),
        sha256: bool = False,
        sealer: FrameSealer | None = None,
    ) -> StagedFile:
        """Stream ``chunks`` into a temp file; disk writes and hashing run in a worker thread,
        overlapped with receiving the next buffer. On any error the temp file is removed."""
        stager = await asyncio.to_thread(self.new_stager, algorithms, sha256, True, sealer)
        pending: asyncio.Future | None = None
        gathered: list = []  # the chunks as received (never joined: the stager writes and hashes them)
        size = 0
        loop = asyncio.get_running_loop()
        try:
            async for chunk in chunks:
                gathered.append(chunk)
                size += len(chunk)
                if size >= WRITE_BUFFER:
                    if pending is not None:
                        await pending
                    pending = loop.run_in_executor(None, stager.write, gathered)
                    gathered, size = [], 0
            if pending is not None:
                await pending
                pending = None
            if gathered:
                await asyncio.to_thread(stager.write, gathered)
            return await asyncio.to_thread(stager.finish)
        except BaseException:
            if pending is not None:
                try:
                    await pending
                except BaseException:
                    pass
            await asyncio.to_thread(stager.discard)
            raise

    def stage_file(
        self,
        source: str | os.PathLike | IO[bytes],
        algorithms: Iterable[str] = (),
        *,
        start: int = 0,
        length: int | None = None,
        fsync: bool = True,
        sealer: FrameSealer | None = None,
    ) -> StagedFile:
        """Stage a file's bytes (``source`` a path, or an open reader such as ``open_object``'s, which
        is closed afterwards), sealed with ``sealer`` when given."""
        stager = self.new_stager(algorithms, fsync=fsync, sealer=sealer)
        try:
            with open(source, "rb") if isinstance(source, (str, os.PathLike)) else source as handle:
                handle.seek(start)
                remaining = length
                while remaining is None or remaining > 0:
                    size = WRITE_BUFFER if remaining is None else min(WRITE_BUFFER, remaining)
                    data = handle.read(size)
                    if not data:
                        break
                    stager.write(data)
                    if remaining is not None:
                        remaining -= len(data)
            return stager.finish()
        except BaseException:
            stager.discard()
            raise

    def _publish(self, staged: StagedFile) -> str:
        """Move a staged file into ``data/`` under a fresh name; return its storage path."""
        name = uuid.uuid4().hex
        relative = f"data/{name[:2]}/{name}"
        target = self.root / relative
        try:
            os.replace(staged.path, target)
        except FileNotFoundError:  # the first file under this prefix: make its directory (once, not per PUT)
            target.parent.mkdir(exist_ok=True)
            os.replace(staged.path, target)
        staged.published = True
        return relative

    def _link(self, storage_path: str) -> str:
        """A second name for a stored file (copies share bytes); falls back to a real copy."""
        name = uuid.uuid4().hex
        relative = f"data/{name[:2]}/{name}"
        target = self.root / relative
        target.parent.mkdir(exist_ok=True)
        try:
            os.link(self.root / storage_path, target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            tmp = self.tmp_dir / name
            shutil.copyfile(self.root / storage_path, tmp)
            os.replace(tmp, target)
        return relative

    def _release(self, storage_paths: Iterable[str]) -> None:
        for relative in storage_paths:
            try:
                os.unlink(self.root / relative)
            except FileNotFoundError:
                pass

    # -- buckets ----------------------------------------------------------------------------

    def create_bucket(self, account: str, bucket: str, region: str | None = None) -> BucketInfo:
        """Create a bucket owned by ``account``; ``BucketExists`` when the name is taken."""
        try:
            return self.index.create_bucket(bucket, account, region or self.region)
        except IndexConflict as exc:
            raise errors.BucketExists(bucket, exc.detail.account_id == account) from None

    def bucket_exists(self, bucket: str) -> bool:
        return self.index.get_bucket(bucket) is not None

    def get_bucket(self, bucket: str, account: str | None = None) -> BucketInfo:
        """The bucket, or NoSuchBucket; NotBucketOwner when ``account`` is given and does not own it."""
        info = self.index.get_bucket(bucket)
        if info is None:
            raise errors.NoSuchBucket(bucket)
        if account is not None and info.account_id != account:
            raise errors.NotBucketOwner(bucket)
        return info

    def list_buckets(self, account: str) -> list[BucketInfo]:
        return self.index.list_buckets(account)

    def delete_bucket(self, bucket: str) -> None:
        try:
            self.index.delete_bucket(bucket)
        except IndexConflict as exc:
            if exc.reason == "missing":
                raise errors.NoSuchBucket(bucket) from None
            raise errors.BucketNotEmpty(bucket) from None

    # -- objects ----------------------------------------------------------------------------

    def head(self, bucket: str, key: str) -> ObjectInfo:
        """The object's index entry, or NoSuchKey / NoSuchBucket."""
        info = self.index.get_object(bucket, key)
        if info is None:
            if not self.bucket_exists(bucket):
                raise errors.NoSuchBucket(bucket)
            raise errors.NoSuchKey(bucket, key)
        return info

    def lookup(self, bucket: str, key: str) -> tuple[BucketInfo, ObjectInfo]:
        """Bucket and object in one index read; NoSuchBucket / NoSuchKey."""
        bucket_info, info = self.index.lookup(bucket, key)
        if bucket_info is None:
            raise errors.NoSuchBucket(bucket)
        if info is None:
            raise errors.NoSuchKey(bucket, key)
        return bucket_info, info

    def get_path(self, bucket: str, key: str) -> Path:
        """The stored file itself, for zero-copy reads. Never modify it. An object stored encrypted has
        no plaintext file: read it with ``open``."""
        info = self.head(bucket, key)
        if info.encryption:
            raise EncryptedObject(f"s3://{bucket}/{key} is stored encrypted: read it with open()")
        return self.path_of(info.storage_path)

    def open(self, bucket: str, key: str) -> tuple[IO[bytes], ObjectInfo]:
        """An open binary file positioned at 0 and the object's info; the caller closes the file.
        The handle keeps reading the same bytes even if the object is replaced meanwhile; an object
        stored encrypted reads as its plaintext (seekable)."""
        for _ in range(3):
            info = self.head(bucket, key)
            try:
                return self.open_object(info), info
            except FileNotFoundError:
                continue  # replaced between the index read and the open: read the index again
        raise errors.NoSuchKey(bucket, key)

    def open_object(self, info: ObjectInfo) -> IO[bytes]:
        """The plaintext of a stored object as a seekable binary file (FileNotFoundError when the
        object was replaced since ``info`` was read)."""
        handle = open(self.path_of(info.storage_path), "rb")
        if not info.encryption:
            return handle
        try:
            key = self.data_key(info.encryption)
        except BaseException:
            handle.close()
            raise
        return open_sealed(handle, key, segments_of(info.encryption, info.size))

    def data_key(self, envelope: dict) -> bytes:
        """The plaintext data key of an envelope (KMS errors of the store's keyring propagate)."""
        if self.keyring is None:
            raise EncryptedObject("no keyring: encrypted objects cannot be read")
        return self.keyring.unwrap(envelope)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        handle, _ = self.open(bucket, key)
        with handle:
            return handle.read()

    def commit(
        self,
        staged: StagedFile,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        checksums: dict[str, str] | None = None,
        checksum_type: str | None = None,
        sse: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        etag: str | None = None,
        parts: list[int] | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
        encryption: dict[str, Any] | None = None,
        owners: tuple[str, ...] = (),
        config: tuple[ConfigKey, dict | None] | None = None,
    ) -> ObjectInfo:
        """Publish a staged file as ``bucket/key`` (replacing any previous object atomically);
        ``encryption`` is the envelope of a file staged sealed; ``owners``: accounts the bucket must
        belong to (else ``NotBucketOwner``), checked in the write's own transaction; ``config``: the
        configuration row the write was planned against (``config()``), checked there too (else
        ``ConfigChanged``: nothing stored)."""
        try:
            storage = self._publish(staged)
        except BaseException:
            staged.discard()
            raise
        stored = dict(checksums if checksums is not None else staged.checksums)
        info = ObjectInfo(
            bucket=bucket,
            key=key,
            size=staged.size,
            etag=etag or staged.etag,
            content_type=content_type or DEFAULT_CONTENT_TYPE,
            last_modified=_now(),
            storage_path=storage,
            metadata=dict(metadata or {}),
            headers=dict(headers or {}),
            checksums=stored,
            checksum_type=checksum_type or ("FULL_OBJECT" if stored else None),
            sse=dict(sse or {}),
            tags=dict(tags or {}),
            parts=parts,
            encryption=encryption,
        )
        return self._index_object(info, if_match, if_none_match, owners, config)

    def config(self, key: ConfigKey, *, fresh: bool = False) -> dict | None:
        """A configuration row's data as this store last saw it (see ``ObjectIndex.config``)."""
        return self.index.config(key, fresh=fresh)

    def _index_object(
        self,
        info: ObjectInfo,
        if_match: str | None,
        if_none_match: bool,
        owners: tuple[str, ...] = (),
        config: tuple[ConfigKey, dict | None] | None = None,
    ) -> ObjectInfo:
        try:
            old = self.index.put_object(
                info, if_match=if_match, if_none_match=if_none_match, owners=owners, config=config
            )
        except IndexConflict as exc:
            self._release([info.storage_path])
            raise _conflict_error(exc, info.bucket, info.key) from None
        except BaseException:
            self._release([info.storage_path])
            raise
        if old:
            self._release([old])
        return info

    def put_file(
        self,
        account: str,
        bucket: str,
        key: str,
        path: str | os.PathLike,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        *,
        move: bool = False,
    ) -> ObjectInfo:
        """Store a local file as ``bucket/key``. ``move=True`` takes the file over (it must not be used
        afterwards) instead of copying it; the bytes are read once either way, for the ETag."""
        self.get_bucket(bucket, account)
        staged = self.stage_file(path) if not move else self._adopt(Path(path))
        return self.commit(staged, bucket, key, content_type=content_type, metadata=metadata)

    def _adopt(self, path: Path) -> StagedFile:
        md5 = hashlib.md5()
        size = 0
        with open(path, "rb") as handle:
            while data := handle.read(WRITE_BUFFER):
                md5.update(data)
                size += len(data)
        target = self.tmp_dir / uuid.uuid4().hex
        try:
            os.replace(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            return self.stage_file(path)
        return StagedFile(target, size, md5.digest())

    def put_tree(
        self,
        account: str,
        bucket: str,
        prefix: str,
        directory: str | os.PathLike,
        content_type: str | None = None,
    ) -> list[ObjectInfo]:
        """Store every file under ``directory`` as ``prefix + relative/path`` (one index transaction:
        all of them become visible together)."""
        self.get_bucket(bucket, account)
        root = Path(directory)
        infos: list[ObjectInfo] = []
        try:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                staged = self.stage_file(path, fsync=False)  # one sync for the batch, below
                storage = self._publish(staged)
                infos.append(
                    ObjectInfo(
                        bucket=bucket,
                        key=prefix + path.relative_to(root).as_posix(),
                        size=staged.size,
                        etag=staged.etag,
                        content_type=content_type or DEFAULT_CONTENT_TYPE,
                        last_modified=_now(),
                        storage_path=storage,
                    )
                )
            os.sync()  # every file durable before any row points at it
            old = self.index.put_objects(infos)
        except IndexConflict as exc:
            self._release(i.storage_path for i in infos)
            raise _conflict_error(exc, bucket, "") from None
        except BaseException:
            self._release(i.storage_path for i in infos)
            raise
        self._release(old)
        return infos

    def put_bytes(
        self,
        account: str,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        self.get_bucket(bucket, account)
        stager = self.new_stager()
        try:
            stager.write(data)
            staged = stager.finish()
        except BaseException:
            stager.discard()
            raise
        return self.commit(staged, bucket, key, content_type=content_type, metadata=metadata)

    async def put_stream(
        self,
        account: str,
        bucket: str,
        key: str,
        chunks: AsyncIterable[bytes],
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        """Store an async stream of bytes as ``bucket/key`` without holding it in memory."""
        await asyncio.to_thread(self.get_bucket, bucket, account)
        staged = await self.stage_stream(chunks)
        return await asyncio.to_thread(
            self.commit, staged, bucket, key, content_type=content_type, metadata=metadata
        )

    def copy(
        self,
        source: ObjectInfo,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        sse: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        algorithms: Iterable[str] = (),
        encryption: dict[str, Any] | None = None,
        data_key: bytes | None = None,
    ) -> ObjectInfo:
        """Copy an object (sharing its file). Unspecified attributes are taken from ``source``.
        ``encryption`` and ``data_key`` are the copy's envelope and data key (None: stored plain); a copy
        whose envelope wraps the source's own data key shares the source's sealed file."""
        wanted = [a for a in algorithms if a not in source.checksums]
        etag = source.etag
        if source.encryption or encryption:
            same = bool(source.encryption and encryption and data_key == self.data_key(source.encryption))
        else:
            same = True
        if "-" in etag or wanted or not same:  # a multipart source gets the plain MD5 ETag, as S3 does
            if encryption is not None:
                encryption = {k: v for k, v in encryption.items() if k != "segments"}  # one segment now
            sealer = FrameSealer(data_key) if encryption is not None and data_key is not None else None
            staged = self.stage_file(self.open_object(source), wanted, sealer=sealer)
            checksums = {k: v for k, v in source.checksums.items() if source.checksum_type != "COMPOSITE"}
            checksums.update(staged.checksums)
            return self.commit(
                staged,
                bucket,
                key,
                content_type=content_type or source.content_type,
                metadata=source.metadata if metadata is None else metadata,
                headers=source.headers if headers is None else headers,
                checksums=checksums,
                sse=source.sse if sse is None else sse,
                tags=source.tags if tags is None else tags,
                encryption=encryption,
            )
        if encryption is not None and source.encryption and source.encryption.get("segments"):
            encryption = {**encryption, "segments": source.encryption["segments"]}
        storage = self._link(source.storage_path)
        info = replace(
            source,
            bucket=bucket,
            key=key,
            last_modified=_now(),
            storage_path=storage,
            content_type=content_type or source.content_type,
            metadata=source.metadata if metadata is None else dict(metadata),
            headers=source.headers if headers is None else dict(headers),
            sse=source.sse if sse is None else dict(sse),
            tags=source.tags if tags is None else dict(tags),
            parts=None,
            encryption=encryption,
        )
        return self._index_object(info, None, False)

    def set_tags(self, bucket: str, key: str, tags: dict[str, str]) -> None:
        if not self.index.update_object_tags(bucket, key, tags):
            self.head(bucket, key)  # raises the right error
            raise errors.NoSuchKey(bucket, key)

    def delete(self, bucket: str, key: str) -> bool:
        """Delete an object; True when one existed. Deleting a missing key is not an error (S3)."""
        return bool(self.delete_many(bucket, [key]))

    def delete_many(self, bucket: str, keys: list[str]) -> list[str]:
        paths = self.index.delete_objects(bucket, keys)
        self._release(paths)
        return paths

    def list(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        *,
        start_after: str | None = None,
        max_keys: int = 1000,
    ) -> ListPage:
        """One page of keys and common prefixes after ``start_after``; resume with ``page.last``."""
        return self.index.list_page(bucket, prefix or "", delimiter, start_after, max_keys)

    def iter_keys(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, in key order (paged from the index)."""
        return self.index.iter_objects(bucket, prefix or "")

    # -- multipart uploads ------------------------------------------------------------------

    def create_upload(self, upload: UploadInfo) -> None:
        try:
            self.index.create_upload(upload)
        except IndexConflict:
            raise errors.NoSuchBucket(upload.bucket) from None

    def get_upload(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        upload = self.index.get_upload(upload_id)
        if upload is None or upload.bucket != bucket or upload.key != key:
            if not self.bucket_exists(bucket):
                raise errors.NoSuchBucket(bucket)
            raise errors.NoSuchUpload(upload_id)
        return upload

    def commit_part(self, upload_id: str, part_number: int, staged: StagedFile) -> PartInfo:
        storage = self._publish(staged)
        part = PartInfo(part_number, staged.size, staged.etag, staged.checksums, _now(), storage)
        try:
            old = self.index.put_part(upload_id, part)
        except BaseException as exc:
            self._release([storage])
            if isinstance(exc, IndexConflict):
                raise errors.NoSuchUpload(upload_id) from None
            raise
        if old:
            self._release([old])
        return part

    def list_parts(self, upload_id: str, after: int = 0, limit: int | None = None) -> list[PartInfo]:
        return self.index.list_parts(upload_id, after, limit)

    def assemble(
        self, parts: list[PartInfo], algorithm: str | None = None, data_key: bytes | None = None
    ) -> StagedFile:
        """Concatenate part files into a staged file (kernel copy where possible). With ``algorithm``
        the full-object checksum is computed on the way. With ``data_key`` the parts are sealed segments
        (an encrypted upload): their files are concatenated as they are and the checksum is computed
        over their plaintext."""
        stager = self.new_stager([algorithm] if algorithm else ())
        try:
            if algorithm and data_key is None:
                for part in parts:
                    with open(self.path_of(part.storage_path), "rb") as handle:
                        while data := handle.read(WRITE_BUFFER):
                            stager.write(data)
                staged = stager.finish()
            else:
                stager.discard()
                staged = StagedFile(stager.staged.path)
                with open(staged.path, "wb") as out:
                    for part in parts:
                        with open(self.path_of(part.storage_path), "rb") as handle:
                            _copy_range(handle, out, sealed_size(part.size) if data_key else part.size)
                    out.flush()
                    os.fsync(out.fileno())
                staged.size = sum(p.size for p in parts)
                if algorithm and data_key is not None:
                    hasher = cks.new(algorithm)
                    for part in parts:
                        with open_sealed(
                            open(self.path_of(part.storage_path), "rb"),
                            data_key,
                            [(part.part_number, part.size)],
                        ) as handle:
                            while data := handle.read(WRITE_BUFFER):
                                hasher.update(data)
                    staged.checksums = {algorithm: cks.encode(hasher.digest())}
            return staged
        except BaseException:
            stager.discard()
            if "staged" in locals():
                staged.discard()
            raise

    def complete_upload(
        self,
        upload: UploadInfo,
        staged: StagedFile,
        info: ObjectInfo,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        try:
            storage = self._publish(staged)
        except BaseException:
            staged.discard()
            raise
        info = replace(info, storage_path=storage, last_modified=_now())
        try:
            released = self.index.complete_upload(
                upload.upload_id, info, if_match=if_match, if_none_match=if_none_match
            )
        except IndexConflict as exc:
            self._release([storage])
            if exc.reason == "no_upload":
                raise errors.NoSuchUpload(upload.upload_id) from None
            raise _conflict_error(exc, info.bucket, info.key) from None
        except BaseException:
            self._release([storage])
            raise
        self._release(released)
        return info

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.get_upload(bucket, key, upload_id)
        paths = self.index.abort_upload(upload_id)
        if paths is None:
            raise errors.NoSuchUpload(upload_id)
        self._release(paths)

    def list_uploads(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
        max_uploads: int = 1000,
    ) -> UploadPage:
        return self.index.list_uploads(bucket, prefix, delimiter, key_marker, upload_id_marker, max_uploads)


def _copy_range(src: IO[bytes], dst: IO[bytes], length: int) -> None:
    dst.flush()
    copied = 0
    try:
        while copied < length:
            count = os.copy_file_range(src.fileno(), dst.fileno(), length - copied)
            if count == 0:
                break
            copied += count
    except (AttributeError, OSError):
        pass
    if copied < length:
        src.seek(copied)
        dst.seek(0, os.SEEK_END)
        while copied < length and (data := src.read(min(WRITE_BUFFER, length - copied))):
            dst.write(data)
            copied += len(data)
    dst.seek(0, os.SEEK_END)


class EncryptedObject(Exception):
    """An object stored encrypted was asked for as a plain file (``get_path``): use ``open``."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _conflict_error(exc: IndexConflict, bucket: str, key: str) -> errors.ObjectError:
    if exc.reason == "no_bucket":
        return errors.NoSuchBucket(bucket)
    if exc.reason == "not_owner":
        return errors.NotBucketOwner(bucket)
    if exc.reason == "missing":
        return errors.NoSuchKey(bucket, key)
    if exc.reason == "config":
        return errors.ConfigChanged(bucket, exc.detail)
    return errors.PreconditionFailed(bucket, key, "if-none-match" if exc.reason == "exists" else "if-match")
