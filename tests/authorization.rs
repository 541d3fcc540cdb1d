//! Key policies, grants and denials, black-box: the real server, the real aws-sdk-kms client.
//! Nobody does what no policy or grant allows, and every denial is in the trail.

mod common;

use aws_sdk_kms::primitives::Blob;
use common::{error_code, Server};
use serde_json::json;

fn admin_arn(s: &Server) -> String {
    format!("arn:aws:iam::{}:user/admin", s.credentials.account_id)
}

fn root_arn(s: &Server) -> String {
    format!("arn:aws:iam::{}:root", s.credentials.account_id)
}

/// A key policy that names the admin directly for `actions`, and nothing else.
fn admin_only(s: &Server, actions: &[&str]) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AdminOnly",
            "Effect": "Allow",
            "Principal": {"AWS": admin_arn(s)},
            "Action": actions,
            "Resource": "*"
        }]
    })
    .to_string()
}

/// Stop the server and start it again on its data dir: every projection is rebuilt from
/// the log (replay determinism).
async fn restarted(s: Server) -> Server {
    let data_dir = s.data_dir.clone();
    s.stop();
    Server::start(&data_dir).await
}

async fn new_key(s: &Server) -> String {
    s.client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
        .clone()
}

async fn put_policy(s: &Server, key: &str, policy: &str, bypass: bool) -> Result<(), String> {
    s.client
        .put_key_policy()
        .key_id(key)
        .policy(policy)
        .bypass_policy_lockout_safety_check(bypass)
        .send()
        .await
        .map(drop)
        .map_err(|e| common::sdk_code(e))
}

async fn encrypt(s: &Server, key: &str, context: &[(&str, &str)]) -> Result<Blob, String> {
    let mut call = s
        .client
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(b"authorized?".to_vec()));
    for (k, v) in context {
        call = call.encryption_context(*k, *v);
    }
    call.send()
        .await
        .map(|r| r.ciphertext_blob.unwrap())
        .map_err(|e| common::sdk_code(e))
}

#[tokio::test]
async fn a_key_policy_that_denies_everything_is_enforced_and_every_denial_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data")).await;
    let key = new_key(&s).await;
    let blob = encrypt(&s, &key, &[])
        .await
        .expect("the default policy allows the admin");

    let deny_all = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": root_arn(&s)}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "NoOne", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}
        ]
    })
    .to_string();
    // The lockout check sees that the admin could never put a policy again.
    assert_eq!(
        put_policy(&s, &key, &deny_all, false).await,
        Err("MalformedPolicyDocumentException".into())
    );
    assert!(
        encrypt(&s, &key, &[]).await.is_ok(),
        "a refused policy changes nothing"
    );
    put_policy(&s, &key, &deny_all, true).await.unwrap();

    let denied = s
        .client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap_err();
    let message = denied
        .as_service_error()
        .and_then(|e| aws_sdk_kms::error::ProvideErrorMetadata::message(e))
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        denied
            .as_service_error()
            .and_then(aws_sdk_kms::error::ProvideErrorMetadata::code),
        Some("AccessDeniedException")
    );
    let key_arn = format!(
        "arn:aws:kms:{}:{}:key/{key}",
        s.credentials.region, s.credentials.account_id
    );
    assert_eq!(
        message,
        format!(
            "User: {} is not authorized to perform: kms:Encrypt on resource: {key_arn} with an explicit deny in a resource-based policy",
            admin_arn(&s)
        )
    );
    let decrypt = s.client.decrypt().ciphertext_blob(blob).send().await;
    assert_eq!(error_code(decrypt), "AccessDeniedException");
    let get_policy = s.client.get_key_policy().key_id(&key).send().await;
    assert_eq!(error_code(get_policy), "AccessDeniedException");
    assert_eq!(
        put_policy(&s, &key, &admin_only(&s, &["kms:*"]), true).await,
        Err("AccessDeniedException".into())
    );
    let describe = s.client.describe_key().key_id(&key).send().await;
    assert_eq!(error_code(describe), "AccessDeniedException");

    // Each denial is an event with AccessDenied, naming the key.
    let trail = common::trail(&s.data_dir).await;
    let denials: Vec<&str> = trail
        .iter()
        .filter(|r| r["errorCode"] == "AccessDenied" || r["errorCode"] == "AccessDeniedException")
        .filter(|r| r["resources"][0]["ARN"] == key_arn)
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        denials,
        [
            "Encrypt",
            "Decrypt",
            "GetKeyPolicy",
            "PutKeyPolicy",
            "DescribeKey"
        ]
    );
}

