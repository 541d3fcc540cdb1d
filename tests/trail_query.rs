//! The audit trail for auditors, black-box: `GET /v1/trail`, CloudTrail's LookupEvents (signed
//! with SigV4 service `cloudtrail` by the aws-sigv4 crate, as the AWS CLI and boto3 sign it),
//! and KMS's GetKeyLastUsage through the real aws-sdk-kms client. Every answer is checked
//! against the stored log itself, filtered and ordered by the test.

mod common;

use aws_sdk_kms::primitives::Blob;
use common::{signed_get, signed_json_post, Server, LOOKUP_EVENTS};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

/// A usage event as stored: position, time (ns) and CloudTrail record.
struct Stored {
    position: u64,
    time_ns: i64,
    record: Value,
}

/// The stored usage events passing `keep`, newest first by (time, position): what every
/// trail query must answer.
async fn expected(server: &Server, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
    timed(server, keep)
        .await
        .into_iter()
        .map(|s| s.record)
        .collect()
}

/// [`expected`] with each event's time.
async fn timed(server: &Server, keep: impl Fn(&Value) -> bool) -> Vec<Stored> {
    let mut events: Vec<Stored> = common::stored_events(&server.data_dir)
        .await
        .into_iter()
        .enumerate()
        .filter(|(_, e)| e["event_type"] == "ApiCallRecorded")
        .map(|(i, e)| Stored {
            position: i as u64 + 1,
            time_ns: time::OffsetDateTime::parse(e["time"].as_str().unwrap(), &Rfc3339)
                .unwrap()
                .unix_timestamp_nanos() as i64,
            record: e["body"].clone(),
        })
        .filter(|s| keep(&s.record))
        .collect();
    events.sort_by_key(|s| std::cmp::Reverse((s.time_ns, s.position)));
    events
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["eventID"].as_str().unwrap().to_owned())
        .collect()
}

fn names_key(record: &Value, key_id: &str) -> bool {
    record["resources"].as_array().is_some_and(|rs| {
        rs.iter()
            .any(|r| r["ARN"].as_str().unwrap().ends_with(key_id))
    })
}

async fn new_key(kms: &aws_sdk_kms::Client) -> (String, String) {
    let m = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    (m.key_id, m.arn.unwrap())
}

async fn encrypt(kms: &aws_sdk_kms::Client, key: &str) -> Result<(), String> {
    kms.encrypt()
        .key_id(key)
        .plaintext(Blob::new("trail"))
        .send()
        .await
        .map(|_| ())
        .map_err(common::sdk_code)
}

/// Some calls on two keys, one failing: (key a, key a's ARN, key b).
async fn workload(server: &Server) -> (String, String, String) {
    let kms = &server.client;
    let (a, a_arn) = new_key(kms).await;
    let (b, _) = new_key(kms).await;
    kms.create_alias()
        .alias_name("alias/trail-a")
        .target_key_id(&a)
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        encrypt(kms, &a).await.unwrap();
    }
    encrypt(kms, &b).await.unwrap();
    kms.disable_key().key_id(&b).send().await.unwrap();
    assert_eq!(encrypt(kms, &b).await, Err("DisabledException".into()));
    kms.describe_key().key_id(&a).send().await.unwrap();
    (a, a_arn, b)
}

