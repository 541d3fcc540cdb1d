//! Multi-Region keys through the real server and the real aws-sdk-kms client, one client
//! per Region: `mrk-` ids, ReplicateKey, ciphertext of one Region decrypted in another,
//! shared rotation, UpdatePrimaryRegion, and AWS's deletion order (PendingReplicaDeletion).

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    KeySpec, KeyState, KeyUsageType, MultiRegionKeyType, SigningAlgorithmSpec, Tag,
};
use common::{client, error_code, InProcess};

fn in_region(s: &InProcess, region: &str) -> aws_sdk_kms::Client {
    client(
        &s.endpoint,
        region,
        &s.credentials.access_key_id,
        &s.credentials.secret_access_key,
    )
}

/// A key policy can tell multi-Region keys from single-Region ones, and a primary from its
/// replicas, on every operation on them (`kms:MultiRegion`, `kms:MultiRegionKeyType`). (Before,
/// `kms:MultiRegion` was `false` for every existing key and the key type was unset.)
#[tokio::test]
async fn key_policies_see_whether_a_key_is_multi_region_and_which_member_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let s = InProcess::start(&dir.path().join("data")).await;
    let east = in_region(&s, "us-east-1");
    let west = in_region(&s, "eu-west-1");
    let policy = common::root_policy_denying(
        &s.credentials.account_id,
        &[
            (
                "no-mrk-encrypt",
                "kms:Encrypt",
                serde_json::json!({"Bool": {"kms:MultiRegion": "true"}}),
            ),
            (
                "no-replica-data-keys",
                "kms:GenerateDataKey",
                serde_json::json!({"StringEquals": {"kms:MultiRegionKeyType": "REPLICA"}}),
            ),
        ],
    );
    let create = |multi_region: bool| {
        east.create_key()
            .multi_region(multi_region)
            .policy(policy.clone())
            .send()
    };
    let single = create(false).await.unwrap().key_metadata.unwrap().key_id;
    let mrk = create(true).await.unwrap().key_metadata.unwrap().key_id;
    let replica = east
        .replicate_key()
        .key_id(&mrk)
        .replica_region("eu-west-1")
        .policy(policy.clone())
        .send()
        .await
        .unwrap()
        .replica_key_metadata
        .unwrap()
        .arn
        .unwrap();
    let encrypt = |kms: &aws_sdk_kms::Client, key: &str| {
        kms.encrypt()
            .key_id(key)
            .plaintext(Blob::new(b"where am I".to_vec()))
            .send()
    };
    assert!(encrypt(&east, &single).await.is_ok());
    assert_eq!(
        error_code(encrypt(&east, &mrk).await),
        "AccessDeniedException"
    );
    let data_key = |kms: &aws_sdk_kms::Client, key: &str| {
        kms.generate_data_key()
            .key_id(key)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
            .send()
    };
    assert!(data_key(&east, &mrk).await.is_ok(), "the primary may");
    assert_eq!(
        error_code(data_key(&west, &replica).await),
        "AccessDeniedException"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_replica_decrypts_what_its_primary_encrypted_and_rotates_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = InProcess::start(&dir.path().join("data")).await;
    let east = in_region(&s, "us-east-1");
    let west = in_region(&s, "eu-west-1");
    let primary = east
        .create_key()
        .multi_region(true)
        .description("primary")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let id = primary.key_id.clone();
    assert!(id.starts_with("mrk-") && id.len() == 36, "{id}");
    assert!(primary.multi_region().unwrap());
    let config = primary.multi_region_configuration().unwrap();
    assert_eq!(
        config.multi_region_key_type(),
        Some(&MultiRegionKeyType::Primary)
    );
    assert!(config.replica_keys().is_empty());
    assert_eq!(
        primary.arn().unwrap(),
        format!(
            "arn:aws:kms:us-east-1:{}:key/{id}",
            s.credentials.account_id
        )
    );

    let blob = east
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"made in us-east-1".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    // No replica yet: the id names nothing in eu-west-1.
    assert_eq!(
        error_code(west.describe_key().key_id(&id).send().await),
        "NotFoundException"
    );

    let replicated = east
        .replicate_key()
        .key_id(&id)
        .replica_region("eu-west-1")
        .description("replica")
        .tags(
            Tag::builder()
                .tag_key("site")
                .tag_value("dublin")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let replica = replicated.replica_key_metadata.clone().unwrap();
    assert_eq!(replica.key_id, id, "a replica shares its primary's id");
    assert_eq!(replica.description(), Some("replica"));
    assert_eq!(
        replica.arn().unwrap(),
        format!(
            "arn:aws:kms:eu-west-1:{}:key/{id}",
            s.credentials.account_id
        )
    );
    assert_eq!(replica.key_state(), Some(&KeyState::Enabled));
    assert_eq!(replicated.replica_tags().len(), 1);
    let config = replica.multi_region_configuration().unwrap();
    assert_eq!(
        config.multi_region_key_type(),
        Some(&MultiRegionKeyType::Replica)
    );
    assert_eq!(config.primary_key().unwrap().region(), Some("us-east-1"));
    assert_eq!(config.replica_keys()[0].region(), Some("eu-west-1"));
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id(&id)
                .replica_region("eu-west-1")
                .send()
                .await
        ),
        "AlreadyExistsException"
    );
    // The primary's own description and tags are its own.
    let described = east.describe_key().key_id(&id).send().await.unwrap();
    let primary_now = described.key_metadata.unwrap();
    assert_eq!(primary_now.description(), Some("primary"));
    assert_eq!(
        primary_now
            .multi_region_configuration()
            .unwrap()
            .replica_keys()
            .len(),
        1
    );

    // Ciphertext of us-east-1 decrypts in eu-west-1, and the other way round.
    let decrypted = west
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        decrypted.plaintext().unwrap().as_ref(),
        b"made in us-east-1"
    );
    assert!(decrypted.key_id().unwrap().contains(":eu-west-1:"));
    let back = west
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"made in eu-west-1".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let decrypted = east.decrypt().ciphertext_blob(back).send().await.unwrap();
    assert_eq!(
        decrypted.plaintext().unwrap().as_ref(),
        b"made in eu-west-1"
    );

    // The usage models name a multi-Region key by its shared id: its last use (in any
    // Region) is what GetKeyLastUsage answers for each member.
    let usage = west.get_key_last_usage().key_id(&id).send().await.unwrap();
    assert!(
        usage.key_last_usage().and_then(|u| u.operation()).is_some(),
        "{usage:?}"
    );

    // Rotation is the primary's, and the replica follows it.
    assert_eq!(
        error_code(west.rotate_key_on_demand().key_id(&id).send().await),
        "UnsupportedOperationException"
    );
    east.rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    let rotated = east
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"after rotation".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let decrypted = west
        .decrypt()
        .ciphertext_blob(rotated)
        .send()
        .await
        .unwrap();
    assert_eq!(decrypted.plaintext().unwrap().as_ref(), b"after rotation");
    let rotations = west
        .list_key_rotations()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .rotations
        .unwrap_or_default();
    assert_eq!(rotations.len(), 1);
    // A replica made after a rotation has every version.
    let third = east
        .replicate_key()
        .key_id(&id)
        .replica_region("ap-southeast-2")
        .send()
        .await
        .unwrap();
    assert!(third.replica_key_metadata().unwrap().enabled());
    let sydney = in_region(&s, "ap-southeast-2");
    let decrypted = sydney.decrypt().ciphertext_blob(blob).send().await.unwrap();
    assert_eq!(
        decrypted.plaintext().unwrap().as_ref(),
        b"made in us-east-1"
    );

    // A single-Region key cannot be replicated, a replica neither.
    let single = east
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id(&single.key_id)
                .replica_region("eu-west-1")
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(
            west.replicate_key()
                .key_id(&id)
                .replica_region("eu-central-1")
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id(&id)
                .replica_region("not a region")
                .send()
                .await
        ),
        "ValidationException"
    );
    common::check_schemas(&dir.path().join("data")).await;
    // Optimistic concurrency: each ReplicateKey also appends to the primary's stream (in the
    // replica's batch), so a concurrent rotation or replication of the primary conflicts
    // instead of leaving a replica without a version or two replicas in one Region.
    let events = common::stored_events(&dir.path().join("data")).await;
    let primary_stream = events
        .iter()
        .find(|e| e["event_type"] == "KeyCreated" && e["body"]["multi_region"]["primary"] == true)
        .unwrap()["stream"]
        .clone();
    let replicated: Vec<_> = events
        .iter()
        .filter(|e| e["event_type"] == "KeyReplicated")
        .collect();
    assert_eq!(replicated.len(), 2, "eu-west-1 and ap-southeast-2");
    for e in replicated {
        assert_eq!(e["stream"], primary_stream);
        let replica_created = events
            .iter()
            .find(|c| {
                c["event_type"] == "KeyCreated"
                    && c["body"]["key_id"] == e["body"]["replica_key_id"]
            })
            .unwrap();
        assert_eq!(replica_created["request_id"], e["request_id"], "one batch");
    }
    s.stop().await;
}