#[tokio::test]
async fn policy_documents_are_parsed_when_put() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data")).await;
    let key = new_key(&s).await;
    for (document, why) in [
        ("not json", "not JSON"),
        (r#"{"Statement": []}"#, "no statement"),
        (
            r#"{"Statement": [{"Effect": "Permit", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}"#,
            "an effect IAM does not know",
        ),
        (
            r#"{"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}"#,
            "a key policy statement without a principal",
        ),
        (
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"StringEqualz": {"kms:CallerAccount": "1"}}}]}"#,
            "an unknown condition operator",
        ),
    ] {
        assert_eq!(
            put_policy(&s, &key, document, true).await,
            Err("MalformedPolicyDocumentException".into()),
            "{why}"
        );
    }
    // On a key that does not exist, the key is looked for first.
    let missing = put_policy(&s, "11111111-2222-3333-4444-555555555555", "not json", true).await;
    assert_eq!(missing, Err("NotFoundException".into()));
    let create = s.client.create_key().policy("not json").send().await;
    assert_eq!(error_code(create), "MalformedPolicyDocumentException");
}

#[tokio::test]
async fn conditions_on_the_encryption_context_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data")).await;
    let key = new_key(&s).await;
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Manage", "Effect": "Allow", "Principal": {"AWS": admin_arn(&s)},
             "NotAction": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
            {"Sid": "FinanceOnly", "Effect": "Allow", "Principal": {"AWS": admin_arn(&s)},
             "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:EncryptionContext:Department": "Finance"}}}
        ]
    })
    .to_string();
    put_policy(&s, &key, &policy, false).await.unwrap();
    let blob = encrypt(&s, &key, &[("Department", "Finance")])
        .await
        .unwrap();
    assert_eq!(
        encrypt(&s, &key, &[("Department", "Sales")]).await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        encrypt(&s, &key, &[]).await,
        Err("AccessDeniedException".into())
    );
    let decrypted = s
        .client
        .decrypt()
        .ciphertext_blob(blob)
        .encryption_context("Department", "Finance")
        .send()
        .await
        .unwrap();
    assert_eq!(decrypted.plaintext.unwrap().as_ref(), b"authorized?");
}

