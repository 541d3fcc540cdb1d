"""schemathesis hooks for keyledger: sign requests with AWS Signature Version 4.

The auth provider is a `requests` auth object, so it signs the prepared request (its final
URL, query and body bytes) with botocore's SigV4 signer, as the AWS SDKs sign; schemathesis
knows it as the run's explicit auth, and its auth checks send their probes without it.
Credentials come from the admin-credentials.json file named by KEYLEDGER_CREDENTIALS.
"""

import json
import os

import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

with open(os.environ["KEYLEDGER_CREDENTIALS"]) as f:
    _creds = json.load(f)
_CREDENTIALS = Credentials(_creds["access_key_id"], _creds["secret_access_key"])
_REGION = _creds["region"]


class _SigV4(requests.auth.AuthBase):
    def __call__(self, prepared):
        # Sign the headers a client means (never the ones schemathesis draws at random).
        headers = {
            name: prepared.headers[name]
            for name in ("Content-Type", "X-Amz-Target")
            if prepared.headers.get(name)
        }
        aws = AWSRequest(
            method=prepared.method,
            url=prepared.url,
            data=prepared.body or b"",
            headers=headers,
        )
        SigV4Auth(_CREDENTIALS, "kms", _REGION).add_auth(aws)
        for name in ("Authorization", "X-Amz-Date"):
            prepared.headers[name] = aws.headers[name]
        return prepared


schemathesis.auth.set_from_requests(_SigV4())


@schemathesis.deserializer("application/x-amz-json-1.1")
def _aws_json(ctx, response):
    # AWS's error bodies: validated against the document's Error schema like any JSON.
    return json.loads(response.content)


# Real resources, so the operations that name one reach more than 404: a key made through
# the AWS endpoint, and the event id of that call's record.
_ENDPOINT = os.environ.get("KEYLEDGER_ENDPOINT")
_REAL = {}
if _ENDPOINT:
    _created = requests.post(
        _ENDPOINT + "/",
        data=b"{}",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "TrentService.CreateKey",
        },
        auth=_SigV4(),
        timeout=30,
    )
    assert _created.status_code == 200, _created.text
    _REAL["KeyId"] = _created.json()["KeyMetadata"]["KeyId"]
    _REAL["event_id"] = _created.headers["x-keyledger-event-id"]


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    # Half the drawn values (by their hash) are swapped for the real one.
    for name, real in _REAL.items():
        if path_parameters and name in path_parameters:
            if hash(str(path_parameters[name])) % 2 == 0:
                path_parameters[name] = real
    return path_parameters
