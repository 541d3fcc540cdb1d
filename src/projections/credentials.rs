//! Identities as the ledger recorded them: accounts, IAM users and roles with their
//! inline policies, and access keys. Secrets stay sealed here; the authenticator
//! unwraps them with the root key when it needs one.
//!
//! Policy documents are parsed once, when folded; one that no longer parses (it was
//! validated when it was put, so only a stricter parser makes that happen) is kept as text
//! and left out of evaluation, with a warning.

use crate::domain::events::{AccessKeyCreated, DomainEvent, RoleCreated};
use crate::domain::ids::AccountId;
use crate::domain::policy::{Policy, PolicyKind};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

/// An access key and its state.
#[derive(Clone, Debug)]
pub struct AccessKey {
    pub created: Arc<AccessKeyCreated>,
    pub active: bool,
    pub create_date: OffsetDateTime,
}

/// An inline policy: the document as put, and what it parsed to.
#[derive(Clone, Debug)]
pub struct InlinePolicy {
    pub document: String,
    pub parsed: Option<Arc<Policy>>,
}

#[derive(Clone, Debug)]
pub struct User {
    pub account_id: AccountId,
    pub user_name: String,
    pub user_id: String,
    pub arn: String,
    pub path: String,
    pub create_date: OffsetDateTime,
    pub policies: BTreeMap<String, InlinePolicy>,
}

#[derive(Clone, Debug)]
pub struct Role {
    pub created: RoleCreated,
    /// The trust policy, parsed (`None`: it did not parse, so nobody may assume the role).
    pub trust: Option<Arc<Policy>>,
    pub policies: BTreeMap<String, InlinePolicy>,
}

#[derive(Default)]
struct State {
    accounts: Vec<AccountId>,
    access_keys: HashMap<String, AccessKey>,
    /// Keyed by account and the name folded to lower case: IAM names are unique regardless
    /// of case.
    users: BTreeMap<(AccountId, String), User>,
    roles: BTreeMap<(AccountId, String), Role>,
    /// The version of each account's stream (what the next append there must follow).
    versions: HashMap<AccountId, u64>,
}

#[derive(Default)]
pub struct Credentials {
    state: RwLock<State>,
}

/// The key IAM names are unique under.
fn folded(account: &AccountId, name: &str) -> (AccountId, String) {
    (account.clone(), name.to_lowercase())
}

fn parsed(document: &str, kind: PolicyKind, what: &str) -> Option<Arc<Policy>> {
    match Policy::parse(document, kind) {
        Ok(policy) => Some(Arc::new(policy)),
        Err(e) => {
            tracing::warn!(policy = what, error = %e, "a recorded policy does not parse; it is left out of evaluation");
            None
        }
    }
}

