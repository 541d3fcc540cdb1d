//! Property tests over the edge parsers, with inputs shaped like the real ones (the fuzz
//! targets start from bytes; these start near the grammar, where the interesting cases are).
//! Each property runs the same check as the fuzz target (`keyledger::fuzzing`), plus what
//! can be said of the generated input in particular.

use keyledger::crypto::ciphertext;
use keyledger::domain::policy::{Policy, PolicyKind};
use keyledger::fuzzing;
use keyledger::http::sigv4;
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

/// A JSON value of a few levels, strings drawn from member names and odd characters.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (-1e6f64..1e6).prop_map(serde_json::Value::from),
        "[a-zA-Z0-9+/=é\\\\\"\u{0}-\u{1f}]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(member_name(), inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "KeyId",
            "Plaintext",
            "CiphertextBlob",
            "EncryptionContext",
            "GrantTokens",
            "NumberOfBytes",
            "KeySpec",
            "Limit",
            "Marker",
            "Tags",
            "TagKey",
            "Recipient",
            "DryRun",
            "DryRunModifiers",
            "SourceEncryptionContext",
            "DestinationKeyId",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z]{1,8}",
    ]
}

/// A request body: an object of known members with values of any type.
fn request_body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::btree_map(member_name(), json_value(), 0..6).prop_map(|members| {
        serde_json::Value::Object(members.into_iter().collect())
            .to_string()
            .into_bytes()
    })
}

fn policy_document() -> impl Strategy<Value = String> {
    let principal = prop_oneof![
        Just(serde_json::json!("*")),
        Just(serde_json::json!({"AWS": "arn:aws:iam::111122223333:root"})),
        Just(serde_json::json!({"AWS": ["111122223333", "arn:aws:iam::444455556666:role/admin"]})),
        Just(serde_json::json!({"Service": "kms.amazonaws.com"})),
        Just(serde_json::json!({"AWS": "arn:aws:sts::444455556666:assumed-role/admin/s"})),
    ];
    let action = prop::sample::select(vec![
        "kms:*",
        "kms:Encrypt",
        "kms:Create*",
        "kms:?ncrypt",
        "sts:AssumeRole",
        "iam:CreateUser",
        "*",
    ]);
    let resource = prop::sample::select(vec![
        "*",
        "arn:aws:kms:us-east-1:111122223333:key/*",
        "arn:aws:kms:*:*:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:${aws:PrincipalAccount}:key/*",
    ]);
    let operator = prop::sample::select(vec![
        "StringEquals",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "ForAnyValue:StringEquals",
        "ForAllValues:StringLike",
        "StringEqualsIfExists",
        "IpAddress",
        "NotIpAddress",
        "Bool",
        "Null",
        "NumericLessThan",
        "DateGreaterThan",
        "ArnLike",
        "BinaryEquals",
    ]);
    let condition_key = prop::sample::select(vec![
        "kms:CallerAccount",
        "kms:EncryptionContext:Dept",
        "kms:EncryptionContextKeys",
        "aws:SourceIp",
        "aws:CurrentTime",
        "aws:SecureTransport",
        "aws:PrincipalArn",
        "kms:GrantIsForAWSResource",
    ]);
    let value = prop::sample::select(vec![
        "Finance",
        "111122223333",
        "10.0.0.0/8",
        "::1/128",
        "true",
        "2026-12-03T06:00:00Z",
        "1700000000",
        "arn:aws:iam::*:role/*",
        "aGVsbG8=",
        "F*",
        "5",
    ]);
    let condition = prop::collection::btree_map(
        operator,
        prop::collection::btree_map(condition_key, prop::collection::vec(value, 1..3), 1..3),
        0..3,
    );
    let statement = (
        prop::sample::select(vec!["Allow", "Deny"]),
        prop::option::of(principal),
        any::<bool>(),
        prop::collection::vec(action, 1..3),
        any::<bool>(),
        prop::option::of(prop::collection::vec(resource, 1..3)),
        condition,
        prop::option::of("[a-zA-Z0-9]{0,6}"),
    )
        .prop_map(
            |(effect, principal, not_principal, actions, not_action, resources, condition, sid)| {
                let mut s = serde_json::Map::new();
                s.insert("Effect".into(), effect.into());
                if let Some(p) = principal {
                    let name = if not_principal {
                        "NotPrincipal"
                    } else {
                        "Principal"
                    };
                    s.insert(name.into(), p);
                }
                let name = if not_action { "NotAction" } else { "Action" };
                s.insert(name.into(), serde_json::json!(actions));
                if let Some(r) = resources {
                    s.insert("Resource".into(), serde_json::json!(r));
                }
                if !condition.is_empty() {
                    s.insert("Condition".into(), serde_json::json!(condition));
                }
                if let Some(sid) = sid {
                    s.insert("Sid".into(), sid.into());
                }
                serde_json::Value::Object(s)
            },
        );
    (
        prop::sample::select(vec![None, Some("2012-10-17"), Some("2008-10-17")]),
        prop::collection::vec(statement, 1..4),
        any::<bool>(),
    )
        .prop_map(|(version, statements, pretty)| {
            let mut doc = serde_json::Map::new();
            if let Some(v) = version {
                doc.insert("Version".into(), v.into());
            }
            doc.insert("Statement".into(), serde_json::json!(statements));
            let doc = serde_json::Value::Object(doc);
            if pretty {
                serde_json::to_string_pretty(&doc).expect("a Value serialises")
            } else {
                doc.to_string()
            }
        })
}

