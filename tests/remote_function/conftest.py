"""Remote-function tests: the SDK's own waiting, made fast.

The SDK waits for a remote function's job in ``sagemaker.session._logs_for_job``: it reads the job's logs
every 10 s and describes the job only every 30 s, so even a two-second job takes 45 s to come back. The
``fast_sdk_wait`` fixture gives that module a clock whose sleeps are short but count as the full interval
(the SDK's logic is unchanged: it still tails the logs and describes the job), and shortens
``RemoteExecutor``'s polling intervals.
"""

from __future__ import annotations

import time

import pytest


class FastClock:
    """``time`` as ``sagemaker.session`` sees it: each sleep lasts at most 0.2 s but advances the clock by
    what was asked, so the SDK's interval checks pass as soon as they would after real sleeps."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        real = min(seconds, 0.2)
        time.sleep(real)
        self.offset += seconds - real

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.fixture
def fast_sdk_wait(sdk_env, monkeypatch):
    import sagemaker.session
    from sagemaker.remote_function import client

    monkeypatch.setattr(sagemaker.session, "time", FastClock())
    monkeypatch.setitem(client._API_CALL_LIMIT, "SubmittingIntervalInSecs", 0.1)
    monkeypatch.setitem(client._API_CALL_LIMIT, "MinBatchPollingIntervalInSecs", 0.5)
    monkeypatch.setitem(client._API_CALL_LIMIT, "PollingIntervalInSecs", 0.2)
    return sdk_env