#[tokio::test]
async fn a_grant_allows_what_the_key_policy_does_not_until_it_is_retired() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data")).await;
    let key = new_key(&s).await;
    let managing = [
        "kms:CreateGrant",
        "kms:ListGrants",
        "kms:RevokeGrant",
        "kms:PutKeyPolicy",
        "kms:DescribeKey",
    ];
    put_policy(&s, &key, &admin_only(&s, &managing), false)
        .await
        .unwrap();
    assert_eq!(
        encrypt(&s, &key, &[("app", "billing")]).await,
        Err("AccessDeniedException".into())
    );

    let grant = s
        .client
        .create_grant()
        .key_id(&key)
        .grantee_principal(admin_arn(&s))
        .operations(aws_sdk_kms::types::GrantOperation::Encrypt)
        .operations(aws_sdk_kms::types::GrantOperation::RetireGrant)
        .constraints(
            aws_sdk_kms::types::GrantConstraints::builder()
                .encryption_context_subset("app", "billing")
                .build(),
        )
        .name("billing-encrypt")
        .send()
        .await
        .unwrap();
    let grant_id = grant.grant_id.unwrap();
    let token = grant.grant_token.unwrap();
    assert_eq!(grant_id.len(), 64);

    // In force at once, within its constraint only.
    encrypt(&s, &key, &[("app", "billing"), ("extra", "ok")])
        .await
        .unwrap();
    assert_eq!(
        encrypt(&s, &key, &[("app", "payroll")]).await,
        Err("AccessDeniedException".into())
    );
    // With its token; a token keyledger never issued is refused.
    s.client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"x".to_vec()))
        .encryption_context("app", "billing")
        .grant_tokens(&token)
        .send()
        .await
        .unwrap();
    let forged = s
        .client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"x".to_vec()))
        .encryption_context("app", "billing")
        .grant_tokens("KLGT1bm90LWEtcmVhbC10b2tlbg")
        .send()
        .await;
    assert_eq!(error_code(forged), "InvalidGrantTokenException");

    // The same name and parameters: the same grant.
    let again = s
        .client
        .create_grant()
        .key_id(&key)
        .grantee_principal(admin_arn(&s))
        .operations(aws_sdk_kms::types::GrantOperation::Encrypt)
        .operations(aws_sdk_kms::types::GrantOperation::RetireGrant)
        .constraints(
            aws_sdk_kms::types::GrantConstraints::builder()
                .encryption_context_subset("app", "billing")
                .build(),
        )
        .name("billing-encrypt")
        .send()
        .await
        .unwrap();
    assert_eq!(again.grant_id.unwrap(), grant_id);

    // Rebuilt from the log, the grant is the same and still in force.
    let s = restarted(s).await;
    encrypt(&s, &key, &[("app", "billing")]).await.unwrap();
    assert_eq!(
        encrypt(&s, &key, &[("app", "payroll")]).await,
        Err("AccessDeniedException".into())
    );

    let listed = s.client.list_grants().key_id(&key).send().await.unwrap();
    let grants = listed.grants.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].grant_id.as_deref(), Some(grant_id.as_str()));
    assert_eq!(grants[0].name.as_deref(), Some("billing-encrypt"));
    assert_eq!(
        grants[0].issuing_account.as_deref(),
        Some(root_arn(&s).as_str())
    );

    // The grantee retires it by its token: the key policy alone decides again.
    s.client
        .retire_grant()
        .grant_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        encrypt(&s, &key, &[("app", "billing")]).await,
        Err("AccessDeniedException".into())
    );
    let listed = s.client.list_grants().key_id(&key).send().await.unwrap();
    assert!(listed.grants.unwrap().is_empty());
    let revoke = s
        .client
        .revoke_grant()
        .key_id(&key)
        .grant_id(&grant_id)
        .send()
        .await;
    assert_eq!(error_code(revoke), "InvalidGrantIdException");

    // The grant's life is on the key's stream.
    let events = common::stored_events(&s.data_dir).await;
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e["stream"] == format!("key/{key}"))
        .map(|e| e["event_type"].as_str().unwrap())
        .filter(|t| t.starts_with("Grant"))
        .collect();
    assert_eq!(kinds, ["GrantCreated", "GrantRetired"]);
    // Point-in-time reads see the grant while it was in force, and not after.
    let created_at = 1 + events
        .iter()
        .position(|e| e["event_type"] == "GrantCreated")
        .unwrap();
    let path = format!("/v1/keys/{key}?as_of={created_at}");
    let (status, then) = common::signed_get(&s.endpoint, &s.credentials, &path).await;
    assert_eq!(status, 200, "{then}");
    assert_eq!(then["Grants"][0]["GrantId"], grant_id.as_str());
    assert_eq!(
        then["Grants"][0]["Operations"],
        json!(["Encrypt", "RetireGrant"])
    );
    let (_, now) =
        common::signed_get(&s.endpoint, &s.credentials, &format!("/v1/keys/{key}")).await;
    assert_eq!(now["Grants"], json!([]));
}

