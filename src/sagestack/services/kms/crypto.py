"""KMS cryptographic operations: AES-256-GCM under the key's material, the encryption context bound
as additional authenticated data, self-describing ciphertext blobs (``sagestack.store.kms``)."""

from __future__ import annotations

import os

from ...protocol.errors import ServiceError
from ...store.kms import SYMMETRIC, Key
from ..context import RequestContext
from ..registry import OperationTable
from .common import dry_run, errors, find_key, keys

OPERATIONS = OperationTable("kms", errors)
KEY_SPEC_BYTES = {"AES_256": 32, "AES_128": 16}


def _algorithm(key: Key | None, value: str | None) -> None:
    if value not in (None, SYMMETRIC):
        arn = key.arn if key is not None else "The key"
        raise ServiceError(
            "InvalidKeyUsageException",
            f"{arn} key usage is ENCRYPT_DECRYPT: it supports "
            f"only the {SYMMETRIC} encryption algorithm, not {value}.",
            400,
        )


def _usable(ctx: RequestContext, key_ref: str) -> Key:
    key = find_key(ctx, key_ref)
    keys(ctx).check_usable(key)
    return key


@OPERATIONS.handler("Encrypt")
def encrypt(ctx: RequestContext, params: dict) -> dict:
    key = _usable(ctx, params["KeyId"])
    _algorithm(key, params.get("EncryptionAlgorithm"))
    dry_run(params)
    blob = keys(ctx).encrypt(key, params["Plaintext"], params.get("EncryptionContext"))
    return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": SYMMETRIC}


@OPERATIONS.handler("Decrypt")
def decrypt(ctx: RequestContext, params: dict) -> dict:
    _algorithm(None, params.get("EncryptionAlgorithm"))
    if params.get("Recipient"):
        raise ServiceError(
            "UnsupportedOperationException",
            "Decrypt with a Nitro Enclaves Recipient is not supported by sagestack.",
            400,
        )
    key, plaintext = keys(ctx).decrypt(
        ctx.account_id,
        ctx.region,
        params["CiphertextBlob"],
        params.get("EncryptionContext"),
        params.get("KeyId"),
    )
    dry_run(params)
    return {
        "KeyId": key.arn,
        "Plaintext": plaintext,
        "EncryptionAlgorithm": SYMMETRIC,
        "KeyMaterialId": key.metadata.get("CurrentKeyMaterialId"),
    }


def _data_key_size(params: dict) -> int:
    spec, count = params.get("KeySpec"), params.get("NumberOfBytes")
    if spec is None and count is None:
        raise ServiceError("ValidationException", "Please specify either number of bytes or key spec.", 400)
    if spec is not None and count is not None:
        raise ServiceError(
            "ValidationException", "Please specify either number of bytes or key spec, not both.", 400
        )
    return KEY_SPEC_BYTES[spec] if spec is not None else count


def _generate(ctx: RequestContext, params: dict) -> tuple[Key, bytes, bytes]:
    size = _data_key_size(params)
    if params.get("Recipient"):
        raise ServiceError(
            "UnsupportedOperationException", "A Nitro Enclaves Recipient is not supported by sagestack.", 400
        )
    key = _usable(ctx, params["KeyId"])
    dry_run(params)
    plaintext, blob = keys(ctx).generate_data_key(key, size, params.get("EncryptionContext"))
    return key, plaintext, blob


@OPERATIONS.handler("GenerateDataKey")
def generate_data_key(ctx: RequestContext, params: dict) -> dict:
    key, plaintext, blob = _generate(ctx, params)
    return {
        "CiphertextBlob": blob,
        "Plaintext": plaintext,
        "KeyId": key.arn,
        "KeyMaterialId": key.metadata.get("CurrentKeyMaterialId"),
    }


@OPERATIONS.handler("GenerateDataKeyWithoutPlaintext")
def generate_data_key_without_plaintext(ctx: RequestContext, params: dict) -> dict:
    key, _, blob = _generate(ctx, params)
    return {
        "CiphertextBlob": blob,
        "KeyId": key.arn,
        "KeyMaterialId": key.metadata.get("CurrentKeyMaterialId"),
    }


@OPERATIONS.handler("ReEncrypt")
def re_encrypt(ctx: RequestContext, params: dict) -> dict:
    _algorithm(None, params.get("SourceEncryptionAlgorithm"))
    destination = _usable(ctx, params["DestinationKeyId"])
    _algorithm(destination, params.get("DestinationEncryptionAlgorithm"))
    source, plaintext = keys(ctx).decrypt(
        ctx.account_id,
        ctx.region,
        params["CiphertextBlob"],
        params.get("SourceEncryptionContext"),
        params.get("SourceKeyId"),
    )
    dry_run(params)
    blob = keys(ctx).encrypt(destination, plaintext, params.get("DestinationEncryptionContext"))
    return {
        "CiphertextBlob": blob,
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": SYMMETRIC,
        "DestinationEncryptionAlgorithm": SYMMETRIC,
        "SourceKeyMaterialId": source.metadata.get("CurrentKeyMaterialId"),
        "DestinationKeyMaterialId": destination.metadata.get("CurrentKeyMaterialId"),
    }


@OPERATIONS.handler("GenerateRandom")
def generate_random(ctx: RequestContext, params: dict) -> dict:
    if params.get("CustomKeyStoreId") or params.get("Recipient"):
        raise ServiceError(
            "UnsupportedOperationException",
            "GenerateRandom from a custom key store or for a "
            "Nitro Enclaves Recipient is not supported by sagestack.",
            400,
        )
    count = params.get("NumberOfBytes")
    if count is None:
        raise ServiceError(
            "ValidationException",
            "1 validation error detected: Value null at "
            "'numberOfBytes' failed to satisfy constraint: Member must not be null",
            400,
        )
    return {"Plaintext": os.urandom(count)}
