"""For algorithms that read their channels as files (DeepAR, BlazingText, seq2seq): Pipe mode is refused."""

from __future__ import annotations

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv


def refuse_pipe_mode(env: TrainingEnv, algorithm: str) -> None:
    """A ClientError naming the first channel in Pipe mode."""
    for channel in env.channels.values():
        if channel.input_mode == "Pipe":
            raise AlgorithmClientError(
                f"Channel {channel.name!r} uses Pipe input mode, which {algorithm} does not support here; "
                f"use File or FastFile"
            )