#[tokio::test]
async fn asymmetric_multi_region_keys_sign_in_one_region_and_verify_in_another() {
    let dir = tempfile::tempdir().unwrap();
    let s = InProcess::start(&dir.path().join("data")).await;
    let east = in_region(&s, "us-east-1");
    let west = in_region(&s, "us-west-2");
    let id = east
        .create_key()
        .multi_region(true)
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    east.replicate_key()
        .key_id(&id)
        .replica_region("us-west-2")
        .send()
        .await
        .unwrap();
    let public = |c: aws_sdk_kms::Client| {
        let id = id.clone();
        async move {
            c.get_public_key()
                .key_id(&id)
                .send()
                .await
                .unwrap()
                .public_key
                .unwrap()
                .into_inner()
        }
    };
    assert_eq!(public(east.clone()).await, public(west.clone()).await);
    let signature = east
        .sign()
        .key_id(&id)
        .message(Blob::new(b"signed east".to_vec()))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap()
        .signature
        .unwrap();
    let verified = west
        .verify()
        .key_id(&id)
        .message(Blob::new(b"signed east".to_vec()))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .signature(signature)
        .send()
        .await
        .unwrap();
    assert!(verified.signature_valid());
    s.stop().await;
}

#[tokio::test]
async fn the_primary_moves_and_waits_for_its_replicas_to_be_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let s = InProcess::start(&dir.path().join("data")).await;
    let east = in_region(&s, "us-east-1");
    let west = in_region(&s, "eu-west-1");
    let id = east
        .create_key()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    east.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    east.replicate_key()
        .key_id(&id)
        .replica_region("eu-west-1")
        .send()
        .await
        .unwrap();

    // eu-west-1 becomes the primary; us-east-1 a replica.
    east.update_primary_region()
        .key_id(&id)
        .primary_region("eu-west-1")
        .send()
        .await
        .unwrap();
    let kind = |c: aws_sdk_kms::Client| {
        let id = id.clone();
        async move {
            c.describe_key()
                .key_id(&id)
                .send()
                .await
                .unwrap()
                .key_metadata
                .unwrap()
                .multi_region_configuration
                .unwrap()
        }
    };
    let west_config = kind(west.clone()).await;
    assert_eq!(
        west_config.multi_region_key_type(),
        Some(&MultiRegionKeyType::Primary)
    );
    assert_eq!(
        west_config.primary_key().unwrap().region(),
        Some("eu-west-1")
    );
    let east_config = kind(east.clone()).await;
    assert_eq!(
        east_config.multi_region_key_type(),
        Some(&MultiRegionKeyType::Replica)
    );
    assert_eq!(
        error_code(
            east.update_primary_region()
                .key_id(&id)
                .primary_region("us-east-1")
                .send()
                .await
        ),
        "UnsupportedOperationException",
        "only the primary moves the primary"
    );

    // The new primary took the rotation over; the scheduler rotates it (and its replica).
    let rotation = west
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(rotation.key_rotation_enabled(), "moved with the primary");
    let replica_view = east
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(
        replica_view.key_rotation_enabled(),
        "a replica shows its primary's"
    );
    assert_eq!(
        error_code(east.disable_key_rotation().key_id(&id).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        s.advance(time::Duration::days(91)).await,
        1,
        "one rotation, no errors"
    );
    for c in [&west, &east] {
        let rotations = c
            .list_key_rotations()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .rotations
            .unwrap_or_default();
        assert_eq!(rotations.len(), 1);
    }

    // The primary (now eu-west-1) waits for its replica.
    let scheduled = west
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(
        scheduled.key_state(),
        Some(&KeyState::PendingReplicaDeletion)
    );
    assert!(scheduled.deletion_date().is_none());
    let metadata = west
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        metadata.key_state(),
        Some(&KeyState::PendingReplicaDeletion)
    );
    assert_eq!(metadata.pending_deletion_window_in_days(), Some(7));
    assert!(metadata.deletion_date().is_none());
    assert_eq!(
        error_code(
            west.encrypt()
                .key_id(&id)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );
    // Time passes: nothing happens to the primary while its replica lives.
    s.advance(time::Duration::days(10)).await;
    assert_eq!(
        west.describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_state(),
        Some(&KeyState::PendingReplicaDeletion)
    );
    // The replica goes after its own window; then the primary's window starts.
    east.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    s.advance(time::Duration::days(8)).await;
    assert_eq!(
        error_code(east.describe_key().key_id(&id).send().await),
        "NotFoundException"
    );
    s.advance(time::Duration::seconds(2)).await;
    let metadata = west
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(metadata.key_state(), Some(&KeyState::PendingDeletion));
    assert!(metadata.deletion_date().is_some());
    s.advance(time::Duration::days(8)).await;
    assert_eq!(
        error_code(west.describe_key().key_id(&id).send().await),
        "NotFoundException"
    );
    let records = common::trail(&dir.path().join("data")).await;
    assert!(records
        .iter()
        .any(|r| r["eventName"] == "UpdatePrimaryRegion" && r["errorCode"].is_null()));
    common::check_schemas(&dir.path().join("data")).await;
    s.stop().await;
}

