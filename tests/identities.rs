//! IAM and STS through the real `aws-sdk-iam` and `aws-sdk-sts` clients: users, access keys,
//! roles, sessions, errors with AWS's codes, `keyledger admin create-account`, and the trail.

mod common;

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use common::{create_account, error_code, read_credentials, AdminCredentials, InProcess, Server};

fn credentials(key_id: &str, secret: &str, token: Option<&str>) -> Credentials {
    Credentials::new(
        key_id,
        secret,
        token.map(str::to_owned),
        None,
        "keyledger-test",
    )
}

fn iam(endpoint: &str, c: &AdminCredentials) -> aws_sdk_iam::Client {
    iam_as(
        endpoint,
        &c.region,
        credentials(&c.access_key_id, &c.secret_access_key, None),
    )
}

fn iam_as(endpoint: &str, region: &str, creds: Credentials) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

fn sts_as(endpoint: &str, region: &str, creds: Credentials) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

fn kms_as(endpoint: &str, region: &str, creds: Credentials) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

#[tokio::test]
async fn users_and_access_keys_through_the_sdks() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let c = create_account(&server, root.path(), "210987654321");
    assert_eq!(c.account_id, "210987654321");
    assert!(c.access_key_id.starts_with("AKIA") && c.secret_access_key.len() == 40);
    let endpoint = &server.endpoint;
    let region = &c.region;
    let iam = iam(endpoint, &c);

    // The root user's credentials: STS says who they are.
    let me = sts_as(
        endpoint,
        region,
        credentials(&c.access_key_id, &c.secret_access_key, None),
    )
    .get_caller_identity()
    .send()
    .await
    .unwrap();
    assert_eq!(me.arn(), Some("arn:aws:iam::210987654321:root"));
    assert_eq!(me.account(), Some("210987654321"));
    assert_eq!(me.user_id(), Some("210987654321"));

    let alice = iam.create_user().user_name("alice").send().await.unwrap();
    let alice = alice.user().unwrap();
    assert_eq!(alice.arn(), "arn:aws:iam::210987654321:user/alice");
    assert_eq!(alice.path(), "/");
    assert!(alice.user_id().starts_with("AIDA") && alice.user_id().len() == 21);
    let alice_id = alice.user_id().to_owned();
    assert_eq!(
        error_code(iam.create_user().user_name("Alice").send().await),
        "EntityAlreadyExists"
    );
    assert_eq!(
        error_code(iam.get_user().user_name("nobody").send().await),
        "NoSuchEntity"
    );
    assert_eq!(
        error_code(iam.create_user().user_name("no/slash").send().await),
        "ValidationError"
    );
    let fetched = iam.get_user().user_name("alice").send().await.unwrap();
    assert_eq!(fetched.user().unwrap().user_id(), alice_id);
    let listed = iam.list_users().send().await.unwrap();
    assert_eq!(
        listed
            .users()
            .iter()
            .map(|u| u.user_name())
            .collect::<Vec<_>>(),
        ["alice"]
    );

    let key = iam
        .create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    assert!(key.access_key_id().starts_with("AKIA") && key.access_key_id().len() == 20);
    assert_eq!(key.secret_access_key().len(), 40);
    assert_eq!(key.status().as_str(), "Active");
    let (key_id, secret) = (
        key.access_key_id().to_owned(),
        key.secret_access_key().to_owned(),
    );
    let listed = iam
        .list_access_keys()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let metadata = listed.access_key_metadata();
    assert_eq!(metadata.len(), 1);
    assert_eq!(metadata[0].access_key_id(), Some(key_id.as_str()));

    // The new key signs for STS and KMS (KMS may refuse it for want of a policy, but it
    // knows who asks).
    let as_alice = || credentials(&key_id, &secret, None);
    let who = sts_as(endpoint, region, as_alice())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.arn(), Some("arn:aws:iam::210987654321:user/alice"));
    assert_eq!(who.user_id(), Some(alice_id.as_str()));
    let kms = kms_as(endpoint, region, as_alice());
    if let Err(e) = kms.list_keys().send().await {
        assert_eq!(common::sdk_code(e), "AccessDeniedException");
    }

    // Deactivated: refused at once, by every API.
    iam.update_access_key()
        .user_name("alice")
        .access_key_id(&key_id)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(kms.list_keys().send().await),
        "UnrecognizedClientException"
    );
    assert_eq!(
        error_code(
            sts_as(endpoint, region, as_alice())
                .get_caller_identity()
                .send()
                .await
        ),
        "InvalidClientTokenId"
    );
    let listed = iam
        .list_access_keys()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.access_key_metadata()[0].status().unwrap().as_str(),
        "Inactive"
    );
    // Active again, then deleted: refused again.
    iam.update_access_key()
        .user_name("alice")
        .access_key_id(&key_id)
        .status(aws_sdk_iam::types::StatusType::Active)
        .send()
        .await
        .unwrap();
    sts_as(endpoint, region, as_alice())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(iam.delete_user().user_name("alice").send().await),
        "DeleteConflict"
    );
    iam.delete_access_key()
        .user_name("alice")
        .access_key_id(&key_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(kms.list_keys().send().await),
        "UnrecognizedClientException"
    );
    assert_eq!(
        error_code(
            iam.delete_access_key()
                .user_name("alice")
                .access_key_id(&key_id)
                .send()
                .await
        ),
        "NoSuchEntity"
    );
    // Two keys per user at most.
    iam.create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    iam.create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(iam.create_access_key().user_name("alice").send().await),
        "LimitExceeded"
    );

    // A document that is not a policy is refused with IAM's code.
    assert_eq!(
        error_code(
            iam.put_user_policy()
                .user_name("alice")
                .policy_name("p")
                .policy_document("not a policy")
                .send()
                .await
        ),
        "MalformedPolicyDocument"
    );
    assert_eq!(
        error_code(iam.list_user_policies().user_name("bob").send().await),
        "NoSuchEntity"
    );
    assert!(iam
        .list_user_policies()
        .user_name("alice")
        .send()
        .await
        .unwrap()
        .policy_names()
        .is_empty());
    assert_eq!(
        error_code(iam.get_role().role_name("none").send().await),
        "NoSuchEntity"
    );

    // The trail: every IAM call, with IAM's event source, the root identity, no secret.
    let trail = common::trail(&dir).await;
    let iam_calls: Vec<&serde_json::Value> = trail
        .iter()
        .filter(|r| r["eventSource"] == "iam.amazonaws.com")
        .collect();
    let names: Vec<&str> = iam_calls
        .iter()
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    for name in [
        "CreateUser",
        "GetUser",
        "ListUsers",
        "CreateAccessKey",
        "ListAccessKeys",
        "UpdateAccessKey",
        "DeleteAccessKey",
        "DeleteUser",
        "PutUserPolicy",
        "ListUserPolicies",
        "GetRole",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let created = iam_calls
        .iter()
        .find(|r| r["eventName"] == "CreateUser" && r.get("errorCode").is_none())
        .unwrap();
    assert_eq!(created["userIdentity"]["type"], "Root");
    assert_eq!(
        created["userIdentity"]["arn"],
        "arn:aws:iam::210987654321:root"
    );
    assert_eq!(created["requestParameters"]["userName"], "alice");
    assert_eq!(created["readOnly"], false);
    assert_eq!(
        created["responseElements"]["user"]["userId"],
        alice_id.as_str()
    );
    let exists = iam_calls
        .iter()
        .find(|r| r["eventName"] == "CreateUser" && r.get("errorCode").is_some())
        .unwrap();
    assert_eq!(exists["errorCode"], "EntityAlreadyExistsException");
    assert!(iam_calls
        .iter()
        .any(|r| r["eventName"] == "ListUsers" && r["readOnly"] == true));
    let sts_calls: Vec<&serde_json::Value> = trail
        .iter()
        .filter(|r| r["eventSource"] == "sts.amazonaws.com")
        .collect();
    let by_alice = sts_calls
        .iter()
        .find(|r| r["userIdentity"]["userName"] == "alice")
        .unwrap();
    assert_eq!(by_alice["userIdentity"]["type"], "IAMUser");
    assert_eq!(by_alice["userIdentity"]["principalId"], alice_id.as_str());
    assert!(sts_calls
        .iter()
        .any(|r| r["errorCode"] == "InvalidClientTokenIdException"));
    // The secret was answered once and is nowhere in the ledger nor in the log.
    let stored = serde_json::to_string(&common::stored_events(&dir).await).unwrap();
    assert!(!stored.contains(&secret));
    assert!(!stored.contains(&c.secret_access_key));
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!log.contains(&secret) && !log.contains(&c.secret_access_key));

    let seen = common::check_schemas(&dir).await;
    for t in [
        "UserCreated",
        "AccessKeyCreated",
        "AccessKeyDeactivated",
        "AccessKeyActivated",
        "AccessKeyDeleted",
        "UserPolicyPut",
    ] {
        assert!(seen.contains(t), "the test wrote a {t}: {seen:?}");
    }
    let (ok, out) = common::verify(&dir);
    assert!(ok, "{out}");
}

