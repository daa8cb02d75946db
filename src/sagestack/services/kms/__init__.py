"""AWS KMS (JSON 1.1, ``TrentService``): symmetric keys, aliases, key policies, tags, and the
cryptographic operations (Encrypt, Decrypt, GenerateDataKey, ReEncrypt) with real AES-256-GCM.
Keys and their material live in the store (``sagestack.store.kms``). Key policies are recorded and
returned, not enforced (as IAM policies are not)."""

from __future__ import annotations

from ..registry import OperationTable
from . import aliases, crypto, keys
from .common import errors

OPERATIONS = OperationTable("kms", errors).merge(keys.OPERATIONS, aliases.OPERATIONS, crypto.OPERATIONS)
