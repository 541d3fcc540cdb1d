"""Smoke test with boto3 (botocore's own SigV4 and JSON protocol) against a running keyledger.

usage: python3 tests/clients/boto3_smoke.py http://127.0.0.1:PORT DATA_DIR/admin-credentials.json
"""
import json
import sys

import boto3
from botocore.exceptions import ClientError

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


key = kms.create_key(Description="boto3", Tags=[{"TagKey": "k", "TagValue": "v"}])["KeyMetadata"]
assert key["KeyState"] == "Enabled" and key["KeySpec"] == "SYMMETRIC_DEFAULT"
kid = key["KeyId"]
kms.create_alias(AliasName="alias/boto3", TargetKeyId=kid)
blob = kms.encrypt(KeyId="alias/boto3", Plaintext=b"hello", EncryptionContext={"a": "b"})["CiphertextBlob"]
assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"hello"
expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)
dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256")
assert len(dk["Plaintext"]) == 32
assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
kms.enable_key_rotation(KeyId=kid)
assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is True
kms.rotate_key_on_demand(KeyId=kid)
assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"hello"
assert len(kms.list_key_rotations(KeyId=kid)["Rotations"]) == 1
assert [a["AliasName"] for a in kms.list_aliases(KeyId=kid)["Aliases"]] == ["alias/boto3"]
assert json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"])["Version"] == "2012-10-17"
signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
sig = kms.sign(KeyId=signer, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
assert kms.verify(KeyId=signer, Message=b"m", Signature=sig, SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"]
expect_error("KMSInvalidSignatureException", kms.verify, KeyId=signer, Message=b"x", Signature=sig, SigningAlgorithm="ECDSA_SHA_256")
expect_error("NotFoundException", kms.describe_key, KeyId="alias/none")
kms.disable_key(KeyId=kid)
expect_error("DisabledException", kms.encrypt, KeyId=kid, Plaintext=b"x")
d = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
assert d["KeyState"] == "PendingDeletion" and d["PendingWindowInDays"] == 7
expect_error("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob, EncryptionContext={"a": "b"})
kms.cancel_key_deletion(KeyId=kid)
assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"

# The trail through CloudTrail's own API (SigV4 service "cloudtrail"), as auditors use it.
cloudtrail = boto3.client(
    "cloudtrail",
    endpoint_url=endpoint,
    region_name=c["region"],
    aws_access_key_id=c["access_key_id"],
    aws_secret_access_key=c["secret_access_key"],
)
by_key = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": kid}])
names = [e["EventName"] for e in by_key["Events"]]
assert names[0] == "DescribeKey" and names[1] == "CancelKeyDeletion" and names[-1] == "CreateKey", names  # newest first
assert "Encrypt" in names and "RotateKeyOnDemand" in names, names
for e in by_key["Events"]:
    assert any(r["ResourceName"].endswith(kid) for r in e["Resources"]), e
    record = json.loads(e["CloudTrailEvent"])
    assert record["eventID"] == e["EventId"] and record["eventSource"] == "kms.amazonaws.com"
    assert e["EventTime"].tzinfo is not None  # parsed as a timestamp by botocore
failed = [e for e in by_key["Events"] if "errorCode" in json.loads(e["CloudTrailEvent"])]
assert {json.loads(e["CloudTrailEvent"])["errorCode"] for e in failed} >= {"DisabledException", "KMSInvalidStateException"}
pages = cloudtrail.get_paginator("lookup_events").paginate(
    LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Sign"}], PaginationConfig={"PageSize": 1})
signs = [e for page in pages for e in page["Events"]]
assert len(signs) == 1 and signs[0]["EventName"] == "Sign", signs
encrypts = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}], MaxResults=50)
assert len(encrypts["Events"]) == 2, encrypts  # one succeeded, one was refused (disabled)
try:
    cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Encrypt"},
                                               {"AttributeKey": "ReadOnly", "AttributeValue": "true"}])
    raise AssertionError("two lookup attributes were accepted")
except ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidLookupAttributesException", e.response
last = kms.get_key_last_usage(KeyId=signer)["KeyLastUsage"]
assert last["Operation"] == "Verify", last  # the failed Verify after it does not count
print("boto3 smoke test passed")

# IAM and STS through boto3's own query-protocol clients (SigV4 services "iam" and "sts").
def client(service, key_id, secret, token=None):
    return boto3.client(service, endpoint_url=endpoint, region_name=c["region"],
                        aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token=token)


sts = client("sts", c["access_key_id"], c["secret_access_key"])
me = sts.get_caller_identity()
assert me["Account"] == c["account_id"] and me["Arn"] == f"arn:aws:iam::{c['account_id']}:user/admin", me
assert me["UserId"].startswith("AIDA") and len(me["UserId"]) == 21, me
# The admin's AdministratorAccess policy allows these (evaluated by the policy engine).
iam = client("iam", c["access_key_id"], c["secret_access_key"])
user = iam.create_user(UserName="boto3-user")["User"]
assert user["Arn"] == f"arn:aws:iam::{c['account_id']}:user/boto3-user" and user["Path"] == "/", user
expect_error("EntityAlreadyExists", iam.create_user, UserName="boto3-user")
expect_error("NoSuchEntity", iam.get_user, UserName="nobody")
key = iam.create_access_key(UserName="boto3-user")["AccessKey"]
assert key["Status"] == "Active" and key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40, key
listed = iam.list_access_keys(UserName="boto3-user")["AccessKeyMetadata"]
assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]] and "SecretAccessKey" not in listed[0], listed
as_user = client("sts", key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
assert as_user["Arn"] == user["Arn"] and as_user["UserId"] == user["UserId"], as_user
iam.update_access_key(UserName="boto3-user", AccessKeyId=key["AccessKeyId"], Status="Inactive")
try:
    client("sts", key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    raise AssertionError("a deactivated key was accepted")
except ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidClientTokenId", e.response
print("boto3 IAM/STS smoke test passed")
