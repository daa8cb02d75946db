"""Upload of a training run's results: checkpoints synced while it runs, ``model.tar.gz`` (the hosts'
``model/`` merged) and ``output.tar.gz`` at the end (``output.tar.gz`` also after a failure), and the local
staging cleaned up."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ..layout import inside
from ..storage import JobStorage, make_tarball
from .job import HostProcess, JobFailed
from .staging import checkpoint_dir

log = logging.getLogger("sagestack.training")

CHECKPOINT_SYNC_SECONDS = 2.0


class CheckpointSync:
    """New or changed files under each host's checkpoint directory → ``CheckpointConfig.S3Uri``."""

    def __init__(self, storage: JobStorage, data: dict, hosts: list[HostProcess], name: str):
        self.storage = storage
        self.data = data
        self.hosts = hosts
        self.name = name
        self.known: dict[str, float] = {}

    def sync(self, final: bool = False) -> None:
        config = self.data.get("CheckpointConfig")
        if not config or not self.hosts:
            return
        for host in self.hosts:
            directory = checkpoint_dir(self.data, host.layout)
            if inside(host.layout.root, directory) is not None and directory.is_dir():
                try:  # links in the job's tree are not followed (the job runs as another user)
                    self.storage.upload_tree(directory, config["S3Uri"], self.known, follow_symlinks=False)
                except Exception:
                    if final:
                        raise
                    log.debug("checkpoint sync failed for %s", self.name, exc_info=True)


def upload_outputs(
    storage: JobStorage,
    data: dict,
    name: str,
    root: Path,
    hosts: list[HostProcess],
    allow_empty: bool = False,
) -> None:
    """``<S3OutputPath>/<job>/output/model.tar.gz`` (and ``output.tar.gz`` when ``output/data`` has files)."""
    output = data["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    staging = root / "_upload"
    merged = staging / "model"
    merged.mkdir(parents=True, exist_ok=True)
    for host in reversed(hosts):  # algo-1 wins when hosts write the same file
        model_dir = host.layout.own("model")
        if model_dir is not None and model_dir.is_dir():  # links are kept as links, never followed
            shutil.copytree(model_dir, merged, symlinks=True, dirs_exist_ok=True)
    try:
        tarball = staging / "model.tar.gz"
        make_tarball(merged, tarball)
        storage.upload_file(tarball, f"{output}/{name}/output/model.tar.gz", "application/x-tar")
        data_dir = hosts[0].layout.own("output", "data") if hosts else None
        if data_dir is not None and data_dir.exists() and any(data_dir.iterdir()):
            out_tar = staging / "output.tar.gz"
            make_tarball(data_dir, out_tar)
            storage.upload_file(out_tar, f"{output}/{name}/output/output.tar.gz", "application/x-tar")
    except Exception as exc:
        if not allow_empty:
            raise JobFailed(f"ClientError: could not upload the model artifacts to {output}: {exc}") from exc
        log.warning("artifact upload after stop failed for %s: %s", name, exc)


def upload_output_data_after_failure(
    storage: JobStorage, data: dict, name: str, root: Path, hosts: list[HostProcess]
) -> None:
    """A failed job's ``output/data`` as ``<S3OutputPath>/<job>/output/output.tar.gz`` (best effort): what
    the job wrote to explain the failure (a notebook job's executed notebook, logs) is kept."""
    data_dir = hosts[0].layout.own("output", "data") if hosts else None
    if data_dir is None or not data_dir.exists() or not any(data_dir.iterdir()):
        return
    output = data["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    staging = root / "_upload"
    staging.mkdir(parents=True, exist_ok=True)
    try:
        out_tar = staging / "output.tar.gz"
        make_tarball(data_dir, out_tar)
        storage.upload_file(out_tar, f"{output}/{name}/output/output.tar.gz", "application/x-tar")
    except Exception as exc:
        log.warning("output data upload after the failure of %s failed: %s", name, exc)


def cleanup(root: Path, hosts: list[HostProcess]) -> None:
    """A completed run's input copies and upload staging (model and logs stay for inspection)."""
    for host in hosts:
        data = host.layout.own("input", "data")  # not through a link the job (another user) made
        if data is not None:
            shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(root / "_upload", ignore_errors=True)