fn ows() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", " ", "\t", "  "])
}

/// An `Authorization` header from plausible and odd components, in any order and spacing.
fn authorization_header() -> impl Strategy<Value = String> {
    let credential = (
        "[A-Z0-9]{0,20}",
        "[0-9]{8}|[0-9]{7}|2026120a",
        "[a-z]{2}-[a-z]{4}-[0-9]|",
        "kms|iam|sts|",
        prop::sample::select(vec!["aws4_request", "aws4_request/x", "aws4"]),
    )
        .prop_map(|(akid, date, region, service, end)| {
            format!("Credential={akid}/{date}/{region}/{service}/{end}")
        });
    let signed = prop::collection::vec(
        prop::sample::select(vec![
            "host",
            "x-amz-date",
            "content-type",
            "Host",
            "",
            "a b",
        ]),
        0..4,
    )
    .prop_map(|names| format!("SignedHeaders={}", names.join(";")));
    let signature = "[0-9a-fA-F]{62,66}".prop_map(|hex| format!("Signature={hex}"));
    (
        prop::sample::select(vec![
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA512",
            "aws4-hmac-sha256",
        ]),
        ows(),
        prop::collection::vec(
            prop_oneof![credential, signed, signature, Just("Extra=1".to_owned())],
            0..5,
        ),
        ows(),
    )
        .prop_map(|(algorithm, space, components, after)| {
            format!(
                "{algorithm} {space}{}",
                components.join(&format!(",{after}"))
            )
        })
}

