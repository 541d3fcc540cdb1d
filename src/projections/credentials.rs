//! Accounts and access keys, as the ledger recorded them. Secrets stay sealed
//! here; the authenticator unwraps them with the root key when it needs one.

use crate::domain::events::{AccessKeyCreated, DomainEvent};
use crate::domain::ids::AccountId;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

#[derive(Default)]
pub struct Credentials {
    access_keys: RwLock<HashMap<String, Arc<AccessKeyCreated>>>,
    accounts: RwLock<Vec<AccountId>>,
}

impl Credentials {
    pub fn apply(&self, event: &DomainEvent) {
        match event {
            DomainEvent::AccountCreated(e) => self
                .accounts
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .push(e.account_id.clone()),
            DomainEvent::AccessKeyCreated(e) => {
                self.access_keys
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(e.access_key_id.clone(), Arc::new(e.clone()));
            }
            _ => {}
        }
    }

    pub fn access_key(&self, access_key_id: &str) -> Option<Arc<AccessKeyCreated>> {
        self.access_keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(access_key_id)
            .cloned()
    }

    /// The access key of `user_name` in `account` (the bootstrap admin's).
    pub fn admin_access_key(
        &self,
        account: &AccountId,
        user_name: &str,
    ) -> Option<Arc<AccessKeyCreated>> {
        let keys = self.access_keys.read().unwrap_or_else(|p| p.into_inner());
        let mut matching: Vec<&Arc<AccessKeyCreated>> = keys
            .values()
            .filter(|k| &k.account_id == account && k.user_name == user_name)
            .collect();
        matching.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
        matching.first().map(|k| (*k).clone())
    }

    /// The first account created: the one a fresh data dir bootstraps.
    pub fn first_account(&self) -> Option<AccountId> {
        self.accounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .cloned()
    }
}

impl Credentials {
    /// The identity policies that apply to `caller` (a user's inline policies, a role
    /// session's role's). Identities land with the IAM API; until then, none.
    pub fn identity_policies(
        &self,
        caller: &crate::app::Caller,
    ) -> Vec<Arc<crate::domain::policy::Policy>> {
        let _ = caller;
        Vec::new()
    }
}
