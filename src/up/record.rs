//! The record `up` keeps in the state directory (`up.json`): for each step, a digest of
//! the inputs it last completed with, and for the cluster steps what the objects looked
//! like when it finished. A step whose inputs and objects still match is not redone.
//! The record is written after every step (atomically), so an interrupted run loses at
//! most the step it was in.

use super::Step;
use crate::state::{StateDir, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const FILE: &str = "up.json";
const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    #[serde(default)]
    pub steps: BTreeMap<Step, StepRecord>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    /// Digest of what the step was given (parameters, rendered tree, build contexts).
    pub inputs: String,
    /// Seconds since the epoch when it completed.
    pub completed: u64,
    /// One line: what it did.
    pub detail: String,
    /// Per-item digests (the params step: each parameter's value), to say what changed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digests: BTreeMap<String, String>,
    /// Cluster steps: each object as it was left, by `Kind/name`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objects: BTreeMap<String, Mark>,
    /// One-shot pods deleted by `clean-jobs` once they had succeeded on these inputs:
    /// their absence is not a change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleaned: Vec<String>,
}

/// What identifies an object as this tool left it: its uid (a recreated object is a new
/// one) and a digest of the fields this tool's field manager owns (anyone taking over or
/// removing one of them changes it; changes to other fields do not matter, since applying
/// again would not touch them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Mark {
    pub uid: String,
    pub fields: String,
}

impl Record {
    /// The record, or an empty one when there is none (or it is of another version: the
    /// only cost of forgetting is a run that checks everything).
    pub fn load(state: &StateDir) -> Result<Record, StoreError> {
        let record: Option<Record> = state.read_json(FILE)?;
        Ok(record.filter(|r| r.version == VERSION).unwrap_or_default())
    }

    pub fn save(&mut self, state: &StateDir) -> Result<(), StoreError> {
        self.version = VERSION;
        state.write_json(FILE, self)
    }

    pub fn path(state: &StateDir) -> std::path::PathBuf {
        state.path().join(FILE)
    }

    /// The step's record when it last completed with exactly these inputs.
    pub fn matching(&self, step: Step, inputs: &str) -> Option<&StepRecord> {
        self.steps.get(&step).filter(|r| r.inputs == inputs)
    }

    pub fn complete(&mut self, step: Step, record: StepRecord) {
        self.steps.insert(step, record);
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_only_the_same_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        let mut r = Record::load(&state).unwrap();
        assert!(r.steps.is_empty());
        for (step, inputs) in [
            (Step::Params, "a"),
            (Step::Render, "b"),
            (Step::Deploy, "c"),
        ] {
            r.complete(
                step,
                StepRecord {
                    inputs: inputs.into(),
                    ..StepRecord::default()
                },
            );
        }
        r.save(&state).unwrap();
        let back = Record::load(&state).unwrap();
        assert!(back.matching(Step::Render, "b").is_some());
        assert!(back.matching(Step::Render, "x").is_none());
        assert!(back.matching(Step::Images, "b").is_none());
        let text = std::fs::read_to_string(Record::path(&state)).unwrap();
        assert!(text.contains("\"params\""), "{text}");
    }

    #[test]
    fn another_version_is_an_empty_record() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), r#"{"version": 99, "steps": {}}"#).unwrap();
        let r = Record::load(&StateDir::new(dir.path())).unwrap();
        assert!(r.steps.is_empty());
    }
}
