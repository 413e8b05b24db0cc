//! [`Command`]: what a client asks the replicated state machine to do, and
//! [`Response`]: what applying it answers.

use lsmkit_engine::WriteBatch;
use serde::{Deserialize, Serialize};

use crate::format::data_key;

/// A change to the replicated key-value map, applied atomically once its
/// log entry is committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Sets `key` to `value`.
    Put {
        /// The key.
        key: Vec<u8>,
        /// Its new value.
        value: Vec<u8>,
    },
    /// Deletes `key`.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// Deletes every key in `[start, end)`; an empty range deletes nothing.
    DeleteRange {
        /// The first key deleted.
        start: Vec<u8>,
        /// The first key not deleted.
        end: Vec<u8>,
    },
    /// Applies every command in order, all or none (a batch nests at most
    /// [`MAX_BATCH_DEPTH`](crate::format::MAX_BATCH_DEPTH) deep).
    Batch(Vec<Command>),
}

impl Command {
    /// Adds this command's writes to `batch`, under the state machine's key
    /// prefix.
    pub(crate) fn write_to(&self, batch: &mut WriteBatch) {
        match self {
            Command::Put { key, value } => {
                batch.put(&data_key(key), value);
            }
            Command::Delete { key } => {
                batch.delete(&data_key(key));
            }
            Command::DeleteRange { start, end } => {
                if start < end {
                    batch.delete_range(data_key(start)..data_key(end));
                }
            }
            Command::Batch(commands) => {
                for command in commands {
                    command.write_to(batch);
                }
            }
        }
    }

    /// Applies this command to a `BTreeMap` model of the state machine
    /// (what tests compare every node against).
    pub fn apply_to_model(&self, model: &mut std::collections::BTreeMap<Vec<u8>, Vec<u8>>) {
        match self {
            Command::Put { key, value } => {
                model.insert(key.clone(), value.clone());
            }
            Command::Delete { key } => {
                model.remove(key);
            }
            Command::DeleteRange { start, end } => {
                if start < end {
                    model.retain(|k, _| k < start || k >= end);
                }
            }
            Command::Batch(commands) => {
                for command in commands {
                    command.apply_to_model(model);
                }
            }
        }
    }
}

/// The answer to an applied entry: the log index it was applied at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The log index of the entry.
    pub index: u64,
}