#[tokio::test]
async fn create_account_refuses_who_may_not_and_what_exists() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let other = create_account(&server, root.path(), "333344445555");
    // The new account's root may not create accounts; an existing id is refused.
    let creds = root.path().join("other.json");
    let out = root.path().join("refused.json");
    std::fs::write(
        &creds,
        serde_json::to_vec(&serde_json::json!({
            "access_key_id": other.access_key_id, "secret_access_key": other.secret_access_key,
            "account_id": other.account_id, "region": other.region,
        }))
        .unwrap(),
    )
    .unwrap();
    let (ok, output) = common::command(
        &[
            "admin",
            "create-account",
            "--out",
            out.to_str().unwrap(),
            "--endpoint",
            &server.endpoint,
            "--credentials",
            creds.to_str().unwrap(),
        ],
        &dir,
    );
    assert!(!ok && output.contains("AccessDeniedException"), "{output}");
    assert!(!out.exists());
    let again = root.path().join("again.json");
    let (ok, output) = common::command(
        &[
            "admin",
            "create-account",
            "--account-id",
            "333344445555",
            "--out",
            again.to_str().unwrap(),
            "--endpoint",
            &server.endpoint,
        ],
        &dir,
    );
    assert!(!ok && output.contains("AlreadyExists"), "{output}");
    let trail = common::trail(&dir).await;
    let calls: Vec<_> = trail
        .iter()
        .filter(|r| r["eventName"] == "CreateAccount")
        .collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[0]["eventSource"], "organizations.amazonaws.com");
    assert_eq!(calls[1]["errorCode"], "AccessDeniedException");
    assert!(!serde_json::to_string(&trail)
        .unwrap()
        .contains(&other.secret_access_key));
}

