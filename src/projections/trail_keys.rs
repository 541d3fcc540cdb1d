//! The ledger's note key (`TrailKeyCreated`), as the ledger recorded it. The signer key
//! stays sealed here; the checkpoint signer unseals it once, at start.

use crate::domain::events::{DomainEvent, TrailKeyCreated};
use std::sync::{Arc, RwLock};

#[derive(Default)]
pub struct TrailKeys {
    current: RwLock<Option<Arc<TrailKeyCreated>>>,
}

impl TrailKeys {
    pub fn apply(&self, event: &DomainEvent) {
        if let DomainEvent::TrailKeyCreated(e) = event {
            *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(e.clone()));
        }
    }

    /// The key that signs checkpoints now.
    pub fn current(&self) -> Option<Arc<TrailKeyCreated>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
