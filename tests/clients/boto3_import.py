"""Imported key material (BYOK) with boto3, wrapped the way AWS's documentation does it
(here with pyca/cryptography instead of the openssl CLI): every wrapping algorithm AWS
accepts, symmetric and RSA material, reimport, deletion and the refusals. Then ML-KEM data
key pairs, read by pyca/cryptography.

usage: python3 tests/clients/boto3_import.py http://127.0.0.1:PORT DATA_DIR/admin-credentials.json
"""
import datetime
import json
import os
import sys

import boto3
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

endpoint, creds_path = sys.argv[1], sys.argv[2]
c = json.load(open(creds_path))
kms = boto3.client(
    "kms",
    endpoint_url=endpoint,
    region_name=c["region"],
    aws_access_key_id=c["access_key_id"],
    aws_secret_access_key=c["secret_access_key"],
)


def expect_error(code, fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, e.response
        return
    raise AssertionError(f"expected {code}")


def wrap(algorithm, public_der, material):
    public = serialization.load_der_public_key(public_der)
    sha = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=sha), algorithm=sha, label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    aes_key = os.urandom(32)
    return public.encrypt(aes_key, oaep) + aes_key_wrap_with_padding(aes_key, material)


def import_material(key_id, algorithm, material, **kw):
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_3072"
    )
    assert params["ParametersValidTo"] > datetime.datetime.now(datetime.timezone.utc)
    return kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(algorithm, params["PublicKey"], material),
        **kw,
    )


def state(key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


# Symmetric material under every wrapping algorithm, each into its own key.
for algorithm in [
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
]:
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    assert key["KeyState"] == "PendingImport" and key["Origin"] == "EXTERNAL", key
    kid = key["KeyId"]
    expect_error("KMSInvalidStateException", kms.encrypt, KeyId=kid, Plaintext=b"x")
    material = os.urandom(32)
    valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    out = import_material(
        kid, algorithm, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to
    )
    assert len(out["KeyMaterialId"]) == 64, out
    meta = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled", meta
    assert meta["ExpirationModel"] == "KEY_MATERIAL_EXPIRES", meta
    assert abs((meta["ValidTo"] - valid_to).total_seconds()) < 1, meta
    blob = kms.encrypt(KeyId=kid, Plaintext=b"byok " + algorithm.encode())["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok " + algorithm.encode()

    # Other material is refused; the same comes back after deletion.
    expect_error(
        "IncorrectKeyMaterialException",
        import_material,
        key_id=kid,
        algorithm=algorithm,
        material=os.urandom(32),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    kms.delete_imported_key_material(KeyId=kid)
    assert state(kid) == "PendingImport"
    expect_error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob)
    import_material(kid, algorithm, material, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert state(kid) == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok " + algorithm.encode()

# An RSA signing key made here: the service signs with it, and pyca verifies.
private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pkcs8 = private.private_bytes(
    serialization.Encoding.DER,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
)
kid = kms.create_key(Origin="EXTERNAL", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"][
    "KeyId"
]
# A 32-byte secret is no RSA private key.
expect_error(
    "IncorrectKeyMaterialException",
    import_material,
    key_id=kid,
    algorithm="RSAES_OAEP_SHA_256",
    material=os.urandom(32),
    ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
)
import_material(kid, "RSA_AES_KEY_WRAP_SHA_256", pkcs8, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
public_der = kms.get_public_key(KeyId=kid)["PublicKey"]
assert public_der == private.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
signature = kms.sign(
    KeyId=kid, Message=b"imported", SigningAlgorithm="RSASSA_PSS_SHA_256"
)["Signature"]
private.public_key().verify(
    signature,
    b"imported",
    padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
    hashes.SHA256(),
)

# Refusals as AWS words them.
generated = kms.create_key()["KeyMetadata"]["KeyId"]
expect_error(
    "UnsupportedOperationException",
    kms.get_parameters_for_import,
    KeyId=generated,
    WrappingAlgorithm="RSAES_OAEP_SHA_256",
    WrappingKeySpec="RSA_2048",
)
expect_error(
    "ValidationException",
    kms.get_parameters_for_import,
    KeyId=kid,
    WrappingAlgorithm="RSAES_PKCS1_V1_5",
    WrappingKeySpec="RSA_2048",
)
# ML-KEM data key pairs, read by pyca/cryptography (OpenSSL's ML-KEM): the private key's
# PKCS#8 seed form loads, and decapsulates what its public key encapsulates.
from cryptography.hazmat.primitives.asymmetric import mlkem  # noqa: E402

# (pyca/cryptography 48 reads ML-KEM-768 and ML-KEM-1024 keys, not ML-KEM-512.)
readable = [s for s in ["ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"] if hasattr(mlkem, "MLKEM%sPrivateKey" % s[7:])]
if readable:
    for spec in readable:
        pair = kms.generate_data_key_pair(KeyId=generated, KeyPairSpec=spec)
        private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
        public = serialization.load_der_public_key(pair["PublicKey"])
        shared, ciphertext = public.encapsulate()
        assert private.decapsulate(ciphertext) == shared, spec
        assert kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"] == pair["PrivateKeyPlaintext"]
else:
    print("this pyca/cryptography has no ML-KEM: the ML-KEM data key pair check is skipped")
print("boto3 import: ok")