#[tokio::test]
async fn create_account_on_the_data_dir_writes_usable_root_credentials() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let account = server.credentials.account_id.clone();
    server.stop();
    let out = root.path().join("root.json");
    let (ok, output) = common::command(
        &[
            "admin",
            "create-account",
            "--account-id",
            "444455556666",
            "--out",
            out.to_str().unwrap(),
        ],
        &dir,
    );
    assert!(ok, "{output}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let c = read_credentials(&out);
    assert_eq!(c.account_id, "444455556666");
    // Never overwritten.
    let (ok, output) = common::command(
        &["admin", "create-account", "--out", out.to_str().unwrap()],
        &dir,
    );
    assert!(!ok && output.contains("refusing to overwrite"), "{output}");
    let (ok, output) = common::verify(&dir);
    assert!(ok, "{output}");

    let server = Server::start(&dir).await;
    assert_eq!(
        server.credentials.account_id, account,
        "the bootstrap account is unchanged"
    );
    let me = sts_as(
        &server.endpoint,
        &c.region,
        credentials(&c.access_key_id, &c.secret_access_key, None),
    )
    .get_caller_identity()
    .send()
    .await
    .unwrap();
    assert_eq!(me.arn(), Some("arn:aws:iam::444455556666:root"));
    iam(&server.endpoint, &c)
        .create_user()
        .user_name("u")
        .send()
        .await
        .unwrap();
}

/// Session credentials sealed as AssumeRole seals them: accepted with their token until they
/// expire, refused when altered or presented with another key id.
#[tokio::test]
async fn session_tokens_authenticate_until_they_expire() {
    use keyledger::crypto::session_token::{seal, SessionClaims};
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let account = server.credentials.account_id.clone();
    let root_key = keyledger::crypto::root_key::RootKey::from_hex(
        &std::fs::read_to_string(dir.join("root.key")).unwrap(),
        "test",
    )
    .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |id: &str, expires_at: i64| SessionClaims {
        access_key_id: id.into(),
        secret_access_key: "session-secret-session-secret-session-se".into(),
        account_id: account.clone(),
        role_arn: format!("arn:aws:iam::{account}:role/reader"),
        role_name: "reader".into(),
        role_id: "AROAAAAAAAAAAAAAAAAAA".into(),
        session_name: "s1".into(),
        issued_at: now - 60,
        expires_at,
    };
    let region = &server.credentials.region;
    let sts = |id: &str, token: &str| {
        sts_as(
            &server.endpoint,
            region,
            credentials(id, "session-secret-session-secret-session-se", Some(token)),
        )
    };
    let valid = seal(&root_key, &claims("ASIAAAAAAAAAAAAAAAAA", now + 900));
    let who = sts("ASIAAAAAAAAAAAAAAAAA", &valid)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        who.arn().unwrap(),
        format!("arn:aws:sts::{account}:assumed-role/reader/s1")
    );
    assert_eq!(who.account(), Some(account.as_str()));
    // The trail knows it as a role session.
    let trail = common::trail(&dir).await;
    let record = trail
        .iter()
        .rev()
        .find(|r| r["eventName"] == "GetCallerIdentity")
        .unwrap();
    assert_eq!(record["userIdentity"]["type"], "AssumedRole");
    assert_eq!(
        record["userIdentity"]["accessKeyId"],
        "ASIAAAAAAAAAAAAAAAAA"
    );
    assert_eq!(
        record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
        format!("arn:aws:iam::{account}:role/reader")
    );
    // CloudTrail's session attributes: when the credentials were issued, and without MFA.
    let issued = time::OffsetDateTime::from_unix_timestamp(now - 60).unwrap();
    assert_eq!(
        record["userIdentity"]["sessionContext"]["attributes"],
        serde_json::json!({
            "creationDate": issued
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
            "mfaAuthenticated": "false",
        })
    );
    assert!(!serde_json::to_string(&trail)
        .unwrap()
        .contains(valid.as_str()));

    // With the KMS API too (a role that does not exist has no permissions, but it
    // authenticates).
    let kms = kms_as(
        &server.endpoint,
        region,
        credentials(
            "ASIAAAAAAAAAAAAAAAAA",
            "session-secret-session-secret-session-se",
            Some(&valid),
        ),
    );
    if let Err(e) = kms.list_keys().send().await {
        assert_eq!(common::sdk_code(e), "AccessDeniedException");
    }

    let expired = seal(&root_key, &claims("ASIABBBBBBBBBBBBBBBB", now - 1));
    let e = sts("ASIABBBBBBBBBBBBBBBB", &expired)
        .get_caller_identity()
        .send()
        .await;
    let e = e.unwrap_err();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&e),
        Some("ExpiredToken")
    );
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 400);
    assert!(aws_sdk_sts::error::ProvideErrorMetadata::message(&e)
        .unwrap()
        .contains("expired"));
    // Another key id, or an altered token: not valid.
    assert_eq!(
        error_code(
            sts("ASIACCCCCCCCCCCCCCCC", &valid)
                .get_caller_identity()
                .send()
                .await
        ),
        "InvalidClientTokenId"
    );
    let mut altered = valid.to_string();
    altered.insert(10, 'x');
    assert_eq!(
        error_code(
            sts("ASIAAAAAAAAAAAAAAAAA", &altered)
                .get_caller_identity()
                .send()
                .await
        ),
        "InvalidClientTokenId"
    );
}

