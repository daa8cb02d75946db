"""How a job's own code reaches this server, as SageMaker gives a job its role's credentials: the
server's endpoint, temporary credentials for the job's role (kept in the store, expiring after the job's
longest run), and the botocore client plugin that redirects the SDK's explicit AWS endpoints — when the
server wrote it (``sagestack env``) — so that e.g. ``load_run()`` inside a job works unchanged."""

from __future__ import annotations

import secrets
import time

from ..store.credentials import new_access_key_id, new_secret

#: The botocore client plugin module ``sagestack env`` writes to the data dir's client/ folder.
CLIENT_PLUGIN = "sagestack_botocore_plugin"


def job_access(
    platform, account_id: str, region: str, role_arn: str, max_runtime: float
) -> tuple[dict[str, str], str | None]:
    """(environment variables, the client plugin's folder or None) for one job run."""
    settings = platform.settings
    role_name = (role_arn or "").rsplit("/", 1)[-1] or "SageMakerRole"
    key_id, secret = new_access_key_id("ASIA"), new_secret()
    token = "sagestack-job-" + secrets.token_urlsafe(48)
    platform.credentials.put(
        key_id,
        secret,
        account_id,
        f"arn:aws:sts::{account_id}:assumed-role/{role_name}/SageMaker",
        token,
        time.time() + max_runtime + 3600,
    )
    env = {
        "AWS_ENDPOINT_URL": settings.endpoint_url,
        "SAGESTACK_ENDPOINT_URL": settings.endpoint_url,
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_SESSION_TOKEN": token,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
    env.update(sandbox_environment(settings))
    directory = settings.client_dir
    client_dir = str(directory) if (directory / f"{CLIENT_PLUGIN}.py").exists() else None
    if client_dir:
        env["BOTOCORE_EXPERIMENTAL__PLUGINS"] = f"sagestack={CLIENT_PLUGIN}"
    return env, client_dir


def sandbox_environment(settings) -> dict[str, str]:
    """What the job's entry needs to confine the job (job_sandbox.py): the user its code runs as
    and the data dir it hides."""
    return {"SAGESTACK_JOB_USER": settings.job_user or "", "SAGESTACK_DATA_DIR": str(settings.data_dir)}
