//! Counting a scenario's attempts against the records of its topic, and the printed table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use crate::load::{Answer, Attempt};
use crate::stack::TopicContents;

/// Answers by kind; they add up to `calls`.
#[derive(Debug, Default)]
pub struct Counts {
    pub calls: usize,
    pub accepted: usize,
    pub unavailable: usize,
    pub other: usize,
    pub connection_errors: usize,
    /// The statuses counted in `other`.
    pub other_statuses: BTreeMap<u16, usize>,
}

impl Counts {
    pub fn of<'a>(attempts: impl IntoIterator<Item = &'a Attempt>) -> Self {
        let mut counts = Self::default();
        for attempt in attempts {
            counts.calls += 1;
            match attempt.answer.code() {
                Some(202) => counts.accepted += 1,
                Some(503) => counts.unavailable += 1,
                Some(code) => {
                    counts.other += 1;
                    *counts.other_statuses.entry(code).or_default() += 1;
                }
                None => counts.connection_errors += 1,
            }
        }
        counts
    }
}

/// What the topic says about the calls.
#[derive(Debug, Default)]
pub struct Ledger {
    pub counts: Counts,
    /// Distinct bodies sent (sequence numbers).
    pub events: usize,
    pub records: usize,
    /// Event ids answered 202 with no record carrying them.
    pub lost: Vec<String>,
    /// Records beyond the first for the same sequence number.
    pub duplicates: usize,
    /// Of those, bodies that had a 503 or connection error before being stored again.
    pub duplicates_after_retry: usize,
    /// Bodies stored although no attempt was answered 202 (the sender gave up first).
    pub stored_unacknowledged: usize,
    /// Bodies still unaccepted when the senders gave up.
    pub abandoned: usize,
    /// Records the broker showed only after one more was written.
    pub hidden_until_next_write: i64,
    pub broken: Vec<String>,
}

impl Ledger {
    pub fn new(attempts: &[Attempt], topic: &TopicContents) -> Self {
        let records = &topic.records;
        let mut ledger = Ledger {
            counts: Counts::of(attempts),
            records: records.len(),
            hidden_until_next_write: topic.hidden_until_next_write,
            ..Ledger::default()
        };
        let stored_ids: HashMap<&str, Option<u64>> = records
            .iter()
            .filter_map(|r| Some((r.event_id.as_deref()?, r.seq)))
            .collect();
        let mut stored_per_seq: HashMap<u64, usize> = HashMap::new();
        for seq in records.iter().filter_map(|r| r.seq) {
            *stored_per_seq.entry(seq).or_default() += 1;
        }
        let unreadable = records
            .iter()
            .filter(|r| r.event_id.is_none() || r.seq.is_none())
            .count();
        if unreadable > 0 {
            ledger.broken.push(format!(
                "{unreadable} records without an eventId or a payload seq"
            ));
        }

        let mut acked_seqs = HashSet::new();
        let mut retried_seqs = HashSet::new();
        let mut sent_seqs = HashSet::new();
        let mut missing_retry_after = 0;
        for attempt in attempts {
            sent_seqs.insert(attempt.seq);
            match &attempt.answer {
                Answer::Status {
                    code: 202,
                    event_id,
                    ..
                } => {
                    acked_seqs.insert(attempt.seq);
                    let Some(id) = event_id else {
                        ledger.broken.push(format!(
                            "seq {} answered 202 without an eventId",
                            attempt.seq
                        ));
                        continue;
                    };
                    match stored_ids.get(id.as_str()) {
                        None => ledger.lost.push(id.clone()),
                        Some(seq) if *seq != Some(attempt.seq) => ledger.broken.push(format!(
                            "event {id} answered for seq {} holds seq {seq:?}",
                            attempt.seq
                        )),
                        Some(_) => {}
                    }
                }
                Answer::Status {
                    code: 503,
                    retry_after,
                    ..
                } => {
                    retried_seqs.insert(attempt.seq);
                    missing_retry_after += usize::from(!retry_after);
                }
                Answer::ConnectionError => {
                    retried_seqs.insert(attempt.seq);
                }
                Answer::Status { .. } => {}
            }
        }
        if missing_retry_after > 0 {
            ledger.broken.push(format!(
                "{missing_retry_after} answers 503 without Retry-After"
            ));
        }
        if !ledger.lost.is_empty() {
            ledger.broken.push(format!(
                "{} events answered 202 are not in the topic (first: {})",
                ledger.lost.len(),
                ledger.lost[0]
            ));
        }

        ledger.events = sent_seqs.len();
        for (seq, stored) in &stored_per_seq {
            if *stored > 1 {
                ledger.duplicates += stored - 1;
                if retried_seqs.contains(seq) {
                    ledger.duplicates_after_retry += stored - 1;
                }
            }
            if !acked_seqs.contains(seq) {
                ledger.stored_unacknowledged += 1;
            }
        }
        ledger.abandoned = sent_seqs.difference(&acked_seqs).count();
        ledger
    }

