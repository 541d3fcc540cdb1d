"""The AWS Encryption SDK (Python) against a running keyledger: envelope encryption
with a keyledger key as the KMS master key, in strict mode (KeyId checked on decrypt).

usage: python3 tests/clients/esdk_smoke.py http://127.0.0.1:PORT DATA_DIR/admin-credentials.json
"""
import json
import sys

import aws_encryption_sdk
import botocore.session
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.key_providers.kms import StrictAwsKmsMasterKeyProvider

endpoint, creds_path = sys.argv[1], sys.argv[2]
c = json.load(open(creds_path))
session = botocore.session.Session()
session.set_credentials(c["access_key_id"], c["secret_access_key"])
session.set_config_variable("region", c["region"])
kms = session.create_client("kms", endpoint_url=endpoint, region_name=c["region"])
key_arn = kms.create_key(Description="esdk")["KeyMetadata"]["Arn"]


class EndpointProvider(StrictAwsKmsMasterKeyProvider):
    """The provider's KMS clients talk to keyledger instead of AWS."""

    def add_regional_client(self, region_name):
        if region_name not in self._regional_clients:
            s = botocore.session.Session()
            s.set_credentials(c["access_key_id"], c["secret_access_key"])
            self._regional_clients[region_name] = s.create_client("kms", endpoint_url=endpoint, region_name=region_name)


client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
provider = EndpointProvider(key_ids=[key_arn])
message = b"envelope-encrypted through keyledger " * 100
ciphertext, header = client.encrypt(source=message, key_provider=provider, encryption_context={"purpose": "esdk-smoke"})
plaintext, dheader = client.decrypt(source=ciphertext, key_provider=provider)
assert plaintext == message
assert dheader.encryption_context["purpose"] == "esdk-smoke"
print("AWS Encryption SDK smoke test passed")