#[tokio::test]
async fn an_aws_managed_key_is_created_on_first_use_of_its_alias_and_the_customer_cannot_manage_it()
{
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data")).await;
    let listed = s.client.list_aliases().send().await.unwrap();
    let s3 = listed
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some("alias/aws/s3"))
        .expect("alias/aws/s3 is listed before its key exists");
    assert_eq!(s3.target_key_id(), None);

    let described = s
        .client
        .describe_key()
        .key_id("alias/aws/s3")
        .send()
        .await
        .unwrap();
    let key = described.key_metadata.unwrap();
    assert_eq!(
        key.key_manager(),
        Some(&aws_sdk_kms::types::KeyManagerType::Aws)
    );
    assert_eq!(
        key.key_state(),
        Some(&aws_sdk_kms::types::KeyState::Enabled)
    );
    let key_id = key.key_id().to_owned();
    let again = s
        .client
        .describe_key()
        .key_id("alias/aws/s3")
        .send()
        .await
        .unwrap();
    assert_eq!(again.key_metadata.unwrap().key_id(), key_id, "created once");
    let listed = s.client.list_aliases().send().await.unwrap();
    let s3 = listed
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some("alias/aws/s3"))
        .unwrap();
    assert_eq!(s3.target_key_id(), Some(key_id.as_str()));
    let rotation = s
        .client
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    assert!(rotation.key_rotation_enabled());
    assert_eq!(rotation.rotation_period_in_days(), Some(365));

    // Used only through its service: a direct Encrypt is denied by its policy.
    assert_eq!(
        encrypt(&s, "alias/aws/s3", &[]).await,
        Err("AccessDeniedException".into())
    );
    // No customer management.
    assert!(put_policy(&s, &key_id, &admin_only(&s, &["kms:*"]), true)
        .await
        .is_err());
    let disable = s.client.disable_key_rotation().key_id(&key_id).send().await;
    assert_eq!(error_code(disable), "AccessDeniedException");
    let delete = s
        .client
        .schedule_key_deletion()
        .key_id(&key_id)
        .send()
        .await;
    assert_eq!(error_code(delete), "AccessDeniedException");
    let tag = s
        .client
        .tag_resource()
        .key_id(&key_id)
        .tags(
            aws_sdk_kms::types::Tag::builder()
                .tag_key("k")
                .tag_value("v")
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_eq!(error_code(tag), "AccessDeniedException");
    let delete_alias = s
        .client
        .delete_alias()
        .alias_name("alias/aws/s3")
        .send()
        .await;
    assert!(delete_alias.is_err());
    let unknown = s
        .client
        .describe_key()
        .key_id("alias/aws/not-a-service")
        .send()
        .await;
    assert_eq!(error_code(unknown), "NotFoundException");

    // Rebuilt from the log: the same key, not created again, still the service's.
    let s = restarted(s).await;
    let after = s
        .client
        .describe_key()
        .key_id("alias/aws/s3")
        .send()
        .await
        .unwrap();
    let after = after.key_metadata.unwrap();
    assert_eq!(after.key_id(), key_id);
    assert_eq!(
        after.key_manager(),
        Some(&aws_sdk_kms::types::KeyManagerType::Aws)
    );

    // The service's creation is its own event, recorded once.
    let trail = common::trail(&s.data_dir).await;
    let created: Vec<&serde_json::Value> = trail
        .iter()
        .filter(|r| r["eventName"] == "CreateKey" && r["eventType"] == "AwsServiceEvent")
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0]["responseElements"]["keyMetadata"]["KeyManager"],
        "AWS"
    );
}

// ---- Several principals, two accounts -------------------------------------------------

fn iam_client(endpoint: &str, region: &str, id: &str, secret: &str) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            id, secret, None, None, "test",
        ))
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

fn allow(actions: &[&str], resource: &str) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resource}
    ]})
}

fn denial_message<E, R>(
    result: Result<impl std::fmt::Debug, aws_sdk_kms::error::SdkError<E, R>>,
) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let e = result.expect_err("expected a denial");
    let service = e.as_service_error().expect("a service error");
    assert_eq!(service.code(), Some("AccessDeniedException"), "{service:?}");
    service.message().unwrap_or_default().to_owned()
}

async fn encrypt_with(kms: &aws_sdk_kms::Client, key: &str) -> Result<Blob, String> {
    kms.encrypt()
        .key_id(key)
        .plaintext(Blob::new(b"across accounts".to_vec()))
        .send()
        .await
        .map(|r| r.ciphertext_blob.unwrap())
        .map_err(common::sdk_code)
}

