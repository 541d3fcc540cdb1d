"""The AWS Encryption SDK's multi-Region-aware keyring (Python) against a running
keyledger: a message encrypted under a multi-Region primary key in one Region decrypts
with its replica in another, the replica's ARN being the only key the decrypting side
knows. The plain strict provider, given the same replica ARN, must refuse it (it matches
ARNs exactly), which shows the MRK-aware matching is what does the work.

usage: python3 tests/clients/esdk_mrk.py http://127.0.0.1:PORT DATA_DIR/admin-credentials.json
"""
import json
import logging
import sys

import aws_encryption_sdk
import botocore.session
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import DecryptKeyError
from aws_encryption_sdk.key_providers.kms import (
    MRKAwareStrictAwsKmsMasterKeyProvider,
    StrictAwsKmsMasterKeyProvider,
)

endpoint, creds_path = sys.argv[1], sys.argv[2]
c = json.load(open(creds_path))
primary_region = c["region"]
replica_region = "eu-west-1" if primary_region != "eu-west-1" else "us-west-2"


def kms_client(region):
    s = botocore.session.Session()
    s.set_credentials(c["access_key_id"], c["secret_access_key"])
    return s.create_client("kms", endpoint_url=endpoint, region_name=region)


primary = kms_client(primary_region).create_key(Description="esdk mrk", MultiRegion=True)["KeyMetadata"]
assert primary["KeyId"].startswith("mrk-"), primary
replica = kms_client(primary_region).replicate_key(KeyId=primary["KeyId"], ReplicaRegion=replica_region)[
    "ReplicaKeyMetadata"
]
assert replica["Arn"] == primary["Arn"].replace(f":{primary_region}:", f":{replica_region}:"), replica


def regional(cls):
    class Provider(cls):
        """The provider's KMS clients talk to keyledger instead of AWS."""

        def add_regional_client(self, region_name):
            if region_name not in self._regional_clients:
                self._regional_clients[region_name] = kms_client(region_name)

    return Provider


client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
message = b"multi-Region envelope " * 64
ciphertext, _ = client.encrypt(
    source=message,
    key_provider=regional(MRKAwareStrictAwsKmsMasterKeyProvider)(key_ids=[primary["Arn"]]),
    encryption_context={"purpose": "esdk-mrk"},
)
plaintext, header = client.decrypt(
    source=ciphertext,
    key_provider=regional(MRKAwareStrictAwsKmsMasterKeyProvider)(key_ids=[replica["Arn"]]),
)
assert plaintext == message
assert header.encryption_context["purpose"] == "esdk-mrk"

# (The ESDK logs the refusal it then raises; keep the output to what this script says.)
logging.getLogger("aws_encryption_sdk").setLevel(logging.CRITICAL + 1)
try:
    client.decrypt(source=ciphertext, key_provider=regional(StrictAwsKmsMasterKeyProvider)(key_ids=[replica["Arn"]]))
except DecryptKeyError:  # no master key of the provider matches the message's data key
    pass
else:
    raise AssertionError("the non-MRK-aware provider should not have matched the replica ARN")
print(f"AWS Encryption SDK MRK-aware keyring: {primary_region} -> {replica_region} passed")
