//! The in-memory store's queries: answered by scanning the log with the same definitions
//! the SQL read models fold (`ledger::trail::index_terms`, the cryptographic operations of
//! `key_usage`), so both stores answer alike (`tests/store_conformance.rs`).

use super::MemoryReader;
use crate::ledger::sql::EventColumns;
use crate::ledger::trail::{self, KeyLastUse, KeyUsageReport, TrailHit, TrailQuery};
use crate::ledger::StoredEvent;
use crate::projections::key_usage::CRYPTOGRAPHIC_OPERATIONS;

impl MemoryReader {
    /// The compliance rows of the log up to `as_of_ns`, folded as the `compliance` model does.
    pub fn compliance_input(
        &self,
        as_of_ns: i64,
        from_day: i64,
    ) -> crate::projections::compliance::ComplianceInput {
        let log = self.db.lock();
        let events: Vec<EventColumns<'_>> = log.events.iter().map(StoredEvent::columns).collect();
        let mut rows = crate::projections::compliance::ComplianceRows::default();
        crate::projections::compliance::fold(&events, &mut rows);
        crate::projections::compliance::ComplianceInput::from_rows(rows, as_of_ns, from_day)
    }

    /// The billing rows of the whole log, folded as the `billing` model folds them.
    pub fn billing_input(&self) -> replay::billing::BillingInput {
        let log = self.db.lock();
        let events: Vec<EventColumns<'_>> = log.events.iter().map(StoredEvent::columns).collect();
        let mut rows = replay::billing::BillingRows::default();
        crate::projections::billing::fold(&events, &mut rows);
        replay::billing::BillingInput::from_rows(rows)
    }

    /// [`LedgerReader::trail`](crate::ledger::LedgerReader::trail) for a query that names no
    /// event id (it answers those from the log's own index).
    pub(crate) fn trail(&self, query: &TrailQuery) -> Vec<TrailHit> {
        debug_assert!(query.event_id().is_none(), "event ids are no terms");
        let log = self.db.lock();
        let query_terms = query.terms();
        let mut hits: Vec<TrailHit> = log
            .events
            .iter()
            .filter(|e| {
                let c = e.columns();
                query.matches_given(&query_terms, &trail::index_terms(&c), c.time_ns, c.position)
            })
            .map(|e| TrailHit {
                position: e.position,
                time_ns: e.time_ns.unwrap_or_default(),
                data: e.data.clone(),
            })
            .collect();
        hits.sort_by_key(|h| std::cmp::Reverse((h.time_ns, h.position)));
        hits.truncate(query.limit);
        hits
    }

    pub fn last_cryptographic_uses(&self) -> std::collections::BTreeMap<String, i64> {
        let log = self.db.lock();
        let mut last = std::collections::BTreeMap::new();
        for e in &log.events {
            let c = e.columns();
            if c.stream.is_none()
                && c.error_code.is_none()
                && CRYPTOGRAPHIC_OPERATIONS.contains(&c.event_name)
            {
                for key in c.keys() {
                    last.insert(key.to_owned(), c.time_ns);
                }
            }
        }
        last
    }

    pub fn key_usage_report(&self, key_id: &str) -> KeyUsageReport {
        let log = self.db.lock();
        let last_use = log
            .events
            .iter()
            .rev()
            .find(|e| {
                let c = e.columns();
                c.stream.is_none()
                    && c.error_code.is_none()
                    && CRYPTOGRAPHIC_OPERATIONS.contains(&c.event_name)
                    && c.keys().any(|k| k == key_id)
            })
            .map(|e| KeyLastUse {
                operation: e.event_name.clone(),
                time_ns: e.time_ns.unwrap_or_default(),
                event_id: e.event_id.clone().unwrap_or_default(),
                position: e.position,
                request_id: trail::request_id(&e.data),
            });
        KeyUsageReport {
            last_use,
            tracking_start_ns: log.events.first().and_then(|e| e.time_ns),
        }
    }
}
