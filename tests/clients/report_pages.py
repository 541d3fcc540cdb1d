"""Render check for the two HTML report pages in a real browser (Debian's headless chromium).

usage: python3 tests/clients/report_pages.py http://127.0.0.1:PORT DATA_DIR/admin-credentials.json [OUT_DIR]

What it does, against a running keyledger:
  1. Makes some activity with boto3's kms client so the reports have data: two keys,
     Encrypt/Decrypt/GenerateDataKey, one failing call (Encrypt with a disabled key), a
     PutKeyPolicy that changes a policy, and ScheduleKeyDeletion on one key.
  2. Fetches /v1/reports/billing?format=html and /v1/reports/compliance?format=html, signed
     with botocore's own SigV4 (service "kms"), and checks for HTTP 200 and text/html.
  3. Saves each page to OUT_DIR (billing.html, compliance.html) with the response's
     Content-Security-Policy copied into a <meta http-equiv> right after <head>, so chromium
     enforces on the file:// copy the same policy the endpoint sends; anything the page
     tries that the policy forbids then shows up as a console message.
  4. Runs headless chromium on each copy twice: once for a PNG screenshot (OUT_DIR/NAME.png,
     kept as a CI artifact) and once with --dump-dom. It fails if chromium exits non-zero,
     if the page logged a console error or a CSP violation, if the screenshot is missing or
     suspiciously small, if the rendered DOM lacks the page's <h1>, or if no chart bar
     (<rect class="bar" data-value="N">) has a value above zero.

Why: the pages are server-rendered for people (inline CSS and SVG, no script) and unit tests
only look at the markup as text; this checks that a real browser renders them under the real
policy, with charts that carry data.

Exit codes: 0 all checks passed; 1 a check failed; 3 chromium is not installed.
"""
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session

PAGES = [
    # (file name, path, the <h1> text the page must start with)
    ("billing", "/v1/reports/billing?format=html", "Billing report"),
    ("compliance", "/v1/reports/compliance?format=html", "Compliance report"),
]
CHROMIUM_TIMEOUT = 120  # seconds for one chromium run
MIN_PNG_BYTES = 5_000  # a blank 1280x2400 page compresses to well under this
# CSP directives a <meta> policy ignores (chromium logs a console message for each).
META_IGNORED_DIRECTIVES = {"frame-ancestors", "report-uri", "report-to", "sandbox"}


class CheckFailed(Exception):
    pass


def load_credentials(path):
    with open(path) as f:
        c = json.load(f)
    return {k: c[k] for k in ("access_key_id", "secret_access_key", "account_id", "region")}


def kms_client(endpoint, creds):
    return boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name=creds["region"],
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"],
    )


def make_activity(kms, account_id):
    """Billable requests, a failure, a policy change and a pending deletion, for the reports."""
    a = kms.create_key(Description="report-pages a")["KeyMetadata"]["KeyId"]
    b = kms.create_key(Description="report-pages b")["KeyMetadata"]["KeyId"]
    for i, key in enumerate([a, a, a, b, b]):
        blob = kms.encrypt(KeyId=key, Plaintext=f"message {i}".encode())["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == f"message {i}".encode()
    kms.generate_data_key(KeyId=a, KeySpec="AES_256")

    kms.disable_key(KeyId=b)
    try:
        kms.encrypt(KeyId=b, Plaintext=b"x")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "DisabledException", e.response
    else:
        raise CheckFailed("Encrypt with a disabled key succeeded")

    policy = json.loads(kms.get_key_policy(KeyId=a, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Sid": "ReportPagesDescribe",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        }
    )
    kms.put_key_policy(KeyId=a, PolicyName="default", Policy=json.dumps(policy))
    kms.schedule_key_deletion(KeyId=b, PendingWindowInDays=7)


def fetch_signed(endpoint, creds, path):
    """A SigV4-signed GET (service "kms"), by botocore's signer and HTTP session."""
    request = AWSRequest(method="GET", url=endpoint.rstrip("/") + path)
    credentials = Credentials(creds["access_key_id"], creds["secret_access_key"])
    SigV4Auth(credentials, "kms", creds["region"]).add_auth(request)
    session = URLLib3Session()
    try:
        return session.send(request.prepare())
    finally:
        session.close()


def meta_policy(csp):
    """The header's policy minus the directives that a <meta> policy ignores."""
    kept = [d.strip() for d in csp.split(";") if d.strip()]
    kept = [d for d in kept if d.split()[0].lower() not in META_IGNORED_DIRECTIVES]
    return "; ".join(kept)


def with_csp_meta(html, csp):
    """The page with <meta http-equiv="Content-Security-Policy"> right after <head>."""
    m = re.search(r"<head(\s[^>]*)?>", html, re.IGNORECASE)
    if not m:
        raise CheckFailed("page has no <head>")
    content = meta_policy(csp).replace("&", "&amp;").replace('"', "&quot;")
    meta = f'\n<meta http-equiv="Content-Security-Policy" content="{content}">'
    return html[: m.end()] + meta + html[m.end():]


def save_page(endpoint, creds, name, path, out_dir):
    response = fetch_signed(endpoint, creds, path)
    if response.status_code != 200:
        raise CheckFailed(f"GET {path}: HTTP {response.status_code}: {response.text[:500]}")
    content_type = response.headers.get("Content-Type", "")
    if not content_type.startswith("text/html"):
        raise CheckFailed(f"GET {path}: Content-Type {content_type!r}, not text/html")
    csp = response.headers.get("Content-Security-Policy")
    if not csp:
        raise CheckFailed(f"GET {path}: no Content-Security-Policy header")
    file = out_dir / f"{name}.html"
    file.write_text(with_csp_meta(response.text, csp), encoding="utf-8")
    print(f"saved {file} (Content-Security-Policy: {csp})")
    return file


def find_chromium():
    exe = shutil.which("chromium")
    if exe is None:
        print(
            "report_pages: chromium is not installed (Debian: apt-get install chromium); "
            "cannot check the report pages in a browser",
            file=sys.stderr,
        )
        sys.exit(3)
    return exe


def run_chromium(chromium, *args):
    """One headless chromium run; returns (stdout, stderr). Fails on a non-zero exit."""
    cmd = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--window-size=1280,4000", "--enable-logging=stderr", "--v=0", *args,
    ]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"chromium did not finish in {CHROMIUM_TIMEOUT}s: {' '.join(cmd)}")
    if run.returncode != 0:
        raise CheckFailed(
            f"chromium exited {run.returncode}: {' '.join(cmd)}\n{run.stderr[-3000:]}"
        )
    return run.stdout, run.stderr


