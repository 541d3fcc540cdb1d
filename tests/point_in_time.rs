//! What the ledger makes possible: a key as it was at any time or position,
//! its lifecycle history, and projections that replay to the same state.

mod common;

use aws_sdk_kms::types::Tag;
use common::{signed_get, trail, InProcess};
use keyledger::app::Clock;
use time::format_description::well_known::Rfc3339;
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_as_it_was_and_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let s = InProcess::start(&dir.path().join("data")).await;
    let kms = &s.client;
    let first_policy = common::root_policy(&s.credentials.account_id, "first");
    let first_policy = first_policy.as_str();
    let second_policy = common::root_policy(&s.credentials.account_id, "second");
    let second_policy = second_policy.as_str();
    let before_key = s.clock.now() - Duration::hours(1);
    let key = kms
        .create_key()
        .policy(first_policy)
        .description("v1")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let (key_id, arn) = (key.key_id().to_owned(), key.arn().unwrap().to_owned());
    let march_3 = s.clock.now() + Duration::hours(12);
    s.clock.advance(Duration::days(1));
    kms.put_key_policy()
        .key_id(&key_id)
        .policy(second_policy)
        .send()
        .await
        .unwrap();
    kms.create_alias()
        .alias_name("alias/later")
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap();
    kms.tag_resource()
        .key_id(&key_id)
        .tags(Tag::builder().tag_key("t").tag_value("1").build().unwrap())
        .send()
        .await
        .unwrap();
    kms.update_key_description()
        .key_id(&key_id)
        .description("v2")
        .send()
        .await
        .unwrap();

    let at = |t: time::OffsetDateTime| {
        t.format(&Rfc3339)
            .unwrap()
            .replace(':', "%3A")
            .replace('+', "%2B")
    };
    let (status, then) = signed_get(
        &s.endpoint,
        &s.credentials,
        &format!("/v1/keys/{key_id}?as_of={}", at(march_3)),
    )
    .await;
    assert_eq!(status, 200, "{then}");
    assert_eq!(then["Policy"], first_policy);
    assert_eq!(then["KeyMetadata"]["Description"], "v1");
    assert_eq!(then["Aliases"], serde_json::json!([]));
    assert_eq!(then["Tags"], serde_json::json!([]));

    // Another key created later must not hide this one's history.
    kms.create_key().send().await.unwrap();
    let (_, now) = signed_get(&s.endpoint, &s.credentials, &format!("/v1/keys/{key_id}")).await;
    assert_eq!(now["Policy"], second_policy);
    assert_eq!(now["KeyMetadata"]["Description"], "v2");
    assert_eq!(now["Aliases"][0]["AliasName"], "alias/later");
    assert_eq!(now["Tags"][0]["TagKey"], "t");

    // History by ARN (percent-encoded), with positions; as_of a position replays to that point.
    let encoded = arn.replace(':', "%3A").replace('/', "%2F");
    let (status, history) = signed_get(
        &s.endpoint,
        &s.credentials,
        &format!("/v1/keys/{encoded}/history"),
    )
    .await;
    assert_eq!(status, 200, "{history}");
    let types: Vec<&str> = history["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["EventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "KeyCreated",
            "KeyPolicyPut",
            "AliasCreated",
            "KeyTagged",
            "KeyDescriptionUpdated"
        ]
    );
    assert!(
        history.to_string().find("sealed").is_none(),
        "no sealed material in the history"
    );
    let policy_put = history["Events"][1]["Position"].as_u64().unwrap();
    let (_, before_put) = signed_get(
        &s.endpoint,
        &s.credentials,
        &format!("/v1/keys/{key_id}?as_of={}", policy_put - 1),
    )
    .await;
    assert_eq!(before_put["Policy"], first_policy);
    let (_, at_put) = signed_get(
        &s.endpoint,
        &s.credentials,
        &format!("/v1/keys/{key_id}?as_of={policy_put}"),
    )
    .await;
    assert_eq!(at_put["Policy"], second_policy);

    let (status, missing) = signed_get(
        &s.endpoint,
        &s.credentials,
        &format!("/v1/keys/{key_id}?as_of={}", at(before_key)),
    )
    .await;
    assert_eq!(
        (status, missing["__type"].as_str()),
        (404, Some("NotFoundException"))
    );
    let (status, bad) = signed_get(
        &s.endpoint,
        &s.credentials,
        &format!("/v1/keys/{key_id}?as_of=yesterday"),
    )
    .await;
    assert_eq!(
        (status, bad["__type"].as_str()),
        (400, Some("ValidationException"))
    );

    let unsigned = reqwest::get(format!("{}/v1/keys/{key_id}", s.endpoint))
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);

    // The auditor's reads are in the trail too.
    let names: Vec<String> = trail(&s.data_dir)
        .await
        .iter()
        .map(|r| r["eventName"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.iter().filter(|n| *n == "GetKeyAsOf").count() >= 4);
    assert!(names.contains(&"ListKeyHistory".to_owned()));
    s.stop().await;
}