/// Every page of `GET /v1/trail?<query>` with MaxResults=`page`, followed by NextToken.
async fn all_pages(server: &Server, query: &str, page: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/v1/trail?{query}&MaxResults={page}");
        if let Some(t) = &token {
            path.push_str(&format!("&NextToken={t}"));
        }
        let (status, body) = signed_get(&server.endpoint, &server.credentials, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let events = body["Events"].as_array().unwrap();
        assert!(events.len() <= page);
        out.extend(events.iter().cloned());
        match body["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_trail_answers_each_filter_newest_first_in_stable_pages() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data")).await;
    let (a, a_arn, b) = workload(&server).await;
    let admin_arn = {
        let trail = common::trail(&server.data_dir).await;
        trail[0]["userIdentity"]["arn"].as_str().unwrap().to_owned()
    };
    let akid = server.credentials.access_key_id.clone();
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };

    // Taken before any trail query, whose own records come after.
    let of_a = expected(&server, |r| names_key(r, &a)).await;
    assert!(
        of_a.len() >= 6,
        "CreateKey, CreateAlias, 3 Encrypt, DescribeKey"
    );
    let cases: Vec<(String, Vec<Value>)> = vec![
        // First: every later query is the admin's too (and so in its trail).
        (
            format!("Principal={}", enc(&admin_arn)),
            expected(&server, |r| r["userIdentity"]["arn"] == admin_arn.as_str()).await,
        ),
        (format!("KeyId={a}"), of_a.clone()),
        (format!("KeyId={}", enc(&a_arn)), of_a.clone()),
        ("KeyId=alias%2Ftrail-a".into(), of_a.clone()),
        (
            format!("KeyId={a}&EventName=Encrypt"),
            expected(&server, |r| names_key(r, &a) && r["eventName"] == "Encrypt").await,
        ),
        (
            "ErrorCode=DisabledException".into(),
            expected(&server, |r| r["errorCode"] == "DisabledException").await,
        ),
        (
            "ReadOnly=false".into(),
            expected(&server, |r| r["readOnly"] == false).await,
        ),
        (
            format!("Principal={akid}&KeyId={b}"),
            expected(&server, |r| {
                r["userIdentity"]["accessKeyId"] == akid.as_str() && names_key(r, &b)
            })
            .await,
        ),
        ("EventName=NoSuchCall".into(), vec![]),
    ];
    for (query, want) in &cases {
        let (status, body) = signed_get(
            &server.endpoint,
            &server.credentials,
            &format!("/v1/trail?{query}"),
        )
        .await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(
            ids(body["Events"].as_array().unwrap()),
            ids(want),
            "{query}"
        );
        assert!(body.get("NextToken").is_none(), "one page: {query}");
    }
    let some_filter_selected = cases.iter().filter(|(_, w)| !w.is_empty()).count();
    assert_eq!(some_filter_selected, cases.len() - 1);

    // A time range, bounds included: a's events from its second oldest to its second newest.
    let times: Vec<i64> = timed(&server, |r| names_key(r, &a))
        .await
        .iter()
        .map(|s| s.time_ns)
        .take(of_a.len())
        .collect();
    let rfc = |ns: i64| {
        time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
            .unwrap()
            .format(&Rfc3339)
            .unwrap()
    };
    let (start, end) = (times[times.len() - 2], times[1]);
    let (_, body) = signed_get(
        &server.endpoint,
        &server.credentials,
        &format!(
            "/v1/trail?KeyId={a}&StartTime={}&EndTime={}",
            enc(&rfc(start)),
            enc(&rfc(end))
        ),
    )
    .await;
    assert_eq!(
        ids(body["Events"].as_array().unwrap()),
        ids(&of_a[1..of_a.len() - 1]),
        "{body}"
    );
    let start_unix = start / 1_000_000_000;
    let (_, after_all) = signed_get(
        &server.endpoint,
        &server.credentials,
        &format!("/v1/trail?KeyId={a}&StartTime={}", start_unix + 3600),
    )
    .await;
    assert_eq!(after_all["Events"], json!([]), "nothing an hour later");

    // Pages of 2 give the same events in the same order, and events appended between pages
    // (including these queries' own records) never show up in them.
    let everything_before = expected(&server, |_| true).await;
    let paged = all_pages(&server, "", 2).await;
    assert_eq!(ids(&paged), ids(&everything_before));
    let paged_a = all_pages(&server, &format!("KeyId={a}"), 4).await;
    assert_eq!(ids(&paged_a), ids(&of_a));

    // The queries are on the record, read-only.
    let queries = expected(&server, |r| r["eventName"] == "ListTrailEvents").await;
    assert!(queries.len() > cases.len());
    assert!(queries.iter().all(|r| r["readOnly"] == true));

    // Bad input: AWS-shaped errors that say what is wrong.
    let (_, first) = signed_get(
        &server.endpoint,
        &server.credentials,
        "/v1/trail?MaxResults=1",
    )
    .await;
    let token = first["NextToken"].as_str().unwrap().to_owned();
    let bad: Vec<(String, &str, &str)> = vec![
        (
            "MaxResults=0".into(),
            "ValidationException",
            "greater than or equal to 1",
        ),
        (
            "MaxResults=1001".into(),
            "ValidationException",
            "less than or equal to 1000",
        ),
        ("MaxResults=ten".into(), "ValidationException", "number"),
        (
            "StartTime=yesterday".into(),
            "ValidationException",
            "RFC 3339",
        ),
        (
            "StartTime=20&EndTime=10".into(),
            "ValidationException",
            "after EndTime",
        ),
        (
            "ReadOnly=yes".into(),
            "ValidationException",
            "true or false",
        ),
        ("Colour=red".into(), "ValidationException", "Colour"),
        (
            "EventName=A&EventName=B".into(),
            "ValidationException",
            "more than once",
        ),
        (
            "NextToken=garbage".into(),
            "InvalidNextTokenException",
            "not valid",
        ),
        (
            format!("NextToken={token}&EventName=Encrypt"),
            "InvalidNextTokenException",
            "not valid",
        ),
        (
            "KeyId=alias%2Fnone".into(),
            "NotFoundException",
            "alias/none",
        ),
        ("KeyId=nonsense".into(), "NotFoundException", "nonsense"),
    ];
    for (query, code, says) in bad {
        let (status, body) = signed_get(
            &server.endpoint,
            &server.credentials,
            &format!("/v1/trail?{query}"),
        )
        .await;
        assert_eq!(
            (status, body["__type"].as_str()),
            (
                if code == "NotFoundException" {
                    404
                } else {
                    400
                },
                Some(code)
            ),
            "{query}: {body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{query}: {body}"
        );
    }
    // Unsigned: refused, and recorded like any failed call.
    let status = reqwest::get(format!("{}/v1/trail", server.endpoint))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
    server.stop();
}

