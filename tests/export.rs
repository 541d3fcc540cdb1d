//! `keyledger trail export`: CloudTrail log files and signed, chained digests that
//! `replay::export::verify_export` checks with the verifier key alone.

mod common;

use common::{command, trail, Server};
use std::path::Path;

/// `keyledger trail export --from FROM --to TO --out OUT --data-dir DATA`.
fn export(data: &Path, from: &str, to: &str, out: &Path) -> (bool, String) {
    command(
        &[
            "trail",
            "export",
            "--from",
            from,
            "--to",
            to,
            "--out",
            out.to_str().unwrap(),
        ],
        data,
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn files(dir: &Path, under: &str) -> Vec<std::path::PathBuf> {
    common::files_under(&dir.join(under))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_verifies_and_any_change_to_it_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data).await;
    let key = server.client.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    for _ in 0..5 {
        server
            .client
            .encrypt()
            .key_id(&key_id)
            .plaintext(aws_sdk_kms::primitives::Blob::new(
                b"secret-export-plaintext".to_vec(),
            ))
            .send()
            .await
            .unwrap();
    }
    let vkey = common::signed_get_response(&server.endpoint, &server.credentials, "/v1/trail/vkey")
        .await
        .text()
        .await
        .unwrap();
    server.stop();

    // Whole hours: the three before this one, and this one.
    let now = time::OffsetDateTime::now_utc()
        .replace_minute(0)
        .unwrap()
        .replace_second(0)
        .unwrap()
        .replace_nanosecond(0)
        .unwrap();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let (from, to) = (
        fmt(now - time::Duration::hours(3)),
        fmt(now + time::Duration::hours(1)),
    );
    let out = dir.path().join("export");
    let (ok, printed) = export(&data, &from, &to, &out);
    assert!(ok, "{printed}");
    // Every hour of the range has a digest; the records are the trail's usage events.
    assert_eq!(files(&out, "CloudTrail-Digest").len(), 4, "{printed}");
    let verified = replay::export::verify_export(&out, &vkey).expect("the export verifies");
    assert_eq!(verified.digests, 4);
    let records = replay::export::read_records(&out, &vkey).unwrap();
    let expected: Vec<serde_json::Value> = trail(&data).await;
    assert_eq!(
        records, expected,
        "the exported records are the trail's, in order"
    );
    for log in files(&out, "CloudTrail") {
        assert!(log.to_string_lossy().ends_with(".json.gz"));
        let bytes = std::fs::read(&log).unwrap();
        assert!(!bytes.windows(9).any(|w| w == b"secret-ex"), "no plaintext");
    }
    // A second export into the same place never overwrites the first.
    let (ok, _) = export(&data, &from, &to, &out);
    assert!(!ok);

    let tampered = |name: &str, change: &dyn Fn(&Path)| {
        let copy = dir.path().join(name);
        copy_dir(&out, &copy);
        change(&copy);
        let result = replay::export::verify_export(&copy, &vkey);
        assert!(result.is_err(), "{name} was not caught");
        result.unwrap_err().to_string()
    };
    let e = tampered("modified", &|d| {
        let log = &files(d, "CloudTrail")[0];
        let mut bytes = std::fs::read(log).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(log, bytes).unwrap();
    });
    assert!(e.contains("modified"), "{e}");
    let e = tampered("missing", &|d| {
        std::fs::remove_file(&files(d, "CloudTrail")[0]).unwrap()
    });
    assert!(e.contains("missing"), "{e}");
    let e = tampered("added", &|d| {
        let log = &files(d, "CloudTrail")[0];
        std::fs::copy(log, log.with_file_name("extra_CloudTrail.json.gz")).unwrap();
    });
    assert!(e.contains("added"), "{e}");
    let e = tampered("digest-removed", &|d| {
        std::fs::remove_file(&files(d, "CloudTrail-Digest")[1]).unwrap()
    });
    assert!(e.contains("does not follow"), "{e}");
    let e = tampered("digest-edited", &|d| {
        let digest = &files(d, "CloudTrail-Digest")[0];
        let text = std::fs::read_to_string(digest).unwrap();
        let edited = text.replacen("\"awsAccountId\":\"", "\"awsAccountId\":\"9", 1);
        assert_ne!(edited, text);
        std::fs::write(digest, edited).unwrap();
    });
    assert!(e.contains("signature"), "{e}");
    // Another key's verifier refuses every digest.
    let (_, other) =
        replay::trail::generate_note_key(replay::trail::vkey_name(vkey.trim())).unwrap();
    assert!(replay::export::verify_export(&out, &other).is_err());
}

#[tokio::test]
async fn an_export_refuses_bad_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    Server::start(&data).await.stop();
    let out = dir.path().join("x");
    for (from, to) in [
        ("2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z"),
        ("yesterday", "2026-12-01T00:00:00Z"),
        ("2020-01-01T00:00:00Z", "2026-12-01T00:00:00Z"),
    ] {
        let (ok, printed) = export(&data, from, to, &out);
        assert!(!ok, "{from}..{to}: {printed}");
    }
    assert!(!out.exists(), "nothing written for a refused range");
}
