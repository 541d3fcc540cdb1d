//! `keyledger trail export`: the usage events of a time range as CloudTrail log files, one
//! per hour, with signed, chained digests (`replay::export` is the format and the verifier).

use super::evidence::unseal_signer;
use crate::crypto::root_key::RootKey;
use crate::domain::events::{DomainEvent, Envelope};
use crate::ledger::LedgerReader;
use replay::export::{Exported, Hour};
use std::path::Path;
use time::OffsetDateTime;

/// Hours one export may span at most (a year): the digests of every hour are written.
const MAX_HOURS: i64 = 366 * 24;

/// Export the usage events with `from <= time < to` (whole hours around them) into `out`.
pub async fn export(
    reader: &LedgerReader,
    root: &RootKey,
    from: OffsetDateTime,
    to: OffsetDateTime,
    out: &Path,
) -> anyhow::Result<Exported> {
    if from >= to {
        anyhow::bail!("--from must be before --to");
    }
    let first_hour = from
        .replace_minute(0)?
        .replace_second(0)?
        .replace_nanosecond(0)?;
    let hours = ((to - first_hour).whole_seconds() + 3599) / 3600;
    if hours > MAX_HOURS {
        anyhow::bail!("an export spans at most {MAX_HOURS} hours; split the range");
    }
    // The note key signs the digests, as it signs the checkpoints.
    let mut key = None;
    for event in reader.read_lifecycle(0).await? {
        let envelope = Envelope::decode(&event.data).map_err(anyhow::Error::msg)?;
        if let Some(DomainEvent::TrailKeyCreated(k)) = envelope.lifecycle() {
            key = Some(k.clone());
        }
    }
    let key =
        key.ok_or_else(|| anyhow::anyhow!("the ledger has no trail key (start the server once)"))?;
    let signer = unseal_signer(root, &key)?;

    let mut buckets: Vec<Hour> = (0..hours)
        .map(|h| Hour {
            start: first_hour + time::Duration::hours(h),
            records: Vec::new(),
        })
        .collect();
    let (from_ns, to_ns) = (from.unix_timestamp_nanos(), to.unix_timestamp_nanos());
    let start_ns = first_hour.unix_timestamp_nanos();
    let mut after = 0;
    loop {
        let page = reader.read_all(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for event in page {
            let Some(t) = event.time_ns.map(i128::from) else {
                continue;
            };
            if event.stream.is_some() || t < from_ns || t >= to_ns {
                continue;
            }
            let mut json: serde_json::Value = serde_json::from_slice(&event.data)?;
            if json["event_type"] != "ApiCallRecorded" {
                continue;
            }
            let hour = ((t - start_ns) / 3_600_000_000_000) as usize;
            buckets[hour].records.push(json["body"].take());
        }
    }
    Ok(replay::export::write_export(
        out,
        key.account_id.as_str(),
        &buckets,
        &signer,
    )?)
}
