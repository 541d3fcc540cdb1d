"""boto3 over HTTPS against a keyledger serving TLS (`serve --tls-cert/--tls-key`).

usage: python3 tests/clients/boto3_tls_smoke.py https://127.0.0.1:PORT DATA_DIR/admin-credentials.json CA.pem
"""
import json
import sys

import boto3
import botocore.config
import botocore.exceptions

endpoint, creds_path, ca = sys.argv[1], sys.argv[2], sys.argv[3]
assert endpoint.startswith("https://"), endpoint
c = json.load(open(creds_path))


def kms(verify):
    return boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name=c["region"],
        aws_access_key_id=c["access_key_id"],
        aws_secret_access_key=c["secret_access_key"],
        verify=verify,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


client = kms(ca)
kid = client.create_key(Description="boto3 over tls")["KeyMetadata"]["KeyId"]
blob = client.encrypt(KeyId=kid, Plaintext=b"over tls", EncryptionContext={"a": "b"})["CiphertextBlob"]
assert client.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"over tls"
dk = client.generate_data_key(KeyId=kid, KeySpec="AES_256")
assert client.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]

# The certificate is really checked: without the test CA, botocore refuses the server.
try:
    kms(True).list_keys()
except botocore.exceptions.SSLError:
    pass
else:
    raise AssertionError("a client that does not trust the test CA connected")
print("boto3 over TLS: ok")
