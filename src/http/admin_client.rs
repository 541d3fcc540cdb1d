//! The client side of the native admin routes (`keyledger admin create-account --endpoint`):
//! one SigV4-signed HTTP/1.1 request over a plain TCP connection, so the binary needs no
//! HTTP client crate. `http://` only (terminate TLS in front of keyledger).

use super::sigv4;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Largest answer read.
const MAX_RESPONSE: usize = 1 << 20;

/// `POST {endpoint}{path}` with a JSON body, signed for service `kms` in `region`; the
/// status and body of the answer.
pub async fn post_json(
    endpoint: &str,
    path: &str,
    body: &[u8],
    access_key_id: &str,
    secret_access_key: &str,
    region: &str,
) -> Result<(u16, Vec<u8>), String> {
    let authority = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("{endpoint}: only http:// endpoints are supported"))?
        .trim_end_matches('/');
    let host_port = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let amz_date = sigv4::format_amz_date(time::OffsetDateTime::now_utc());
    let payload_hash = sigv4::sha256_hex(body);
    let headers = [
        ("content-type", "application/json"),
        ("host", authority),
        ("x-amz-date", amz_date.as_str()),
    ];
    let parts = sigv4::RequestParts {
        method: "POST",
        path,
        query: "",
        headers: &headers,
        payload_sha256_hex: &payload_hash,
    };
    let key = sigv4::derive_signing_key(
        secret_access_key.as_bytes(),
        &amz_date[..8],
        region,
        super::auth::SERVICE,
    );
    let authorization = sigv4::authorization_header(
        &parts,
        access_key_id,
        &key,
        &amz_date,
        region,
        super::auth::SERVICE,
    );
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\nx-amz-date: {amz_date}\r\nauthorization: {authorization}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let mut stream = tokio::net::TcpStream::connect(&host_port)
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    stream
        .write_all(&request)
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE as u64)
        .read_to_end(&mut response)
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{endpoint}: not an HTTP response"))?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("{endpoint}: not an HTTP response"))?;
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body).ok_or_else(|| format!("{endpoint}: a malformed chunked body"))?;
    }
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            super::dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(super::dechunk(b"9\r\nabc").is_none());
    }
}