#[tokio::test]
async fn principals_and_accounts_get_what_their_policies_give_them_and_no_more() {
    let root = tempfile::tempdir().unwrap();
    let s = Server::start(&root.path().join("data")).await;
    let region = s.credentials.region.clone();
    let a = s.credentials.account_id.clone();
    let b = "210987654321";
    let iam_a = iam_client(
        &s.endpoint,
        &region,
        &s.credentials.access_key_id,
        &s.credentials.secret_access_key,
    );
    let b_file = root.path().join("b.json");
    let (ok, out) = common::command(
        &[
            "admin",
            "create-account",
            "--account-id",
            b,
            "--out",
            b_file.to_str().unwrap(),
            "--endpoint",
            &s.endpoint,
        ],
        &s.data_dir,
    );
    assert!(ok, "{out}");
    let b_root: common::AdminCredentials =
        serde_json::from_slice(&std::fs::read(&b_file).unwrap()).unwrap();
    let iam_b = iam_client(
        &s.endpoint,
        &region,
        &b_root.access_key_id,
        &b_root.secret_access_key,
    );
    let kms_b_root = s.client_for(&region, &b_root.access_key_id, &b_root.secret_access_key);

    let key = new_key(&s).await;
    let key_arn = format!("arn:aws:kms:{region}:{a}:key/{key}");
    let (alice, _) = common::iam_user(
        &s,
        &iam_a,
        "alice",
        Some(allow(&["kms:Encrypt", "kms:Decrypt"], "*")),
    )
    .await;
    let (bob, bob_credentials) = common::iam_user(&s, &iam_a, "bob", None).await;
    let (carol, _) =
        common::iam_user(&s, &iam_b, "carol", Some(allow(&["kms:Encrypt"], &key_arn))).await;
    let (dave, _) = common::iam_user(&s, &iam_b, "dave", None).await;

    // Same account: the default key policy delegates to identity policies.
    let blob = encrypt_with(&alice, &key).await.unwrap();
    assert_eq!(
        denial_message(alice.describe_key().key_id(&key).send().await),
        format!("User: arn:aws:iam::{a}:user/alice is not authorized to perform: kms:DescribeKey on resource: {key_arn} because no identity-based policy allows the kms:DescribeKey action")
    );
    assert_eq!(
        encrypt_with(&bob, &key).await,
        Err("AccessDeniedException".into())
    );
    // Identity policies alone never reach a key of another account.
    assert_eq!(
        denial_message(carol.encrypt().key_id(&key_arn).plaintext(Blob::new(b"x".to_vec())).send().await),
        format!("User: arn:aws:iam::{b}:user/carol is not authorized to perform: kms:Encrypt on resource: {key_arn} because no resource-based policy allows the kms:Encrypt action")
    );

    // The key policy lets account B in; then B's identity policies decide for its users.
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "A", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{a}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "B", "Effect": "Allow", "Principal": {"AWS": b}, "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}
    ]})
    .to_string();
    put_policy(&s, &key, &policy, false).await.unwrap();
    let carol_blob = encrypt_with(&carol, &key_arn).await.unwrap();
    assert_eq!(
        error_code(
            carol
                .encrypt()
                .key_id(&key)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
        ),
        "NotFoundException",
        "a bare key id names a key of the caller's own account"
    );
    assert!(denial_message(
        carol
            .decrypt()
            .ciphertext_blob(carol_blob.clone())
            .send()
            .await
    )
    .ends_with("because no identity-based policy allows the kms:Decrypt action"));
    assert_eq!(
        encrypt_with(&dave, &key_arn).await,
        Err("AccessDeniedException".into())
    );
    // B's root user needs no identity policy; it decrypts what carol encrypted.
    let opened = kms_b_root
        .decrypt()
        .ciphertext_blob(carol_blob)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), b"across accounts");

    // An explicit deny in an identity policy wins over the key policy's allow.
    iam_a
        .put_user_policy()
        .user_name("alice")
        .policy_name("no-encrypt")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}
            ]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert!(denial_message(
        alice
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await
    )
    .ends_with("with an explicit deny in an identity-based policy"));

    // Nor can a principal without identity policies read a key's history.
    let path = format!("/v1/keys/{key}/history");
    let (status, body) = common::signed_get(&s.endpoint, &bob_credentials, &path).await;
    assert_ne!(status, 200, "{body}");
    assert_eq!(body["__type"], "AccessDeniedException", "{body}");

    // A grant lets bob decrypt what alice encrypted, without any policy of his.
    let bob_arn = format!("arn:aws:iam::{a}:user/bob");
    assert!(bob
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .is_err());
    s.client
        .create_grant()
        .key_id(&key)
        .grantee_principal(&bob_arn)
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    let opened = bob.decrypt().ciphertext_blob(blob).send().await.unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), b"across accounts");
    // A grant that allows CreateGrant passes on no more than it has.
    s.client
        .create_grant()
        .key_id(&key)
        .grantee_principal(&bob_arn)
        .operations(aws_sdk_kms::types::GrantOperation::CreateGrant)
        .operations(aws_sdk_kms::types::GrantOperation::Encrypt)
        .send()
        .await
        .unwrap();
    let widened = bob
        .create_grant()
        .key_id(&key_arn)
        .grantee_principal(&bob_arn)
        .operations(aws_sdk_kms::types::GrantOperation::GenerateDataKey)
        .send()
        .await;
    assert_eq!(error_code(widened), "AccessDeniedException");
    bob.create_grant()
        .key_id(&key_arn)
        .grantee_principal(&bob_arn)
        .operations(aws_sdk_kms::types::GrantOperation::Encrypt)
        .send()
        .await
        .expect("a grant within the one that allows it");

    // The reports read every account's records: the operator's (the first account) only.
    let (status, body) = common::signed_get(&s.endpoint, &b_root, "/v1/reports/billing").await;
    assert_ne!(status, 200);
    assert_eq!(body["__type"], "AccessDeniedException", "{body}");
    let (status, _) = common::signed_get(&s.endpoint, &s.credentials, "/v1/reports/billing").await;
    assert_eq!(status, 200);

    // Every denial is in the trail, with who was denied.
    let trail = common::trail(&s.data_dir).await;
    let denied: Vec<(String, String)> = trail
        .iter()
        .filter(|r| r["errorCode"] == "AccessDeniedException")
        .map(|r| {
            (
                r["userIdentity"]["arn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r["eventName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |who: &str, op: &str| (who.to_owned(), op.to_owned());
    let alice_arn = format!("arn:aws:iam::{a}:user/alice");
    let carol_arn = format!("arn:aws:iam::{b}:user/carol");
    let dave_arn = format!("arn:aws:iam::{b}:user/dave");
    assert_eq!(
        denied,
        [
            expect(&alice_arn, "DescribeKey"),
            expect(&bob_arn, "Encrypt"),
            expect(&carol_arn, "Encrypt"),
            expect(&carol_arn, "Decrypt"),
            expect(&dave_arn, "Encrypt"),
            expect(&alice_arn, "Encrypt"),
            expect(&bob_arn, "ListKeyHistory"),
            expect(&bob_arn, "Decrypt"),
            expect(&bob_arn, "CreateGrant"),
            expect(&format!("arn:aws:iam::{b}:root"), "GetBillingReport"),
        ]
    );
}

/// The global and KMS condition keys AWS sets on every call (or on the operations it lists)
/// are there, so the policies AWS documents behave as at AWS. Each `Deny` below fires only if
/// its key is missing or wrong: `StringNotEquals` and `Null: true` match an absent key.
#[tokio::test]
async fn the_condition_keys_aws_sets_are_there_for_the_policies_aws_documents() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data")).await;
    let account = s.credentials.account_id.clone();
    let sts = common::sts_client(&s.endpoint, &s.credentials);
    let user_id = sts
        .get_caller_identity()
        .send()
        .await
        .unwrap()
        .user_id
        .unwrap();
    assert!(user_id.starts_with("AIDA"), "{user_id}");
    let policy = common::root_policy_denying(
        &account,
        &[
            (
                "userid",
                "kms:Encrypt",
                json!({"StringNotEquals": {"aws:userid": user_id}}),
            ),
            (
                "direct-calls",
                "kms:Encrypt",
                json!({"Null": {"aws:ViaAWSService": "true"}}),
            ),
            (
                "not-a-service",
                "kms:Encrypt",
                json!({"Bool": {"aws:PrincipalIsAWSService": "true"}}),
            ),
            (
                "perimeter",
                "kms:DescribeKey",
                json!({"StringNotEquals": {"aws:ResourceAccount": account}}),
            ),
            (
                "symmetric-only",
                "kms:GenerateDataKeyPair",
                json!({"StringNotEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}}),
            ),
            (
                "old-spec-name",
                "kms:GenerateDataKey",
                json!({"StringNotEquals": {"kms:CustomerMasterKeySpec": "SYMMETRIC_DEFAULT"}}),
            ),
            (
                "no-bypass",
                "kms:PutKeyPolicy",
                json!({"Null": {"kms:BypassPolicyLockoutSafetyCheck": "false"}}),
            ),
        ],
    );
    let key = s
        .client
        .create_key()
        .policy(&policy)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    encrypt(&s, &key, &[]).await.unwrap();
    s.client.describe_key().key_id(&key).send().await.unwrap();
    s.client
        .generate_data_key_pair()
        .key_id(&key)
        .key_pair_spec(aws_sdk_kms::types::DataKeyPairSpec::EccNistP256)
        .send()
        .await
        .unwrap();
    s.client
        .generate_data_key()
        .key_id(&key)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    // Absent unless the request gives it: without the flag the policy may be put again; with
    // it (even `false`), `no-bypass` denies.
    s.client
        .put_key_policy()
        .key_id(&key)
        .policy(&policy)
        .send()
        .await
        .unwrap();
    assert_eq!(
        put_policy(&s, &key, &policy, false).await,
        Err("AccessDeniedException".to_owned())
    );
    s.stop();
}

/// The lockout safety check evaluates the new policy with the condition keys a later
/// `PutKeyPolicy` on the key would have, the key's own included (its spec, its tags): a
/// policy that lets the admin put policies on symmetric keys only, or on keys tagged for
/// its team, is no lockout on such a key, and still one on any other.
#[tokio::test]
async fn the_lockout_check_sees_the_keys_own_condition_keys() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data")).await;
    let policy = |condition: serde_json::Value| {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": admin_arn(&s)},
             "NotAction": "kms:PutKeyPolicy", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": admin_arn(&s)},
             "Action": "kms:PutKeyPolicy", "Resource": "*", "Condition": condition},
        ]})
        .to_string()
    };
    let symmetric = policy(json!({"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}}));
    let rsa = policy(json!({"StringEquals": {"kms:KeySpec": "RSA_2048"}}));
    let team = policy(json!({"StringEquals": {"aws:ResourceTag/team": "blue"}}));
    let create = |policy: &str, tag: Option<&str>| {
        s.client
            .create_key()
            .policy(policy)
            .set_tags(tag.map(|v| {
                vec![aws_sdk_kms::types::Tag::builder()
                    .tag_key("team")
                    .tag_value(v)
                    .build()
                    .unwrap()]
            }))
            .send()
    };
    let key = create(&symmetric, None).await.unwrap();
    let key = key.key_metadata.unwrap().key_id;
    assert_eq!(
        error_code(create(&rsa, None).await),
        "MalformedPolicyDocumentException"
    );
    create(&team, Some("blue")).await.unwrap();
    assert_eq!(
        error_code(create(&team, Some("red")).await),
        "MalformedPolicyDocumentException"
    );
    // PutKeyPolicy on the key: the same check, with the key's keys.
    put_policy(&s, &key, &symmetric, false).await.unwrap();
    assert_eq!(
        put_policy(&s, &key, &rsa, false).await.unwrap_err(),
        "MalformedPolicyDocumentException"
    );
    // Audit-first: each refusal is in the trail like any failed call.
    let trail = common::trail(&dir.path().join("data")).await;
    let refused = |name: &str| {
        trail
            .iter()
            .filter(|r| {
                r["eventName"] == name && r["errorCode"] == "MalformedPolicyDocumentException"
            })
            .count()
    };
    assert_eq!((refused("CreateKey"), refused("PutKeyPolicy")), (2, 1));
}