impl Credentials {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn apply(&self, event: &DomainEvent, time: OffsetDateTime) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let account = match event {
            DomainEvent::AccountCreated(e) => {
                state.accounts.push(e.account_id.clone());
                &e.account_id
            }
            DomainEvent::AccessKeyCreated(e) => {
                state.access_keys.insert(
                    e.access_key_id.clone(),
                    AccessKey {
                        created: Arc::new(e.clone()),
                        active: true,
                        create_date: time,
                    },
                );
                &e.account_id
            }
            DomainEvent::AccessKeyDeactivated(e) => {
                if let Some(key) = state.access_keys.get_mut(&e.access_key_id) {
                    key.active = false;
                }
                &e.account_id
            }
            DomainEvent::AccessKeyActivated(e) => {
                if let Some(key) = state.access_keys.get_mut(&e.access_key_id) {
                    key.active = true;
                }
                &e.account_id
            }
            DomainEvent::AccessKeyDeleted(e) => {
                state.access_keys.remove(&e.access_key_id);
                &e.account_id
            }
            DomainEvent::UserCreated(e) => {
                state.users.insert(
                    folded(&e.account_id, &e.user_name),
                    User {
                        account_id: e.account_id.clone(),
                        user_name: e.user_name.clone(),
                        user_id: e.user_id.clone(),
                        arn: e.arn.clone(),
                        path: e.path.clone(),
                        create_date: e.create_date,
                        policies: BTreeMap::new(),
                    },
                );
                &e.account_id
            }
            DomainEvent::UserDeleted(e) => {
                state.users.remove(&folded(&e.account_id, &e.user_name));
                &e.account_id
            }
            DomainEvent::UserPolicyPut(e) => {
                let what = format!("user/{}/{}", e.user_name, e.policy_name);
                if let Some(user) = state.users.get_mut(&folded(&e.account_id, &e.user_name)) {
                    user.policies.insert(
                        e.policy_name.clone(),
                        InlinePolicy {
                            document: e.policy_document.clone(),
                            parsed: parsed(&e.policy_document, PolicyKind::Identity, &what),
                        },
                    );
                }
                &e.account_id
            }
            DomainEvent::UserPolicyDeleted(e) => {
                if let Some(user) = state.users.get_mut(&folded(&e.account_id, &e.user_name)) {
                    user.policies.remove(&e.policy_name);
                }
                &e.account_id
            }
            DomainEvent::RoleCreated(e) => {
                let what = format!("role/{} trust policy", e.role_name);
                state.roles.insert(
                    folded(&e.account_id, &e.role_name),
                    Role {
                        created: e.clone(),
                        trust: parsed(&e.assume_role_policy_document, PolicyKind::Trust, &what),
                        policies: BTreeMap::new(),
                    },
                );
                &e.account_id
            }
            DomainEvent::RoleDeleted(e) => {
                state.roles.remove(&folded(&e.account_id, &e.role_name));
                &e.account_id
            }
            DomainEvent::RolePolicyPut(e) => {
                let what = format!("role/{}/{}", e.role_name, e.policy_name);
                if let Some(role) = state.roles.get_mut(&folded(&e.account_id, &e.role_name)) {
                    role.policies.insert(
                        e.policy_name.clone(),
                        InlinePolicy {
                            document: e.policy_document.clone(),
                            parsed: parsed(&e.policy_document, PolicyKind::Identity, &what),
                        },
                    );
                }
                &e.account_id
            }
            DomainEvent::RolePolicyDeleted(e) => {
                if let Some(role) = state.roles.get_mut(&folded(&e.account_id, &e.role_name)) {
                    role.policies.remove(&e.policy_name);
                }
                &e.account_id
            }
            _ => return,
        }
        .clone();
        *state.versions.entry(account).or_default() += 1;
    }

    /// An active access key: a deactivated or deleted one is not found, so SigV4 refuses it
    /// from the moment its event is applied.
    pub fn access_key(&self, access_key_id: &str) -> Option<Arc<AccessKeyCreated>> {
        self.read()
            .access_keys
            .get(access_key_id)
            .filter(|k| k.active)
            .map(|k| k.created.clone())
    }

    /// An access key, active or not.
    pub fn access_key_state(&self, access_key_id: &str) -> Option<AccessKey> {
        self.read().access_keys.get(access_key_id).cloned()
    }

    /// The access keys of `user_name` in `account` (empty name: the root user's), oldest first.
    pub fn access_keys_of(&self, account: &AccountId, user_name: &str) -> Vec<AccessKey> {
        let state = self.read();
        let mut keys: Vec<AccessKey> = state
            .access_keys
            .values()
            .filter(|k| {
                &k.created.account_id == account
                    && k.created.user_name.to_lowercase() == user_name.to_lowercase()
            })
            .cloned()
            .collect();
        keys.sort_by(|a, b| {
            (a.create_date, &a.created.access_key_id)
                .cmp(&(b.create_date, &b.created.access_key_id))
        });
        keys
    }

    /// The newest active access key of `user_name` in `account` (the bootstrap admin's, for
    /// its credentials file): never a deactivated one.
    pub fn admin_access_key(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Option<Arc<AccessKeyCreated>> {
        self.access_keys_of(account, user_name)
            .into_iter()
            .rev()
            .find(|k| k.active)
            .map(|k| k.created)
    }

    /// Any access key recorded for `account`, active or not (its secret proves the root key).
    pub fn any_access_key(&self, account: &AccountId) -> Option<Arc<AccessKeyCreated>> {
        let state = self.read();
        let mut keys: Vec<&AccessKey> = state
            .access_keys
            .values()
            .filter(|k| &k.created.account_id == account)
            .collect();
        keys.sort_by(|a, b| a.created.access_key_id.cmp(&b.created.access_key_id));
        keys.first().map(|k| k.created.clone())
    }

    /// The first account created: the one a fresh data dir bootstraps.
    pub fn first_account(&self) -> Option<AccountId> {
        self.read().accounts.first().cloned()
    }

    pub fn account_exists(&self, account: &AccountId) -> bool {
        self.read().accounts.contains(account)
    }

    /// The version of `account`'s stream now (0: no event yet).
    pub fn account_version(&self, account: &AccountId) -> u64 {
        self.read().versions.get(account).copied().unwrap_or(0)
    }

    pub fn user(&self, account: &AccountId, user_name: &str) -> Option<User> {
        self.read().users.get(&folded(account, user_name)).cloned()
    }

    /// The users of `account`, by name.
    pub fn users(&self, account: &AccountId) -> Vec<User> {
        self.read()
            .users
            .values()
            .filter(|u| &u.account_id == account)
            .cloned()
            .collect()
    }

    pub fn role(&self, account: &AccountId, role_name: &str) -> Option<Role> {
        self.read().roles.get(&folded(account, role_name)).cloned()
    }

    /// CloudTrail's `principalId` of `caller`: a user's `AIDA…` id, a session's
    /// `AROA…:<session>`; `None` for the root user (its account id is its principal id) or an
    /// identity no longer recorded.
    pub fn principal_id(&self, caller: &crate::app::Caller) -> Option<String> {
        let state = self.read();
        match &caller.kind {
            crate::app::CallerKind::Root => None,
            crate::app::CallerKind::User => state
                .users
                .get(&folded(&caller.account, &caller.user_name))
                .map(|u| u.user_id.clone()),
            crate::app::CallerKind::AssumedRole {
                role_name,
                session_name,
                ..
            } => state
                .roles
                .get(&folded(&caller.account, role_name))
                .map(|r| format!("{}:{session_name}", r.created.role_id)),
        }
    }

    /// The identity policies that apply to `caller`: a user's inline policies, a role
    /// session's role's inline policies; none for the root user (who needs none).
    pub fn identity_policies(&self, caller: &crate::app::Caller) -> Vec<Arc<Policy>> {
        let state = self.read();
        let policies = match &caller.kind {
            crate::app::CallerKind::Root => return Vec::new(),
            crate::app::CallerKind::User => state
                .users
                .get(&folded(&caller.account, &caller.user_name))
                .map(|u| &u.policies),
            crate::app::CallerKind::AssumedRole { role_name, .. } => state
                .roles
                .get(&folded(&caller.account, role_name))
                .map(|r| &r.policies),
        };
        policies
            .map(|p| p.values().filter_map(|p| p.parsed.clone()).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Caller, CallerKind};
    use crate::domain::events::{
        AccessKeyDeactivated, AccessKeyDeleted, AccountCreated, Sealed, UserCreated, UserPolicyPut,
    };
    use time::macros::datetime;

    const T: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

    fn account() -> AccountId {
        AccountId::parse("111122223333").unwrap()
    }

    fn key(id: &str, user: &str) -> DomainEvent {
        DomainEvent::AccessKeyCreated(AccessKeyCreated {
            access_key_id: id.into(),
            account_id: account(),
            principal_arn: format!("arn:aws:iam::111122223333:user/{user}"),
            user_name: user.into(),
            sealed_secret: Sealed(vec![1, 2, 3]),
        })
    }

    fn folded_state() -> Credentials {
        let c = Credentials::default();
        let events = [
            DomainEvent::AccountCreated(AccountCreated {
                account_id: account(),
                fips_mode: false,
            }),
            DomainEvent::UserCreated(UserCreated {
                account_id: account(),
                user_name: "Alice".into(),
                user_id: "AIDAAAAAAAAAAAAAAAAAA".into(),
                arn: "arn:aws:iam::111122223333:user/Alice".into(),
                path: "/".into(),
                create_date: T,
            }),
            DomainEvent::UserPolicyPut(UserPolicyPut {
                account_id: account(),
                user_name: "Alice".into(),
                policy_name: "p".into(),
                policy_document: crate::app::bootstrap::ADMIN_POLICY_DOCUMENT.into(),
            }),
            key("AKIAAAAAAAAAAAAAAAA1", "Alice"),
            key("AKIAAAAAAAAAAAAAAAA2", "Alice"),
        ];
        for (i, e) in events.iter().enumerate() {
            c.apply(e, T + time::Duration::seconds(i as i64));
        }
        c
    }

    #[test]
    fn names_are_one_regardless_of_case_and_the_stream_version_counts_every_event() {
        let c = folded_state();
        assert_eq!(c.user(&account(), "alice").unwrap().user_name, "Alice");
        assert_eq!(c.account_version(&account()), 5);
        assert_eq!(c.first_account(), Some(account()));
        // The document is kept whether or not it parsed.
        assert_eq!(
            c.user(&account(), "ALICE").unwrap().policies["p"].document,
            crate::app::bootstrap::ADMIN_POLICY_DOCUMENT
        );
    }

    #[test]
    fn deactivated_and_deleted_keys_are_not_found_and_the_admin_key_is_the_newest_active() {
        let c = folded_state();
        assert_eq!(
            c.admin_access_key(&account(), "Alice")
                .unwrap()
                .access_key_id,
            "AKIAAAAAAAAAAAAAAAA2"
        );
        c.apply(
            &DomainEvent::AccessKeyDeactivated(AccessKeyDeactivated {
                account_id: account(),
                access_key_id: "AKIAAAAAAAAAAAAAAAA2".into(),
            }),
            T,
        );
        assert!(c.access_key("AKIAAAAAAAAAAAAAAAA2").is_none());
        assert!(!c.access_key_state("AKIAAAAAAAAAAAAAAAA2").unwrap().active);
        assert_eq!(
            c.admin_access_key(&account(), "alice")
                .unwrap()
                .access_key_id,
            "AKIAAAAAAAAAAAAAAAA1"
        );
        c.apply(
            &DomainEvent::AccessKeyDeleted(AccessKeyDeleted {
                account_id: account(),
                access_key_id: "AKIAAAAAAAAAAAAAAAA1".into(),
            }),
            T,
        );
        assert!(c.access_key("AKIAAAAAAAAAAAAAAAA1").is_none());
        assert!(c.admin_access_key(&account(), "Alice").is_none());
        assert_eq!(c.access_keys_of(&account(), "Alice").len(), 1);
    }

    #[test]
    fn the_root_user_has_no_identity_policies_and_a_user_its_parsed_ones() {
        let c = folded_state();
        let caller = |kind| Caller {
            account: account(),
            principal_arn: "arn:aws:iam::111122223333:user/Alice".into(),
            user_name: "Alice".into(),
            access_key_id: "AKIAAAAAAAAAAAAAAAA1".into(),
            kind,
        };
        assert!(c.identity_policies(&caller(CallerKind::Root)).is_empty());
        // One policy once the policy engine parses it; none before.
        let parsed = Policy::parse(
            crate::app::bootstrap::ADMIN_POLICY_DOCUMENT,
            PolicyKind::Identity,
        )
        .is_ok();
        assert_eq!(
            c.identity_policies(&caller(CallerKind::User)).len(),
            usize::from(parsed)
        );
        assert_eq!(
            c.principal_id(&caller(CallerKind::User)).as_deref(),
            Some("AIDAAAAAAAAAAAAAAAAAA")
        );
    }
}