const TRUST_ALICE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::ACCOUNT:user/alice"},"Action":"sts:AssumeRole"}]}"#;

#[tokio::test]
async fn assume_role_issues_session_credentials_that_expire() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let app = InProcess::start(&dir).await;
    let region = app.credentials.region.clone();
    let out = root.path().join("root.json");
    let created = app
        .service
        .create_account_offline(Some("555566667777"))
        .await
        .unwrap();
    keyledger::app::bootstrap::write_credentials(
        &(created.1, created.2),
        &created.0,
        &keyledger::domain::ids::Region::parse(&region).unwrap(),
        &out,
    )
    .unwrap();
    let c = read_credentials(&out);
    let iam = iam(&app.endpoint, &c);
    iam.create_user().user_name("alice").send().await.unwrap();
    let key = iam
        .create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let alice = sts_as(
        &app.endpoint,
        &region,
        credentials(key.access_key_id(), key.secret_access_key(), None),
    );
    let role = iam
        .create_role()
        .role_name("reader")
        .assume_role_policy_document(TRUST_ALICE.replace("ACCOUNT", "555566667777"))
        .send()
        .await
        .unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.arn(), "arn:aws:iam::555566667777:role/reader");
    assert!(role.role_id().starts_with("AROA"));
    assert_eq!(role.max_session_duration(), Some(3600));
    let trust = role.assume_role_policy_document().unwrap();
    assert_eq!(
        percent_decode(trust),
        TRUST_ALICE.replace("ACCOUNT", "555566667777")
    );
    assert_eq!(
        error_code(
            alice
                .assume_role()
                .role_arn(role.arn())
                .role_session_name("s1")
                .duration_seconds(7200)
                .send()
                .await
        ),
        "ValidationError"
    );
    let assumed = alice
        .assume_role()
        .role_arn(role.arn())
        .role_session_name("s1")
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let session = assumed.credentials().unwrap();
    assert!(session.access_key_id().starts_with("ASIA"));
    assert_eq!(
        assumed.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::555566667777:assumed-role/reader/s1"
    );
    let as_session = sts_as(
        &app.endpoint,
        &region,
        credentials(
            session.access_key_id(),
            session.secret_access_key(),
            Some(session.session_token()),
        ),
    );
    let who = as_session.get_caller_identity().send().await.unwrap();
    assert_eq!(
        who.arn(),
        Some("arn:aws:sts::555566667777:assumed-role/reader/s1")
    );
    assert_eq!(who.user_id().unwrap(), format!("{}:s1", role.role_id()));
    // The service's clock passes the expiry: refused.
    app.clock.advance(time::Duration::seconds(901));
    assert_eq!(
        error_code(as_session.get_caller_identity().send().await),
        "ExpiredToken"
    );
    // Neither the root user nor a user the trust policy does not name may assume it.
    assert_eq!(
        error_code(
            sts_as(
                &app.endpoint,
                &region,
                credentials(&c.access_key_id, &c.secret_access_key, None)
            )
            .assume_role()
            .role_arn(role.arn())
            .role_session_name("s2")
            .send()
            .await
        ),
        "AccessDenied"
    );
    iam.create_user().user_name("bob").send().await.unwrap();
    let bob_key = iam
        .create_access_key()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    let bob_key = bob_key.access_key().unwrap();
    let denied = sts_as(
        &app.endpoint,
        &region,
        credentials(bob_key.access_key_id(), bob_key.secret_access_key(), None),
    )
    .assume_role()
    .role_arn(role.arn())
    .role_session_name("s3")
    .send()
    .await
    .unwrap_err();
    let message = aws_sdk_sts::error::ProvideErrorMetadata::message(&denied).unwrap();
    assert!(
        message.starts_with("User: arn:aws:iam::555566667777:user/bob is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::555566667777:role/reader"),
        "{message}"
    );
    let trail = common::trail(&dir).await;
    let assumes: Vec<_> = trail
        .iter()
        .filter(|r| r["eventName"] == "AssumeRole")
        .collect();
    assert!(assumes
        .iter()
        .any(|r| r["errorCode"].is_null() && r["eventSource"] == "sts.amazonaws.com"));
    assert!(assumes.iter().any(|r| r["errorCode"] == "AccessDenied"));
    let text = serde_json::to_string(&trail).unwrap();
    assert!(!text.contains(session.secret_access_key()));
    assert!(!text.contains(session.session_token()));
    app.stop().await;
}