#[tokio::test]
async fn another_account_cannot_replicate_a_key_even_when_its_policy_allows() {
    let root = tempfile::tempdir().unwrap();
    let server = common::Server::start(&root.path().join("data")).await;
    let owner = &server.client;
    let other = common::create_account(&server, root.path(), "210987654321");
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "owner", "Effect": "Allow",
             "Principal": {"AWS": format!("arn:aws:iam::{}:root", server.credentials.account_id)},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "shared", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
             "Action": "kms:*", "Resource": "*"},
        ],
    });
    let key = owner
        .create_key()
        .multi_region(true)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let theirs = client(
        &server.endpoint,
        "us-east-1",
        &other.access_key_id,
        &other.secret_access_key,
    );
    // The policy lets them use it (so what follows is no policy refusal) ...
    theirs
        .describe_key()
        .key_id(key.arn().unwrap())
        .send()
        .await
        .unwrap();
    // ... but a replica is the owner's to make, in the owner's account.
    assert_eq!(
        error_code(
            theirs
                .replicate_key()
                .key_id(key.arn().unwrap())
                .replica_region("eu-west-1")
                .send()
                .await
        ),
        "AccessDeniedException"
    );
    assert_eq!(
        error_code(
            theirs
                .update_primary_region()
                .key_id(key.arn().unwrap())
                .primary_region("eu-west-1")
                .send()
                .await
        ),
        "AccessDeniedException"
    );
    owner
        .replicate_key()
        .key_id(&key.key_id)
        .replica_region("eu-west-1")
        .send()
        .await
        .expect("the Region is still free for the owner's replica");
    server.stop();
}