    /// One line on where duplicates came from.
    pub fn duplicates_explained(&self) -> String {
        if self.duplicates == 0 {
            return "no duplicates".into();
        }
        let unexplained = self.duplicates - self.duplicates_after_retry;
        let mut line = format!(
            "{} duplicate records, {} of them of bodies whose earlier attempt was stored although \
             its sender got a 503 or no answer, and sent again (at-least-once delivery, not a \
             loss)",
            self.duplicates, self.duplicates_after_retry
        );
        if unexplained > 0 {
            line.push_str(&format!(
                "; {unexplained} of bodies sent only once (a producer retry the broker did not \
                 deduplicate)"
            ));
        }
        line
    }
}

/// One row of the table.
pub struct Row {
    pub name: &'static str,
    pub ledger: Ledger,
    /// From healing the fault to the scenario's sign of recovery (see the README).
    pub recovery: Option<Duration>,
    pub notes: Vec<String>,
    /// Broken invariants beyond the ledger's own.
    pub violations: Vec<String>,
}

impl Row {
    pub fn failures(&self) -> impl Iterator<Item = &String> {
        self.ledger.broken.iter().chain(&self.violations)
    }
}

pub fn seconds(duration: Duration) -> String {
    format!("{:.2}s", duration.as_secs_f64())
}

pub fn print_table(rows: &[Row], errors: &[(&'static str, String)]) {
    println!(
        "{:<30} {:>6} {:>6} {:>6} {:>6} {:>9} {:>5} {:>4}  recovery",
        "scenario", "calls", "202", "503", "other", "conn-err", "lost", "dup"
    );
    for row in rows {
        let c = &row.ledger.counts;
        println!(
            "{:<30} {:>6} {:>6} {:>6} {:>6} {:>9} {:>5} {:>4}  {}",
            row.name,
            c.calls,
            c.accepted,
            c.unavailable,
            c.other,
            c.connection_errors,
            row.ledger.lost.len(),
            row.ledger.duplicates,
            row.recovery.map_or("-".into(), seconds),
        );
    }
    for (name, error) in errors {
        println!("{name:<30} could not run: {error}");
    }
    println!();
    for row in rows {
        let l = &row.ledger;
        println!(
            "{}: {} bodies sent, {} records; {}; {} stored without a 202 reaching the sender, \
             {} never accepted; {} records readable only after one more was written",
            row.name,
            l.events,
            l.records,
            l.duplicates_explained(),
            l.stored_unacknowledged,
            l.abandoned,
            l.hidden_until_next_write
        );
        if !l.counts.other_statuses.is_empty() {
            println!("    other answers by status: {:?}", l.counts.other_statuses);
        }
        for note in &row.notes {
            println!("    {note}");
        }
        for failure in row.failures() {
            println!("    FAILED: {failure}");
        }
    }
}