mod replay {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Create,
        Disable(usize),
        Enable(usize),
        Describe(usize, String),
        Tag(usize, u8),
        Untag(usize, u8),
        Policy(usize, u8),
        Rotation(usize, bool),
        Rotate(usize),
        Schedule(usize, u8),
        Cancel(usize),
        Alias(usize, u8),
        MoveAlias(usize, u8),
        DeleteAlias(u8),
        Wait(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        let k = 0..4usize;
        prop_oneof![
            Just(Step::Create),
            Just(Step::Create),
            k.clone().prop_map(Step::Disable),
            k.clone().prop_map(Step::Enable),
            (k.clone(), "[a-z]{0,8}").prop_map(|(k, d)| Step::Describe(k, d)),
            (k.clone(), 0..4u8).prop_map(|(k, t)| Step::Tag(k, t)),
            (k.clone(), 0..4u8).prop_map(|(k, t)| Step::Untag(k, t)),
            (k.clone(), 0..4u8).prop_map(|(k, p)| Step::Policy(k, p)),
            (k.clone(), any::<bool>()).prop_map(|(k, on)| Step::Rotation(k, on)),
            k.clone().prop_map(Step::Rotate),
            (k.clone(), 7..31u8).prop_map(|(k, d)| Step::Schedule(k, d)),
            k.clone().prop_map(Step::Cancel),
            (k.clone(), 0..3u8).prop_map(|(k, a)| Step::Alias(k, a)),
            (k.clone(), 0..3u8).prop_map(|(k, a)| Step::MoveAlias(k, a)),
            (0..3u8).prop_map(Step::DeleteAlias),
            (0..40u8).prop_map(Step::Wait),
        ]
    }

    /// Run the steps (failures are part of the game: they are recorded too), then rebuild
    /// the projection in a fresh process from the ledger alone and compare.
    async fn run(steps: Vec<Step>) {
        let dir = tempfile::tempdir().unwrap();
        let s = InProcess::start(&dir.path().join("data")).await;
        let kms = &s.client;
        let mut keys: Vec<String> = Vec::new();
        let pick = |keys: &Vec<String>, i: usize| keys.get(i % keys.len().max(1)).cloned();
        for step in steps {
            match step {
                Step::Create => keys.push(
                    kms.create_key()
                        .send()
                        .await
                        .unwrap()
                        .key_metadata
                        .unwrap()
                        .key_id,
                ),
                Step::Wait(days) => {
                    s.advance(Duration::days(i64::from(days))).await;
                }
                Step::DeleteAlias(a) => {
                    let _ = kms
                        .delete_alias()
                        .alias_name(format!("alias/a{a}"))
                        .send()
                        .await;
                }
                other => {
                    let index = match &other {
                        Step::Disable(k)
                        | Step::Enable(k)
                        | Step::Describe(k, _)
                        | Step::Tag(k, _)
                        | Step::Untag(k, _)
                        | Step::Policy(k, _)
                        | Step::Rotation(k, _)
                        | Step::Rotate(k)
                        | Step::Schedule(k, _)
                        | Step::Cancel(k)
                        | Step::Alias(k, _)
                        | Step::MoveAlias(k, _) => *k,
                        _ => 0,
                    };
                    let Some(key) = pick(&keys, index) else {
                        continue;
                    };
                    let _ = match other {
                        Step::Disable(_) => kms
                            .disable_key()
                            .key_id(&key)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::Enable(_) => kms
                            .enable_key()
                            .key_id(&key)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::Describe(_, d) => kms
                            .update_key_description()
                            .key_id(&key)
                            .description(d)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::Tag(_, t) => kms
                            .tag_resource()
                            .key_id(&key)
                            .tags(
                                Tag::builder()
                                    .tag_key(format!("t{t}"))
                                    .tag_value(format!("{t}"))
                                    .build()
                                    .unwrap(),
                            )
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::Untag(_, t) => kms
                            .untag_resource()
                            .key_id(&key)
                            .tag_keys(format!("t{t}"))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::Policy(_, p) => kms
                            .put_key_policy()
                            .key_id(&key)
                            .policy(format!("{{\"Version\":\"2012-10-17\",\"Id\":\"p{p}\"}}"))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::Rotation(_, true) => kms
                            .enable_key_rotation()
                            .key_id(&key)
                            .rotation_period_in_days(90)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::Rotation(_, false) => kms
                            .disable_key_rotation()
                            .key_id(&key)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::Rotate(_) => kms
                            .rotate_key_on_demand()
                            .key_id(&key)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::Schedule(_, d) => kms
                            .schedule_key_deletion()
                            .key_id(&key)
                            .pending_window_in_days(i32::from(d))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::Cancel(_) => kms
                            .cancel_key_deletion()
                            .key_id(&key)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::Alias(_, a) => kms
                            .create_alias()
                            .alias_name(format!("alias/a{a}"))
                            .target_key_id(&key)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        Step::MoveAlias(_, a) => kms
                            .update_alias()
                            .alias_name(format!("alias/a{a}"))
                            .target_key_id(&key)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|_| ()),
                        _ => Ok(()),
                    };
                }
            }
        }
        let live = s.service.projections.snapshot_json();
        s.stop().await;
        let out = std::process::Command::new(common::BIN)
            .args(["state", "--data-dir"])
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rebuilt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            rebuilt, live,
            "the projection rebuilt from the ledger differs from the live one"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        #[test]
        fn live_state_equals_state_rebuilt_from_the_ledger(steps in proptest::collection::vec(step(), 1..40)) {
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(run(steps));
        }
    }
}

