//! What the check-ins came to, for `GET /metrics` (SPEC §11): tickets admitted, scans answered
//! again for a repeated `Idempotency-Key`, and refusals by reason.
//!
//! Counted when the answer is given, so a check-in the storage did not keep is not counted as
//! admitted (it is a 503 in the request counters instead).

use crate::records::Reason;
use crate::storage::{CheckIn, StorageError};
use service_kit::Exposition;
use std::sync::atomic::{AtomicU64, Ordering};

/// The check-in outcomes since the service started.
#[derive(Debug, Default)]
pub struct Outcomes {
    admitted: AtomicU64,
    repeated: AtomicU64,
    /// In the order of [`Reason::ALL`].
    refused: [AtomicU64; Reason::ALL.len()],
}

impl Outcomes {
    /// Counts the outcome of one check-in.
    pub fn count(&self, outcome: &Result<CheckIn, StorageError>) {
        let counter = match outcome {
            Ok(CheckIn::Created(_)) => &self.admitted,
            Ok(CheckIn::Repeated(_)) => &self.repeated,
            Ok(CheckIn::AlreadyCheckedIn(_)) => self.refusals(Reason::AlreadyCheckedIn),
            Ok(CheckIn::Refused(reason)) => self.refusals(*reason),
            Ok(CheckIn::KeyReused) | Err(_) => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn refusals(&self, reason: Reason) -> &AtomicU64 {
        let at = Reason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        &self.refused[at]
    }

    /// Adds the families `tixgo_checkins_total`, `tixgo_checkin_repeats_total` and
    /// `tixgo_checkin_refusals_total{reason}` (every reason, counted or not) to `text`.
    pub fn add_to(&self, text: &mut Exposition) {
        let value = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        text.counter(
            "tixgo_checkins_total",
            "Tickets admitted: check-ins created and durable.",
            &[(Vec::new(), value(&self.admitted))],
        );
        text.counter(
            "tixgo_checkin_repeats_total",
            "Check-ins answered again for a repeated Idempotency-Key.",
            &[(Vec::new(), value(&self.repeated))],
        );
        let refusals: Vec<_> = Reason::ALL
            .iter()
            .map(|reason| {
                let labels = vec![("reason", reason.name().to_owned())];
                (labels, value(self.refusals(*reason)))
            })
            .collect();
        text.counter(
            "tixgo_checkin_refusals_total",
            "Scans refused, by the reason the gate was shown.",
            &refusals,
        );
    }
}