#[tokio::test]
async fn users_need_identity_policies_for_iam_calls() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let admin = iam(&server.endpoint, &server.credentials);
    let account = &server.credentials.account_id;
    admin.create_user().user_name("carol").send().await.unwrap();
    let key = admin
        .create_access_key()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let carol = iam_as(
        &server.endpoint,
        &server.credentials.region,
        credentials(key.access_key_id(), key.secret_access_key(), None),
    );
    let denied = carol
        .create_user()
        .user_name("dave")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&denied),
        Some("AccessDenied")
    );
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&denied).unwrap();
    assert!(
        message.starts_with(&format!("User: arn:aws:iam::{account}:user/carol is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::{account}:user/dave")),
        "{message}"
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateUser","Resource":"*"}]}"#;
    admin
        .put_user_policy()
        .user_name("carol")
        .policy_name("create-users")
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    let got = admin
        .get_user_policy()
        .user_name("carol")
        .policy_name("create-users")
        .send()
        .await
        .unwrap();
    assert_eq!(percent_decode(got.policy_document()), policy);
    assert_eq!(
        admin
            .list_user_policies()
            .user_name("carol")
            .send()
            .await
            .unwrap()
            .policy_names(),
        ["create-users"]
    );
    carol.create_user().user_name("dave").send().await.unwrap();
    assert_eq!(
        error_code(carol.delete_user().user_name("dave").send().await),
        "AccessDenied"
    );
    admin
        .delete_user_policy()
        .user_name("carol")
        .policy_name("create-users")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(carol.create_user().user_name("erin").send().await),
        "AccessDenied"
    );
    let trail = common::trail(&dir).await;
    assert!(trail
        .iter()
        .any(|r| r["eventName"] == "CreateUser" && r["errorCode"] == "AccessDenied"));
}

/// IAM calls are decided with the request's global keys too (where, when and how it came),
/// as at AWS: a user allowed IAM calls only from an address range may make them from there,
/// and not from elsewhere. (Before, only the principal keys were set, so `aws:SourceIp`
/// never matched and such an Allow never applied.)
#[tokio::test]
async fn iam_calls_see_the_requests_source_ip_and_time() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data")).await;
    let admin = iam(&server.endpoint, &server.credentials);
    admin.create_user().user_name("frank").send().await.unwrap();
    let key = admin
        .create_access_key()
        .user_name("frank")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let frank = iam_as(
        &server.endpoint,
        &server.credentials.region,
        credentials(key.access_key_id(), key.secret_access_key(), None),
    );
    let policy = |network: &str| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
            "Condition": {
                "IpAddress": {"aws:SourceIp": network},
                "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
                "Bool": {"aws:SecureTransport": "false"}
            }
        }]})
        .to_string()
    };
    for (network, allowed) in [("127.0.0.0/8", true), ("192.0.2.0/24", false)] {
        admin
            .put_user_policy()
            .user_name("frank")
            .policy_name("from-here")
            .policy_document(policy(network))
            .send()
            .await
            .unwrap();
        let listed = frank.list_users().send().await;
        if allowed {
            assert!(listed.is_ok(), "{network}: {listed:?}");
        } else {
            assert_eq!(error_code(listed), "AccessDenied", "{network}");
        }
    }
}