/// Replay determinism for imported material and multi-Region keys: the projection rebuilt
/// from the ledger (`keyledger state`) is byte for byte the live one after imports, a
/// rotation into new imported material, a deletion, an expiry, replication, a shared
/// rotation, a primary move and a primary waiting for its replica.
#[tokio::test]
async fn imported_and_multi_region_keys_rebuild_to_the_live_projection() {
    use aws_sdk_kms::types::{ImportType, OriginType};
    let dir = tempfile::tempdir().unwrap();
    let s = InProcess::start(&dir.path().join("data")).await;
    let kms = &s.client;
    let external = kms
        .create_key()
        .origin(OriginType::External)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let (first, _) = common::import_material(kms, &external, &[1; 32]).await;
    let (token, wrapped) = {
        // New material for an on-demand rotation, wrapped as a client does.
        let params = kms
            .get_parameters_for_import()
            .key_id(&external)
            .wrapping_algorithm(aws_sdk_kms::types::AlgorithmSpec::RsaesOaepSha256)
            .wrapping_key_spec(aws_sdk_kms::types::WrappingKeySpec::Rsa2048)
            .send()
            .await
            .unwrap();
        use rsa::pkcs8::DecodePublicKey as _;
        let wrapped = rsa::RsaPublicKey::from_public_key_der(params.public_key().unwrap().as_ref())
            .unwrap()
            .encrypt(
                &mut rand::thread_rng(),
                rsa::Oaep::new::<rsa::sha2::Sha256>(),
                &[2; 32],
            )
            .unwrap();
        (params.import_token.unwrap(), wrapped)
    };
    kms.import_key_material()
        .key_id(&external)
        .import_token(token)
        .encrypted_key_material(aws_sdk_kms::primitives::Blob::new(wrapped))
        .expiration_model(aws_sdk_kms::types::ExpirationModelType::KeyMaterialDoesNotExpire)
        .import_type(ImportType::NewKeyMaterial)
        .send()
        .await
        .unwrap();
    kms.rotate_key_on_demand()
        .key_id(&external)
        .send()
        .await
        .unwrap();
    kms.delete_imported_key_material()
        .key_id(&external)
        .key_material_id(&first)
        .send()
        .await
        .unwrap();

    let mrk = kms
        .create_key()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    kms.enable_key_rotation().key_id(&mrk).send().await.unwrap();
    kms.replicate_key()
        .key_id(&mrk)
        .replica_region("eu-west-1")
        .send()
        .await
        .unwrap();
    kms.rotate_key_on_demand()
        .key_id(&mrk)
        .send()
        .await
        .unwrap();
    kms.update_primary_region()
        .key_id(&mrk)
        .primary_region("eu-west-1")
        .send()
        .await
        .unwrap();
    let west = common::client(
        &s.endpoint,
        "eu-west-1",
        &s.credentials.access_key_id,
        &s.credentials.secret_access_key,
    );
    west.schedule_key_deletion()
        .key_id(&mrk)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();

    let live = s.service.projections.snapshot_json();
    let text = live.to_string();
    assert!(
        text.contains("\"imported\":false"),
        "a deleted material is in the snapshot"
    );
    assert!(text.contains("PendingReplicaDeletion"));
    s.stop().await;
    let out = std::process::Command::new(common::BIN)
        .args(["state", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rebuilt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rebuilt, live,
        "the projection rebuilt from the ledger differs from the live one"
    );
}
