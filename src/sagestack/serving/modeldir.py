"""Model artifacts on disk for workers: ``model.tar.gz`` (and script ``sourcedir.tar.gz``) extracted once
under ``<data-dir>/serving/models/<digest>/``, shared by every instance that serves the same bytes.

Artifacts are read from the object layer in place (the stored file itself, no copy; an artifact stored
encrypted is decrypted into a temporary file first) and extracted into a temporary directory that is
renamed into place, so a half-extracted model is never served.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import threading
from pathlib import Path

from ..domain.models import NETWORK_ISOLATION
from ..formats.archives import extract_tar

SUBMIT_IN_MODEL = "/opt/ml/model/code"


class ArtifactError(Exception):
    """A model artifact that cannot be fetched or unpacked (the endpoint fails with this message)."""


class ModelCache:
    def __init__(self, platform, root: Path):
        self.platform = platform
        self.root = root
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _source(self, uri: str) -> tuple[Path | None, str]:
        """A local file for ``uri`` (s3://, file:// or a path) and a digest naming its content version; no
        file (None) for an object stored encrypted (``_decrypted`` gives its plaintext)."""
        if uri.startswith("s3://"):
            from ..objects import object_store, parse_s3_uri

            bucket, key = parse_s3_uri(uri)
            store = object_store(self.platform)
            try:
                info = store.head(bucket, key)
                path = None if info.encryption else store.get_path(bucket, key)
            except Exception as exc:  # noqa: BLE001 - NoSuchKey / NoSuchBucket: the user's mistake
                raise ArtifactError(
                    f"Could not access model data at {uri}: {getattr(exc, 'message', exc)}"
                ) from None
            version = f"{uri}|{info.etag}|{info.size}"
        else:
            path = Path(uri.removeprefix("file://"))
            if not path.exists():
                raise ArtifactError(f"Could not access model data at {uri}: no such file")
            stat = path.stat()
            version = f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}"
        return path, hashlib.sha1(version.encode()).hexdigest()[:20]

    def unpack(self, uri: str) -> Path:
        """The extracted directory for a tar.gz (or the directory itself for a local directory)."""
        source, digest = self._source(uri)
        if source is not None and source.is_dir():
            return source
        target = self.root / digest
        if target.exists():
            share_with(target, self.platform.settings.job_user, only_if_needed=True)  # unpacked before
            return target
        with self._lock:
            lock = self._locks.setdefault(digest, threading.Lock())
        with lock:
            if target.exists():
                return target
            self.root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=self.root))
            plain = None
            try:
                if source is None:
                    source = plain = self._decrypted(uri)
                _extract(source, staging, uri)
                share_with(staging, self.platform.settings.job_user)
                os.replace(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            finally:
                if plain is not None:
                    plain.unlink(missing_ok=True)
        return target

    def _decrypted(self, uri: str) -> Path:
        """The plaintext of an S3 object stored encrypted, in a temporary file (the caller deletes it)."""
        from ..objects import object_store, parse_s3_uri

        bucket, key = parse_s3_uri(uri)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".artifact-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as out:
                source, _ = object_store(self.platform).open(bucket, key)
                with source:
                    shutil.copyfileobj(source, out, 1 << 20)
        except Exception as exc:  # noqa: BLE001 - KMS key disabled or deleted, object gone
            os.unlink(name)
            raise ArtifactError(
                f"Could not access model data at {uri}: {getattr(exc, 'message', exc)}"
            ) from None
        return Path(name)

    def prepare(self, container: dict) -> dict:
        """A model container (as CreateModel recorded it) → the worker's container spec."""
        environment = dict(container.get("Environment") or {})
        url = container.get("ModelDataUrl")
        source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
        if not url and source.get("S3Uri"):
            url = source["S3Uri"]
        if url:
            model_dir = self.unpack(url)
        else:
            model_dir = self.root / "empty"
            model_dir.mkdir(parents=True, exist_ok=True)
        submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
        code_dir: Path | None = None
        if submit and submit.rstrip("/") != SUBMIT_IN_MODEL:
            code_dir = self.unpack(submit)
        elif environment.get("SAGEMAKER_PROGRAM"):
            code_dir = model_dir / "code"
            if not code_dir.is_dir():
                code_dir = model_dir
        return {
            "hostname": container.get("ContainerHostname") or "primary",
            "image": container.get("Image", ""),
            "model_dir": str(model_dir),
            "code_dir": str(code_dir) if code_dir else None,
            "environment": environment,
            "network_isolation": bool(container.get(NETWORK_ISOLATION)),
        }


def share_with(top: Path, job_user: str, only_if_needed: bool = False) -> None:
    """Let the user a worker's code runs as (``SAGESTACK_JOB_USER``, worker_sandbox.py) read the unpacked
    model: its group becomes that user's, with read (and search) permission; nothing changes for other
    users, nor where workers keep the server's user."""
    from ..job_sandbox import resolve_user

    user, _ = resolve_user(job_user)
    if user is None or (only_if_needed and os.stat(top).st_gid == user.gid):
        return
    for dirpath, _, filenames in os.walk(top):
        os.chown(dirpath, -1, user.gid)
        os.chmod(dirpath, os.stat(dirpath).st_mode | 0o750)
        for name in filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                os.chown(path, -1, user.gid)
                os.chmod(path, info.st_mode | 0o040 | (0o010 if info.st_mode & 0o100 else 0))


def _extract(source: Path, target: Path, uri: str) -> None:
    try:
        with tarfile.open(source, "r:*") as archive:
            extract_tar(archive, target)
    except (tarfile.TarError, OSError, EOFError) as exc:
        if not tarfile.is_tarfile(source):
            # A single uncompressed model file (ModelDataSource with CompressionType None).
            shutil.copyfile(source, target / Path(uri).name)
            return
        raise ArtifactError(f"Could not extract model data {uri}: {exc}") from None