/// A trust policy that asks for an external id (the confused-deputy guard AWS documents) lets
/// only the caller that gives it assume the role; a malformed one is a `ValidationError`.
#[tokio::test]
async fn assume_role_checks_the_external_id_a_trust_policy_asks_for() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data")).await;
    let admin = iam(&server.endpoint, &server.credentials);
    let account = &server.credentials.account_id;
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:user/admin")},
        "Condition": {"StringEquals": {"sts:ExternalId": "partner:42/a"}}
    }]});
    let role = admin
        .create_role()
        .role_name("deputy")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let arn = role.role().unwrap().arn().to_owned();
    let sts = common::sts_client(&server.endpoint, &server.credentials);
    let assume = |external_id: Option<&str>| {
        sts.assume_role()
            .role_arn(&arn)
            .role_session_name("s1")
            .set_external_id(external_id.map(str::to_owned))
            .send()
    };
    assert_eq!(error_code(assume(None).await), "AccessDenied");
    assert_eq!(
        error_code(assume(Some("partner:43/a")).await),
        "AccessDenied"
    );
    assert_eq!(error_code(assume(Some("x")).await), "ValidationError");
    assume(Some("partner:42/a")).await.unwrap();
}

/// `aws:TokenIssueTime` and `aws:MultiFactorAuthPresent` are there for temporary
/// credentials only, as at AWS: the usual "deny without MFA" statement denies a role session
/// (issued without MFA) and lets long-term access keys through, and a policy can compare
/// when the session was issued.
#[tokio::test]
async fn role_sessions_carry_their_issue_time_and_no_mfa_and_access_keys_neither() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data")).await;
    let admin = iam(&server.endpoint, &server.credentials);
    let account = &server.credentials.account_id;
    let region = &server.credentials.region;
    let before = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    let at = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    // The issue-time Deny fires only if the key is wrong.
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:ListKeys", "Resource": "*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}},
        {"Effect": "Deny", "Action": "kms:ListAliases", "Resource": "*",
         "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
        {"Effect": "Deny", "Action": "kms:CreateKey", "Resource": "*",
         "Condition": {"DateLessThan": {"aws:TokenIssueTime": at(before)}}},
        {"Effect": "Deny", "Action": "kms:GenerateRandom", "Resource": "*",
         "Condition": {"Null": {"aws:TokenIssueTime": "true"}}},
    ]});
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:user/admin")}}]});
    let role = admin
        .create_role()
        .role_name("no-mfa")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let role_arn = role.role().unwrap().arn().to_owned();
    admin
        .put_role_policy()
        .role_name("no-mfa")
        .policy_name("kms")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    let (hana, _) = common::iam_user(&server, &admin, "hana", Some(policy)).await;
    let session = common::sts_client(&server.endpoint, &server.credentials)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("s1")
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap();
    let role_kms = kms_as(
        &server.endpoint,
        region,
        credentials(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token()),
        ),
    );
    // Long-term keys: no MFA key at all, so `Bool` does not match and `BoolIfExists` does
    // (AWS's knowledge-center example: it denies access keys without MFA); no issue time,
    // and a date condition on a missing key does not match.
    hana.list_keys().send().await.unwrap();
    assert_eq!(
        error_code(hana.list_aliases().send().await),
        "AccessDeniedException"
    );
    hana.create_key().send().await.unwrap();
    assert_eq!(
        error_code(hana.generate_random().number_of_bytes(8).send().await),
        "AccessDeniedException"
    );
    // The session: the MFA key is there and false; the issue time is now, not before.
    assert_eq!(
        error_code(role_kms.list_keys().send().await),
        "AccessDeniedException"
    );
    assert_eq!(
        error_code(role_kms.list_aliases().send().await),
        "AccessDeniedException"
    );
    role_kms.create_key().send().await.unwrap();
    role_kms
        .generate_random()
        .number_of_bytes(8)
        .send()
        .await
        .unwrap();
}

/// A multivalued key with no values is absent from the request context, as at AWS, not
/// present and empty: "if the request has an encryption context, it names `Dept`" is
/// `StringEqualsIfExists` on `kms:EncryptionContextKeys`, and lets a call without a context
/// through.
#[tokio::test]
async fn a_request_without_an_encryption_context_has_no_encryption_context_keys() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data")).await;
    let admin = iam(&server.endpoint, &server.credentials);
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
        "Condition": {"StringEqualsIfExists": {"kms:EncryptionContextKeys": "Dept"}}}]});
    let (ida, _) = common::iam_user(&server, &admin, "ida", Some(policy)).await;
    let key_id = common::create_key(&server.client, None).await;
    let encrypt = |context: Option<(&str, &str)>| {
        ida.encrypt()
            .key_id(&key_id)
            .plaintext(aws_sdk_kms::primitives::Blob::new(b"p".to_vec()))
            .set_encryption_context(
                context.map(|(k, v)| [(k.to_owned(), v.to_owned())].into_iter().collect()),
            )
            .send()
    };
    encrypt(None).await.unwrap();
    encrypt(Some(("Dept", "IT"))).await.unwrap();
    assert_eq!(
        error_code(encrypt(Some(("Team", "IT"))).await),
        "AccessDeniedException"
    );
}

