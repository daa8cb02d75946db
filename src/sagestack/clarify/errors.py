"""What a Clarify analysis fails with: the user's mistake (the job ends ``ClientError: …``)."""

from __future__ import annotations


class ClarifyError(Exception):
    """A problem with the analysis config, the dataset or the model's answers, worded for the user."""