async fn lookup(server: &Server, body: Value) -> (u16, Value) {
    signed_json_post(
        &server.endpoint,
        &server.credentials,
        &server.credentials.region,
        "cloudtrail",
        LOOKUP_EVENTS,
        &body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudtrail_lookup_events_answers_as_the_cloudtrail_api_does() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data")).await;
    let (a, a_arn, _) = workload(&server).await;
    let of_a = expected(&server, |r| names_key(r, &a)).await;

    // By ResourceName (a key id, its ARN or an alias): the key's events, shaped as CloudTrail's.
    for name in [a.as_str(), a_arn.as_str(), "alias/trail-a"] {
        let (status, body) = lookup(
            &server,
            json!({"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": name}]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let events = body["Events"].as_array().unwrap();
        let got: Vec<String> = events
            .iter()
            .map(|e| e["EventId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, ids(&of_a), "{name}");
    }
    let (_, body) = lookup(
        &server,
        json!({"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": a}], "MaxResults": 1}),
    )
    .await;
    let event = &body["Events"][0];
    let record: Value = serde_json::from_str(event["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(
        record, of_a[0],
        "CloudTrailEvent is the stored record, as a JSON string"
    );
    assert_eq!(event["EventId"], record["eventID"]);
    assert_eq!(event["EventName"], record["eventName"]);
    assert_eq!(event["EventSource"], "kms.amazonaws.com");
    assert_eq!(
        event["ReadOnly"],
        json!(record["readOnly"].as_bool().unwrap().to_string()),
        "a string, as CloudTrail's"
    );
    assert_eq!(
        event["AccessKeyId"].as_str(),
        Some(server.credentials.access_key_id.as_str())
    );
    assert_eq!(event["Username"], record["userIdentity"]["userName"]);
    assert_eq!(
        event["Resources"],
        json!([{"ResourceType": "AWS::KMS::Key", "ResourceName": a_arn}])
    );
    let event_time =
        time::OffsetDateTime::parse(record["eventTime"].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(
        event["EventTime"].as_i64(),
        Some(event_time.unix_timestamp()),
        "epoch seconds"
    );
    assert!(body["NextToken"].is_string(), "more than one event of a");

    // Each attribute key selects what the record says.
    let encrypts = expected(&server, |r| r["eventName"] == "Encrypt").await;
    let first_id = of_a[2]["eventID"].as_str().unwrap().to_owned();
    let attrs: Vec<(&str, String, Vec<Value>)> = vec![
        ("EventName", "Encrypt".into(), encrypts),
        ("EventId", first_id.clone(), vec![of_a[2].clone()]),
        (
            "ReadOnly",
            "false".into(),
            expected(&server, |r| r["readOnly"] == false).await,
        ),
        (
            "Username",
            of_a[0]["userIdentity"]["userName"].as_str().unwrap().into(),
            expected(&server, |_| true).await,
        ),
        (
            "AccessKeyId",
            server.credentials.access_key_id.clone(),
            expected(&server, |_| true).await,
        ),
        (
            "ResourceType",
            "AWS::KMS::Key".into(),
            expected(&server, |r| {
                r["resources"].as_array().is_some_and(|r| !r.is_empty())
            })
            .await,
        ),
        (
            "EventSource",
            "kms.amazonaws.com".into(),
            expected(&server, |_| true).await,
        ),
        ("EventSource", "s3.amazonaws.com".into(), vec![]),
        ("ResourceName", "arn:aws:s3:::bucket".into(), vec![]),
    ];
    // Taken before these lookups add their own records; pages fix the snapshot, so compare
    // with what existed when each first page was asked (all pages below).
    for (key, value, want) in attrs {
        let mut got = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = json!({"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}], "MaxResults": 3});
            if let Some(t) = &token {
                request["NextToken"] = t.clone().into();
            }
            let (status, body) = lookup(&server, request).await;
            assert_eq!(status, 200, "{key}={value}: {body}");
            got.extend(
                body["Events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["EventId"].as_str().unwrap().to_owned()),
            );
            match body["NextToken"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
        }
        let want = ids(&want);
        // Lookups made since `want` was taken are newer: they can only lead the list.
        assert!(got.ends_with(&want), "{key}={value}: {got:?} vs {want:?}");
        assert!(
            got[..got.len() - want.len()]
                .iter()
                .all(|id| !want.contains(id)),
            "{key}={value}"
        );
    }

    // Times are epoch seconds; an empty range is answered, an inverted one refused.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (_, body) = lookup(&server, json!({"StartTime": now + 3600})).await;
    assert_eq!(body["Events"], json!([]));
    let total = expected(&server, |_| true).await.len();
    let (_, body) = lookup(
        &server,
        json!({"StartTime": now - 3600, "EndTime": now + 3600, "MaxResults": 50}),
    )
    .await;
    assert_eq!(body["Events"].as_array().unwrap().len(), 50.min(total));

    // Errors as CloudTrail names them.
    let (_, first) = lookup(&server, json!({"MaxResults": 1})).await;
    let token = first["NextToken"].as_str().unwrap().to_owned();
    let bad = [
        (
            json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}, {"AttributeKey": "ReadOnly", "AttributeValue": "true"}]}),
            "InvalidLookupAttributesException",
        ),
        (
            json!({"LookupAttributes": [{"AttributeKey": "Colour", "AttributeValue": "red"}]}),
            "InvalidLookupAttributesException",
        ),
        (
            json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": ""}]}),
            "InvalidLookupAttributesException",
        ),
        (
            json!({"LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}]}),
            "InvalidLookupAttributesException",
        ),
        (
            json!({"StartTime": now, "EndTime": now - 10}),
            "InvalidTimeRangeException",
        ),
        (json!({"MaxResults": 51}), "InvalidMaxResultsException"),
        (json!({"MaxResults": 0}), "InvalidMaxResultsException"),
        (json!({"NextToken": "garbage"}), "InvalidNextTokenException"),
        (
            json!({"NextToken": token, "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}]}),
            "InvalidNextTokenException",
        ),
        (
            json!({"EventCategory": "gossip"}),
            "InvalidEventCategoryException",
        ),
        (json!({"StartTime": "soon"}), "SerializationException"),
    ];
    for (request, code) in bad {
        let (status, body) = lookup(&server, request.clone()).await;
        assert_eq!(
            (status, body["__type"].as_str()),
            (400, Some(code)),
            "{request}: {body}"
        );
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    let (_, body) = lookup(&server, json!({"EventCategory": "insight"})).await;
    assert_eq!(body["Events"], json!([]), "no Insights events are recorded");

    // Signed for KMS, or sent to KMS's target: refused.
    let (status, body) = signed_json_post(
        &server.endpoint,
        &server.credentials,
        &server.credentials.region,
        "kms",
        LOOKUP_EVENTS,
        &json!({}),
    )
    .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("InvalidSignatureException")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("'cloudtrail'"));
    let (_, body) = signed_json_post(
        &server.endpoint,
        &server.credentials,
        &server.credentials.region,
        "kms",
        "TrentService.LookupEvents",
        &json!({}),
    )
    .await;
    assert_eq!(body["__type"], "UnknownOperationException", "{body}");
    let (_, body) = signed_json_post(
        &server.endpoint,
        &server.credentials,
        &server.credentials.region,
        "cloudtrail",
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DescribeTrails",
        &json!({}),
    )
    .await;
    assert_eq!(body["__type"], "UnknownOperationException", "{body}");

    // Another region's trail is its own: nothing of us-east-1's shows in eu-west-1.
    let (status, body) = signed_json_post(
        &server.endpoint,
        &server.credentials,
        "eu-west-1",
        "cloudtrail",
        LOOKUP_EVENTS,
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Events"], json!([]), "{body}");

    // The lookups are recorded.
    let lookups = expected(&server, |r| r["eventName"] == "LookupEvents").await;
    let refused = lookups
        .iter()
        .find(|r| r["errorCode"] == "InvalidTimeRangeException")
        .unwrap();
    assert_eq!(refused["readOnly"], true);
    // (A call refused before it is authenticated is recorded as not read-only, as any call.)
    assert!(lookups
        .iter()
        .filter(|r| r["errorCode"].is_null())
        .all(|r| r["readOnly"] == true));
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_key_last_usage_names_the_last_successful_cryptographic_call() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data")).await;
    let kms = &server.client;
    let (a, a_arn) = new_key(kms).await;
    let created = kms
        .describe_key()
        .key_id(&a)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .creation_date
        .unwrap();

    let unused = kms.get_key_last_usage().key_id(&a).send().await.unwrap();
    assert_eq!(unused.key_id(), Some(a.as_str()));
    assert_eq!(unused.key_creation_date(), Some(&created));
    let tracking = *unused.tracking_start_date().unwrap();
    assert!(
        tracking <= created,
        "the ledger recorded before the key existed"
    );
    assert!(unused
        .key_last_usage()
        .is_none_or(|u| u.operation().is_none() && u.cloud_trail_event_id().is_none()));

    let out = kms
        .encrypt()
        .key_id(&a)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap();
    let blob = out.ciphertext_blob.unwrap();
    let decrypted = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
    let decrypt_request = out_request_id(&decrypted);
    // A failed call and a non-cryptographic one change nothing.
    kms.describe_key().key_id(&a).send().await.unwrap();
    kms.disable_key().key_id(&a).send().await.unwrap();
    assert!(encrypt(kms, &a).await.is_err());

    let used = kms
        .get_key_last_usage()
        .key_id(&a_arn)
        .send()
        .await
        .unwrap();
    let usage = used.key_last_usage().unwrap();
    assert_eq!(usage.operation().map(|o| o.as_str()), Some("Decrypt"));
    let decrypts = expected(&server, |r| {
        r["eventName"] == "Decrypt" && r["errorCode"].is_null()
    })
    .await;
    assert_eq!(
        usage.cloud_trail_event_id(),
        decrypts[0]["eventID"].as_str()
    );
    assert_eq!(usage.kms_request_id(), Some(decrypt_request.as_str()));
    assert_eq!(usage.kms_request_id(), decrypts[0]["requestID"].as_str());
    let at =
        time::OffsetDateTime::parse(decrypts[0]["eventTime"].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(usage.timestamp().unwrap().secs(), at.unix_timestamp());

    // Aliases are not accepted (as AWS), unknown keys are not found.
    let code = common::error_code(kms.get_key_last_usage().key_id("alias/none").send().await);
    assert_eq!(code, "NotFoundException");
    let code = common::error_code(
        kms.get_key_last_usage()
            .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
            .send()
            .await,
    );
    assert_eq!(code, "NotFoundException");
    let calls = expected(&server, |r| r["eventName"] == "GetKeyLastUsage").await;
    assert_eq!(calls.len(), 4);
    assert!(calls.iter().all(|r| r["readOnly"] == true));
    assert!(names_key(&calls[2], &a), "recorded against the key");
    server.stop();
}

fn out_request_id(out: &impl aws_sdk_kms::operation::RequestId) -> String {
    out.request_id().unwrap().to_owned()
}