fn raw_path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["", ".", "..", "a", "b.c", "%2F", "..a", "~", "é"]),
        0..8,
    )
    .prop_flat_map(|segments| {
        let joined = segments.join("/");
        prop::sample::select(vec![
            format!("/{joined}"),
            joined.clone(),
            format!("/{joined}/"),
        ])
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn request_bodies_decode_or_refuse_briefly(body in request_body()) {
        fuzzing::aws_json(&body);
    }

    #[test]
    fn request_bytes_decode_or_refuse_briefly(body in prop::collection::vec(any::<u8>(), 0..256)) {
        fuzzing::aws_json(&body);
    }

    #[test]
    fn ciphertext_headers_parse_stably(
        format in prop_oneof![Just(1u8), Just(2u8), any::<u8>()],
        rest in prop::collection::vec(any::<u8>(), 0..96),
    ) {
        let mut blob = vec![format];
        blob.extend_from_slice(&rest);
        fuzzing::ciphertext_blob(&blob);
        if let Ok(header) = ciphertext::parse_header(&blob) {
            // The header names the key id and version the blob carries after its format byte.
            prop_assert_eq!(&blob[1..17], header.key_id.as_bytes());
            prop_assert_eq!(&blob[17..21], &header.version.to_be_bytes());
        }
    }

    #[test]
    fn policies_parse_stably(document in policy_document()) {
        fuzzing::policy(document.as_bytes());
        // A statement list of objects with an Effect and an Action is refused only with a
        // message, never a panic, and a parsed one counts its statements.
        if let Ok(policy) = Policy::parse(&document, PolicyKind::Key) {
            let value: serde_json::Value = serde_json::from_str(&document).expect("JSON");
            prop_assert_eq!(policy.statement_count(), value["Statement"].as_array().map_or(1, Vec::len));
        }
    }

    #[test]
    fn policy_bytes_parse_or_refuse_briefly(document in prop::collection::vec(any::<u8>(), 0..256)) {
        fuzzing::policy(&document);
    }

    #[test]
    fn authorization_headers_round_trip(header in authorization_header()) {
        fuzzing::sigv4_headers(header.as_bytes());
    }

    #[test]
    fn amz_dates_round_trip(date in "[0-9]{8}T[0-9]{6}Z|[0-9T]{16}") {
        fuzzing::sigv4_headers(date.as_bytes());
        if let Ok(t) = sigv4::parse_amz_date(&date) {
            prop_assert_eq!(sigv4::format_amz_date(t), date);
        }
    }

    #[test]
    fn normalised_paths_are_fixed_points(path in raw_path()) {
        let normal = sigv4::normalize_path(&path).into_owned();
        prop_assert_eq!(sigv4::normalize_path(&normal).into_owned(), normal.clone());
        prop_assert!(normal.starts_with('/'));
        prop_assert!(!normal.contains("//"), "{} → {}", path, normal);
    }

    #[test]
    fn signed_requests_verify(
        path in raw_path(),
        query in "[a-zA-Z0-9=&%+ ]{0,20}",
        headers in prop::collection::vec(("[a-zA-Z][a-zA-Z0-9-]{0,8}", "[ -~]{0,16}"), 0..4),
        date in "20[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]Z",
    ) {
        // Authorization line (none), date, path, query, headers.
        let mut input = format!("\n{date}\n{path}\n{query}");
        for (name, value) in &headers {
            input.push_str(&format!("\n{name}:{value}"));
        }
        fuzzing::sigv4_headers(input.as_bytes());
    }

    #[test]
    fn events_round_trip(
        stream in prop::option::of("key/[a-z0-9-]{0,36}|alias/us-east-1/111122223333/alias/[a-z]{1,5}"),
        stream_version in prop::option::of(any::<u64>()),
        time in "20[0-9]{2}-0[1-9]-[0-2][1-9]T[01][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]0[0-9]:[0-5][0-9])",
        event_version in prop_oneof![Just(1u32), any::<u32>()],
        error_code in prop::option::of("[A-Za-z]{1,12}"),
        body in prop_oneof![
            Just(serde_json::json!({"event_type": "KeyDisabled", "body": {"key_id": "1234abcd-12ab-34cd-56ef-1234567890ab"}})),
            Just(serde_json::json!({"event_type": "KeyEnabled", "body": {"key_id": "not-a-key"}})),
            json_value().prop_map(|record| serde_json::json!({"event_type": "ApiCallRecorded", "body": record})),
        ],
    ) {
        let mut envelope = serde_json::json!({
            "event_id": "0192f0c6-8a4e-7c3a-9b1e-0123456789ab",
            "event_version": event_version,
            "time": time,
            "request_id": "r",
            "event_name": "Encrypt",
            "read_only": true,
        });
        let fields = envelope.as_object_mut().expect("an object");
        if let Some(stream) = stream {
            fields.insert("stream".into(), stream.into());
        }
        if let Some(v) = stream_version {
            fields.insert("stream_version".into(), v.into());
        }
        if let Some(code) = error_code {
            fields.insert("error_code".into(), code.into());
        }
        for (name, value) in body.as_object().expect("an object") {
            fields.insert(name.clone(), value.clone());
        }
        fuzzing::event(envelope.to_string().as_bytes());
    }
}
