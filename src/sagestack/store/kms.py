"""KMS keys, aliases and key material, and the cryptography that uses them.

Keys and aliases are rows of the generic resources table (types ``kms-key`` and ``kms-alias``; an
alias's ``parent`` is its target key id); each symmetric key holds 256 bits of key material. Ciphertext
blobs are AES-256-GCM under that material and self-describing, as KMS's are: Decrypt finds the key
from the blob alone. The blob binds the key ARN and the encryption context as additional authenticated
data, so a wrong context or a tampered blob fails authentication::

    version (1) | len(key ARN) (2) | key ARN | nonce (12) | ciphertext | tag (16)

Errors are ``KmsError`` with a ``kind`` (``NotFound``, ``Disabled``, ``InvalidState``, …): the KMS
service and S3 each word them in their own protocol.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import struct
import uuid
from dataclasses import dataclass

from .resources import ListQuery, Resource, ResourceStore

KEY_TYPE = "kms-key"
ALIAS_TYPE = "kms-alias"
BLOB_VERSION = 1
SYMMETRIC = "SYMMETRIC_DEFAULT"
#: AWS managed keys created on first use (DescribeKey of the alias, or a service that needs one).
MANAGED_KEYS = {
    "alias/aws/s3": "Default key that protects my S3 objects when no other key is defined",
    "alias/aws/sagemaker": "Default key that protects my SageMaker data when no other key is defined",
}
UTC = dt.timezone.utc

DEFAULT_POLICY = """{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::%(account)s:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"""

MANAGED_POLICY = """{
  "Version" : "2012-10-17",
  "Id" : "auto-%(service)s-2",
  "Statement" : [ {
    "Sid" : "Allow access through %(service_title)s for all principals in the account that are authorized to use %(service_title)s",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "*"
    },
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
        "kms:CallerAccount" : "%(account)s",
        "kms:ViaService" : "%(service)s.%(region)s.amazonaws.com"
      }
    }
  }, {
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::%(account)s:root"
    },
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*" ],
    "Resource" : "*"
  } ]
}"""


class KmsError(Exception):
    """A KMS failure. ``kind``: NotFound, Disabled, InvalidState, InvalidCiphertext, IncorrectKey,
    AlreadyExists, InvalidAliasName, InvalidMarker."""

    def __init__(self, kind: str, message: str = ""):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class Key:
    resource: Resource

    @property
    def metadata(self) -> dict:
        return self.resource.data["KeyMetadata"]

    @property
    def key_id(self) -> str:
        return self.resource.name

    @property
    def arn(self) -> str:
        return self.resource.arn

    @property
    def state(self) -> str:
        return self.metadata["KeyState"]

    @property
    def material(self) -> bytes:
        return base64.b64decode(self.resource.data["Material"])


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def canonical_context(context: dict[str, str] | None) -> bytes:
    return json.dumps(context or {}, sort_keys=True, separators=(",", ":")).encode()


def _parse_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, resource) of a KMS ARN, or None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kms":
        return None
    return parts[3], parts[4], parts[5]


class KeyStore:
    def __init__(self, resources: ResourceStore):
        self.resources = resources

    # -- keys -------------------------------------------------------------------------------

    def create_key(
        self,
        account: str,
        region: str,
        *,
        description: str = "",
        policy: str | None = None,
        tags: list[dict] | None = None,
        manager: str = "CUSTOMER",
        multi_region: bool = False,
    ) -> Key:
        key_id = ("mrk-" + uuid.uuid4().hex) if multi_region else str(uuid.uuid4())
        arn = f"arn:aws:kms:{region}:{account}:key/{key_id}"
        metadata = {
            "AWSAccountId": account,
            "KeyId": key_id,
            "Arn": arn,
            "CreationDate": _now(),
            "Enabled": True,
            "Description": description,
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": "Enabled",
            "Origin": "AWS_KMS",
            "KeyManager": manager,
            "CustomerMasterKeySpec": SYMMETRIC,
            "KeySpec": SYMMETRIC,
            "EncryptionAlgorithms": [SYMMETRIC],
            "MultiRegion": multi_region,
            "CurrentKeyMaterialId": os.urandom(32).hex(),
        }
        if multi_region:
            metadata["MultiRegionConfiguration"] = {
                "MultiRegionKeyType": "PRIMARY",
                "PrimaryKey": {"Arn": arn, "Region": region},
                "ReplicaKeys": [],
            }
        data = {
            "KeyMetadata": metadata,
            "Material": base64.b64encode(os.urandom(32)).decode(),
            "Policy": policy or DEFAULT_POLICY % {"account": account},
            "RotationEnabled": False,
        }
        resource = self.resources.create(
            account,
            region,
            KEY_TYPE,
            key_id,
            arn,
            data,
            status="Enabled",
            tag_list=[{"Key": t["TagKey"], "Value": t.get("TagValue", "")} for t in tags or ()],
        )
        return Key(resource)

    def find(self, account: str, region: str, key_ref: str) -> Key:
        """The key named by a key id, key ARN, alias name or alias ARN (NotFound otherwise). AWS managed
        aliases (``alias/aws/s3``) are created on first use, as KMS does."""
        if key_ref.startswith("arn:"):
            parsed = _parse_arn(key_ref)
            if parsed is None:
                raise KmsError("InvalidArn", f"Invalid arn {key_ref}")
            region, account, resource = parsed
            if resource.startswith("alias/"):
                return self._by_alias(account, region, resource)
            if not resource.startswith("key/"):
                raise KmsError("InvalidArn", f"Invalid arn {key_ref}")
            key_ref = resource[4:]
        elif key_ref.startswith("alias/"):
            return self._by_alias(account, region, key_ref)
        return self._by_id(account, region, key_ref)

    def _by_id(self, account: str, region: str, key_id: str) -> Key:
        found = self.resources.get(account, region, KEY_TYPE, key_id)
        if found is None or self._expired(found):
            raise KmsError("NotFound", f"Key 'arn:aws:kms:{region}:{account}:key/{key_id}' does not exist")
        return Key(found)

    def _by_alias(self, account: str, region: str, name: str) -> Key:
        alias = self.resources.get(account, region, ALIAS_TYPE, name)
        if alias is None:
            if name in MANAGED_KEYS:
                return self.managed_key(account, region, name)
            raise KmsError("NotFound", f"Alias 'arn:aws:kms:{region}:{account}:{name}' is not found.")
        return self._by_id(account, region, alias.data["TargetKeyId"])

    def managed_key(self, account: str, region: str, alias: str = "alias/aws/s3") -> Key:
        """The AWS managed key behind ``alias`` (created on first use)."""
        found = self.resources.get(account, region, ALIAS_TYPE, alias)
        if found is not None:
            return self._by_id(account, region, found.data["TargetKeyId"])
        service = alias.rsplit("/", 1)[1]
        policy = MANAGED_POLICY % {
            "account": account,
            "region": region,
            "service": service,
            "service_title": service.upper() if len(service) <= 3 else service.title(),
        }
        key = self.create_key(account, region, description=MANAGED_KEYS[alias], policy=policy, manager="AWS")
        try:
            self.create_alias(account, region, alias, key)
        except KmsError:  # another request created it meanwhile: use theirs
            self.resources.delete(account, region, KEY_TYPE, key.key_id)
            return self.managed_key(account, region, alias)
        return key

    def _expired(self, resource: Resource) -> bool:
        """A key past its deletion date is gone: delete it (and its aliases) now."""
        meta = resource.data["KeyMetadata"]
        if meta["KeyState"] != "PendingDeletion" or meta["DeletionDate"] > _now():
            return False
        self._purge(resource)
        return True

    def _purge(self, resource: Resource) -> None:
        aliases, _ = self.resources.list(
            resource.account_id,
            resource.region,
            ALIAS_TYPE,
            ListQuery(parent=resource.name, max_results=1000),
        )
        for alias in aliases:
            self.resources.delete(resource.account_id, resource.region, ALIAS_TYPE, alias.name)
        self.resources.delete(resource.account_id, resource.region, KEY_TYPE, resource.name)

    def purge_expired(self) -> None:
        for resource in self.resources.in_states(KEY_TYPE, ["PendingDeletion"]):
            self._expired(resource)

    def save(self, key: Key) -> Key:
        self.resources.update(key.resource, key.resource.data, status=key.state)
        return key

    def set_state(self, key: Key, state: str, **extra) -> Key:
        meta = key.metadata
        meta["KeyState"] = state
        meta["Enabled"] = state == "Enabled"
        for name in ("DeletionDate", "PendingDeletionWindowInDays"):
            meta.pop(name, None)
        meta.update(extra)
        return self.save(key)

    def list_keys(
        self, account: str, region: str, limit: int, marker: str | None
    ) -> tuple[list[Key], str | None]:
        self.purge_expired()
        items, token = self.resources.list(
            account,
            region,
            KEY_TYPE,
            ListQuery(sort_by="CreationTime", sort_order="Ascending", max_results=limit, next_token=marker),
        )
        return [Key(item) for item in items], token

    # -- aliases ----------------------------------------------------------------------------

    def create_alias(self, account: str, region: str, name: str, key: Key) -> dict:
        if self.resources.get(account, region, ALIAS_TYPE, name) is not None:
            raise KmsError(
                "AlreadyExists",
                f"An alias with the name arn:aws:kms:{region}:{account}:{name} already exists",
            )
        now = _now()
        data = {
            "AliasName": name,
            "AliasArn": f"arn:aws:kms:{region}:{account}:{name}",
            "TargetKeyId": key.key_id,
            "CreationDate": now,
            "LastUpdatedDate": now,
        }
        try:
            self.resources.create(
                account, region, ALIAS_TYPE, name, data["AliasArn"], data, parent=key.key_id
            )
        except Exception as exc:  # the unique row constraint: a concurrent CreateAlias won
            if self.resources.get(account, region, ALIAS_TYPE, name) is not None:
                raise KmsError(
                    "AlreadyExists", f"An alias with the name {data['AliasArn']} already exists"
                ) from None
            raise exc
        return data

    def get_alias(self, account: str, region: str, name: str) -> dict:
        alias = self.resources.get(account, region, ALIAS_TYPE, name)
        if alias is None:
            raise KmsError("NotFound", f"Alias arn:aws:kms:{region}:{account}:{name} is not found.")
        return alias.data

    def update_alias(self, account: str, region: str, name: str, key: Key) -> dict:
        data = dict(self.get_alias(account, region, name))
        data.update(TargetKeyId=key.key_id, LastUpdatedDate=_now())
        # the target is the row's parent (ListAliases filters on it in SQL): write the row anew
        self.resources.delete(account, region, ALIAS_TYPE, name)
        self.resources.create(account, region, ALIAS_TYPE, name, data["AliasArn"], data, parent=key.key_id)
        return data

    def delete_alias(self, account: str, region: str, name: str) -> None:
        if not self.resources.delete(account, region, ALIAS_TYPE, name):
            raise KmsError("NotFound", f"Alias arn:aws:kms:{region}:{account}:{name} is not found.")

    def list_aliases(
        self, account: str, region: str, key_id: str | None, limit: int, marker: str | None
    ) -> tuple[list[dict], str | None]:
        self.purge_expired()
        items, token = self.resources.list(
            account,
            region,
            ALIAS_TYPE,
            ListQuery(
                parent=key_id, sort_by="Name", sort_order="Ascending", max_results=limit, next_token=marker
            ),
        )
        return [item.data for item in items], token

    # -- cryptography -----------------------------------------------------------------------

    @staticmethod
    def check_usable(key: Key) -> None:
        state = key.state
        if state == "Disabled":
            raise KmsError("Disabled", f"{key.arn} is disabled.")
        if state == "PendingDeletion":
            raise KmsError("InvalidState", f"{key.arn} is pending deletion.")
        if state != "Enabled":
            raise KmsError("InvalidState", f"{key.arn} is {state.lower()}.")

    def encrypt(self, key: Key, plaintext: bytes, context: dict[str, str] | None = None) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.check_usable(key)
        arn = key.arn.encode()
        header = struct.pack(">BH", BLOB_VERSION, len(arn)) + arn
        nonce = os.urandom(12)
        sealed = AESGCM(key.material).encrypt(nonce, bytes(plaintext), header + canonical_context(context))
        return header + nonce + sealed

    def decrypt(
        self,
        account: str,
        region: str,
        blob: bytes,
        context: dict[str, str] | None = None,
        key_ref: str | None = None,
    ) -> tuple[Key, bytes]:
        """(key, plaintext) of a ciphertext blob. ``key_ref``, when given, must name the blob's key."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        blob = bytes(blob)
        try:
            version, length = struct.unpack_from(">BH", blob)
            arn = blob[3 : 3 + length].decode()
        except (struct.error, UnicodeDecodeError):
            raise KmsError("InvalidCiphertext") from None
        parsed = _parse_arn(arn)
        if (
            version != BLOB_VERSION
            or parsed is None
            or not parsed[2].startswith("key/")
            or len(blob) < 3 + length + 12 + 16
        ):
            raise KmsError("InvalidCiphertext")
        try:
            key = self._by_id(parsed[1], parsed[0], parsed[2][4:])
        except KmsError:
            raise KmsError("InvalidCiphertext") from None
        if key_ref is not None and self.find(account, region, key_ref).arn != key.arn:
            raise KmsError(
                "IncorrectKey",
                "The key ID in the request does not identify a CMK that can perform this operation.",
            )
        self.check_usable(key)
        header = blob[: 3 + length]
        nonce = blob[3 + length : 3 + length + 12]
        try:
            plaintext = AESGCM(key.material).decrypt(
                nonce, blob[3 + length + 12 :], header + canonical_context(context)
            )
        except InvalidTag:
            raise KmsError("InvalidCiphertext") from None
        return key, plaintext

    def generate_data_key(
        self, key: Key, size: int = 32, context: dict[str, str] | None = None
    ) -> tuple[bytes, bytes]:
        """(plaintext data key, its ciphertext blob under ``key``)."""
        plaintext = os.urandom(size)
        return plaintext, self.encrypt(key, plaintext, context)

    def unwrap(self, envelope: dict) -> bytes:
        """The data key of an object envelope (``objects.encryption``): key ARN, blob and context."""
        parsed = _parse_arn(envelope["key"]) or ("", "", "")
        _, plaintext = self.decrypt(
            parsed[1], parsed[0], base64.b64decode(envelope["blob"]), envelope.get("context")
        )
        return plaintext


def key_store(platform) -> KeyStore:
    """The platform's key store (built on first use)."""
    return platform.component("kms", lambda p: KeyStore(p.resources))
