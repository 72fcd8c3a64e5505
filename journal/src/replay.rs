//! Reading the journal back at start, with the two rules for a bad line.
//!
//! A bad *last* line (no newline, a wrong checksum, unparsable JSON) is what a crash in the
//! middle of a write leaves behind: its writer was never answered, so it is cut off with a
//! warning. A bad line anywhere else is damage (a disk error, a hand edit): refusing to start
//! with the file and line number is better than silently discarding what follows it.

use crate::error::{io_error, JournalError};
use crate::line;
use crate::memory::MemoryLimit;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// What a replay found besides the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// The journal file that was replayed.
    pub path: PathBuf,
    /// Records replayed.
    pub records: u64,
    /// Set when a torn last line was cut off: its 1-based line number.
    pub dropped_torn_line: Option<u64>,
}

/// How many lines are replayed between two looks at the process's memory.
const LINES_PER_MEMORY_CHECK: u64 = 4096;

/// Replays every good line of `file` (at `path`) into `apply`; returns the report and the length
/// of the good prefix, which is where the file must be cut if a torn line follows it.
///
/// `apply` may refuse a record (an impossible change); that is damage at its line. Every
/// [`LINES_PER_MEMORY_CHECK`] lines the process's memory is compared with its limit, and the
/// replay stops with [`JournalError::OutgrewMemory`] before it can be killed for it.
pub(crate) fn replay<T, F>(
    path: &Path,
    file: &File,
    apply: &mut F,
) -> Result<(ReplayReport, u64), JournalError>
where
    T: DeserializeOwned,
    F: FnMut(T) -> Result<(), String>,
{
    let corrupt = |line, reason| JournalError::Corrupt {
        path: path.to_owned(),
        line,
        reason,
    };
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut report = ReplayReport {
        path: path.to_owned(),
        records: 0,
        dropped_torn_line: None,
    };
    let mut text = Vec::new();
    let mut line_no = 0u64;
    let mut good_len = 0u64;
    // A bad line is only forgiven if nothing follows it.
    let mut bad: Option<(u64, String)> = None;
    let budget = MemoryLimit::of_this_process();
    loop {
        text.clear();
        let n = reader
            .read_until(b'\n', &mut text)
            .map_err(io_error("read", path))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if line_no.is_multiple_of(LINES_PER_MEMORY_CHECK) {
            if let Some((resident, budget)) = budget.and_then(|b| Some((b.exceeded()?, b))) {
                return Err(JournalError::OutgrewMemory {
                    path: path.to_owned(),
                    line: line_no,
                    resident,
                    limit: budget.bytes(),
                });
            }
        }
        if let Some((bad_line, reason)) = bad.take() {
            return Err(corrupt(bad_line, reason));
        }
        let Some(body) = text.strip_suffix(b"\n") else {
            bad = Some((line_no, "no end of line".to_owned()));
            continue;
        };
        let record = line::decode(body).and_then(|json| {
            serde_json::from_slice::<T>(json).map_err(|e| format!("unreadable record: {e}"))
        });
        match record {
            Ok(record) => {
                apply(record).map_err(|reason| corrupt(line_no, reason))?;
                report.records += 1;
                good_len += n as u64;
            }
            Err(reason) => bad = Some((line_no, reason)),
        }
    }
    report.dropped_torn_line = bad.map(|(bad_line, _)| bad_line);
    Ok((report, good_len))
}