# Chromium logs a page's console messages as `[pid:tid:time:LEVEL:CONSOLE(line)] "text",
# source: URL (line)`; version 156 logs every one at INFO, console.error included, so the
# text decides. Everything else on stderr (dbus, GPU, vaapi, the Debian wrapper) is noise.
CONSOLE_ERROR = re.compile(r"error|uncaught|refused", re.IGNORECASE)


def console_problems(stderr):
    bad = []
    for line in stderr.splitlines():
        if "Content Security Policy" in line:
            bad.append(line)
        elif "CONSOLE" in line and (CONSOLE_ERROR.search(line) or ":ERROR:CONSOLE" in line):
            bad.append(line)
    return bad


def page_problems(dom, h1):
    """(problems, number of bars) for the DOM chromium rendered."""
    problems = []
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", dom, re.IGNORECASE | re.DOTALL)
    if heading is None:
        problems.append("no <h1> in the rendered DOM")
    elif not heading.group(1).strip().startswith(h1):
        problems.append(f"<h1> is {heading.group(1).strip()!r}, expected {h1!r}...")
    values = []
    for rect in re.findall(r"<rect\b[^>]*>", dom):
        if re.search(r'\bclass="bar"', rect):
            v = re.search(r'\bdata-value="([^"]*)"', rect)
            if v is None:
                problems.append(f"chart bar without data-value: {rect}")
                continue
            try:
                values.append(float(v.group(1)))
            except ValueError:
                problems.append(f"chart bar with a non-numeric data-value: {rect}")
    if not any(v > 0 for v in values):
        problems.append(f"no chart bar with data-value > 0 ({len(values)} bars, values {values})")
    return problems, len(values)


def check_page(chromium, html_file, h1):
    name = html_file.stem
    png = html_file.with_suffix(".png")
    png.unlink(missing_ok=True)
    url = html_file.resolve().as_uri()

    _, shot_err = run_chromium(chromium, f"--screenshot={png}", url)
    dom, dom_err = run_chromium(chromium, "--dump-dom", url)

    problems = [f"console: {line}" for line in console_problems(shot_err + dom_err)]
    if not png.exists():
        problems.append(f"no screenshot at {png}")
    elif png.stat().st_size < MIN_PNG_BYTES:
        problems.append(f"screenshot {png} is only {png.stat().st_size} bytes")
    dom_problems, bars = page_problems(dom, h1)
    problems += dom_problems
    if problems:
        raise CheckFailed(f"{html_file.name}:\n  " + "\n  ".join(problems))
    print(f"{html_file.name}: rendered, {bars} bars, screenshot {png} ({png.stat().st_size} bytes)")


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    endpoint, creds_path = argv[1], argv[2]
    out_dir = Path(argv[3]) if len(argv) == 4 else Path(tempfile.mkdtemp(prefix="report-pages-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    chromium = find_chromium()
    creds = load_credentials(creds_path)
    try:
        make_activity(kms_client(endpoint, creds), creds["account_id"])
        files = [(save_page(endpoint, creds, name, path, out_dir), h1) for name, path, h1 in PAGES]
        for html_file, h1 in files:
            check_page(chromium, html_file, h1)
    except CheckFailed as e:
        print(f"report_pages: FAILED: {e}", file=sys.stderr)
        return 1
    print(f"report pages: {len(files)} rendered in chromium, artifacts in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