/// `CreateKey` with `Tags` needs `kms:TagResource` as well, as at AWS: a user allowed to
/// create keys but not to tag them cannot tag through `CreateKey`.
#[tokio::test]
async fn tags_on_create_key_need_the_tag_resource_permission() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&root.path().join("data")).await;
    let admin = iam(&server.endpoint, &server.credentials);
    let (gina, _) = common::iam_user(&server, &admin, "gina", None).await;
    let allow = |actions: &[&str]| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": actions, "Resource": "*"}]})
        .to_string()
    };
    let put = |actions: &'static [&'static str]| {
        admin
            .put_user_policy()
            .user_name("gina")
            .policy_name("kms")
            .policy_document(allow(actions))
            .send()
    };
    let tag = aws_sdk_kms::types::Tag::builder()
        .tag_key("team")
        .tag_value("blue")
        .build()
        .unwrap();
    put(&["kms:CreateKey"]).await.unwrap();
    gina.create_key().send().await.unwrap();
    assert_eq!(
        error_code(gina.create_key().tags(tag.clone()).send().await),
        "AccessDeniedException"
    );
    put(&["kms:CreateKey", "kms:TagResource"]).await.unwrap();
    gina.create_key().tags(tag).send().await.unwrap();
}

#[tokio::test]
async fn the_admin_key_rotates_and_the_credentials_file_never_holds_a_deactivated_one() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let old = server.credentials.clone();
    let admin = iam(&server.endpoint, &old);
    let new = admin.create_access_key().send().await.unwrap();
    let new = new.access_key().unwrap();
    assert_eq!(new.user_name(), "admin");
    let admin2 = iam_as(
        &server.endpoint,
        &old.region,
        credentials(new.access_key_id(), new.secret_access_key(), None),
    );
    admin2
        .update_access_key()
        .access_key_id(&old.access_key_id)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(server.client.list_keys().send().await),
        "UnrecognizedClientException"
    );
    server.stop();
    // The file is missing at the next start: it is written with the active key.
    std::fs::remove_file(dir.join("admin-credentials.json")).unwrap();
    let server = Server::start(&dir).await;
    assert_eq!(server.credentials.access_key_id, new.access_key_id());
    server.client.list_keys().send().await.unwrap();
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// Concurrent changes of one account each decide against the account stream's version; the
/// ones that lose the race decide again, so none is lost and none fails.
#[tokio::test]
async fn concurrent_changes_to_one_account_all_land() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let c = create_account(&server, root.path(), "666677778888");
    let iam = iam(&server.endpoint, &c);
    let created: Vec<_> = (0..12)
        .map(|i| {
            let iam = iam.clone();
            tokio::spawn(async move { iam.create_user().user_name(format!("u{i}")).send().await })
        })
        .collect();
    for handle in created {
        handle.await.unwrap().unwrap();
    }
    let users = iam.list_users().send().await.unwrap();
    assert_eq!(users.users().len(), 12);
    let events = common::stored_events(&dir).await;
    let versions: Vec<u64> = events
        .iter()
        .filter(|e| e["stream"] == "account/666677778888")
        .map(|e| e["stream_version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, (1..=14).collect::<Vec<_>>(), "gap-free, in order");
}

/// A SigV4-signed query-protocol request (`GET` with the form as query, or `POST` with it as
/// body), for `service`: (status, x-amzn-RequestId, body).
async fn signed_query(
    endpoint: &str,
    c: &AdminCredentials,
    service: &str,
    method: &str,
    form: &str,
) -> (u16, String, String) {
    use keyledger::http::sigv4;
    let host = endpoint.trim_start_matches("http://").to_owned();
    let amz_date = sigv4::format_amz_date(time::OffsetDateTime::now_utc());
    let (query, body) = if method == "GET" {
        (form, "")
    } else {
        ("", form)
    };
    let payload = sigv4::sha256_hex(body.as_bytes());
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let mut headers = vec![("host", host.as_str()), ("x-amz-date", amz_date.as_str())];
    if method == "POST" {
        headers.push(("content-type", content_type));
    }
    let parts = sigv4::RequestParts {
        method,
        path: "/",
        query,
        headers: &headers,
        payload_sha256_hex: &payload,
    };
    let key = sigv4::derive_signing_key(
        c.secret_access_key.as_bytes(),
        &amz_date[..8],
        &c.region,
        service,
    );
    let authorization = sigv4::authorization_header(
        &parts,
        &c.access_key_id,
        &key,
        &amz_date,
        &c.region,
        service,
    );
    let http = reqwest::Client::new();
    let request = if method == "GET" {
        http.get(format!("{endpoint}/?{form}"))
    } else {
        http.post(format!("{endpoint}/"))
            .header("content-type", content_type)
            .body(body.to_owned())
    };
    let response = request
        .header("x-amz-date", &amz_date)
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-amzn-RequestId")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    (status, request_id, response.text().await.unwrap())
}

#[tokio::test]
async fn the_query_protocol_answers_in_awss_xml() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let c = create_account(&server, root.path(), "777788889999");
    // STS by GET, signed for sts.
    let (status, id, body) = signed_query(
        &server.endpoint,
        &c,
        "sts",
        "GET",
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with(
        r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>"#
    ), "{body}");
    assert!(
        body.contains("<Arn>arn:aws:iam::777788889999:root</Arn>"),
        "{body}"
    );
    assert!(
        body.ends_with(&format!(
            "<ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        )),
        "{body}"
    );
    // IAM by POST: an error in IAM's shape, with its status.
    let (status, id, body) = signed_query(
        &server.endpoint,
        &c,
        "iam",
        "POST",
        "Action=GetUser&Version=2010-05-08&UserName=nobody",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        format!(
            r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name nobody cannot be found.</Message></Error><RequestId>{id}</RequestId></ErrorResponse>"#
        )
    );
    let (status, _, body) = signed_query(
        &server.endpoint,
        &c,
        "iam",
        "POST",
        "Action=Frobnicate&Version=2010-05-08",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("<Code>InvalidAction</Code>"), "{body}");
    // Text is escaped in answers.
    let (status, _, body) = signed_query(
        &server.endpoint,
        &c,
        "iam",
        "POST",
        "Action=CreateUser&Version=2010-05-08&UserName=a%26b",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("Value &apos;a&amp;b&apos; at &apos;userName&apos;"),
        "{body}"
    );
    // Unsigned: refused, and recorded under IAM.
    let response = reqwest::Client::new()
        .post(format!("{}/", server.endpoint))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=ListUsers&Version=2010-05-08")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("<Code>MissingAuthenticationToken</Code>"));
    let trail = common::trail(&dir).await;
    let unsigned = trail
        .iter()
        .find(|r| r["eventName"] == "ListUsers")
        .unwrap();
    assert_eq!(unsigned["eventSource"], "iam.amazonaws.com");
    assert_eq!(unsigned["errorCode"], "MissingAuthenticationTokenException");
    assert_eq!(unsigned["userIdentity"]["type"], "Unknown");
    let frob = trail
        .iter()
        .find(|r| r["eventName"] == "Frobnicate")
        .unwrap();
    assert_eq!(frob["errorCode"], "InvalidActionException");
    common::check_schemas(&dir).await;
}

/// Every event is an entry of the trail's C2SP tlog-tiles bundles, whose length is a uint16:
/// a call that would be recorded as a larger event is refused, recorded as refused, and
/// changes nothing. Here a user policy within every IAM limit (under 32,768 characters, and
/// under 2,048 once whitespace is left out) whose condition value is 25,000 ideographic
/// spaces (U+3000, whitespace to IAM's count, three bytes each in UTF-8).
#[tokio::test]
async fn a_call_whose_record_would_not_fit_a_trail_entry_is_refused_and_recorded() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let server = Server::start(&dir).await;
    let iam = iam(&server.endpoint, &server.credentials);
    iam.create_user().user_name("dora").send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}"#;
    let padded = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{{"StringEquals":{{"aws:username":"{}"}}}}}}]}}"#,
        "\u{3000}".repeat(25_000)
    );
    assert!(padded.chars().count() < 32_768 && padded.len() > 70_000);
    let refused = iam
        .put_user_policy()
        .user_name("dora")
        .policy_name("padded")
        .policy_document(&padded)
        .send()
        .await;
    assert_eq!(error_code(refused), "ValidationError");
    assert_eq!(
        error_code(
            iam.get_user_policy()
                .user_name("dora")
                .policy_name("padded")
                .send()
                .await
        ),
        "NoSuchEntity"
    );
    // The same policy, unpadded, is taken.
    iam.put_user_policy()
        .user_name("dora")
        .policy_name("plain")
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    let events = common::stored_events(&dir).await;
    let refusal = events
        .iter()
        .rev()
        .find(|e| e["event_name"] == "PutUserPolicy" && e["error_code"].is_string())
        .expect("the refused call is recorded");
    // As CloudTrail records IAM's ValidationError (`iam::validation_error`).
    assert_eq!(refusal["error_code"], "ValidationException");
    let mut conn = common::ledger_connection(&dir, true).await;
    let largest: i64 = sqlx::query_scalar("SELECT MAX(length(data)) FROM events")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(largest <= u16::MAX as i64, "an event of {largest} bytes");
}
