//! What the local source keeps between runs: `params.json` in the state directory.

use super::local::GeneratedValues;
use crate::state::{StateDir, StoreError};
use serde::{Deserialize, Serialize};

const FILE: &str = "params.json";

/// The generated values, and the values `params regenerate` replaced.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SavedParams {
    pub generated: GeneratedValues,
    /// Values replaced by `params regenerate`, kept so diffs still mask them.
    #[serde(default)]
    pub retired: Vec<String>,
}

impl SavedParams {
    /// What `state` holds; nothing generated yet when there is no file.
    pub fn load(state: &StateDir) -> Result<SavedParams, StoreError> {
        Ok(state.read_json(FILE)?.unwrap_or_default())
    }

    pub fn save(&self, state: &StateDir) -> Result<(), StoreError> {
        state.write_json(FILE, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn params_round_trip_with_private_modes() {
        let t = tempfile::tempdir().unwrap();
        let state = StateDir::new(t.path().join(".kube-openstack"));
        let saved = SavedParams {
            retired: vec!["old".into()],
            ..SavedParams::default()
        };
        saved.save(&state).unwrap();
        assert_eq!(
            SavedParams::load(&state).unwrap().retired,
            vec!["old".to_string()]
        );
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(state.path()), 0o700);
        assert_eq!(mode(&state.path().join(FILE)), 0o600);
    }

    #[test]
    fn a_damaged_params_file_is_an_error_not_a_silent_reset() {
        let t = tempfile::tempdir().unwrap();
        let state = StateDir::new(t.path());
        std::fs::write(t.path().join(FILE), "{not json").unwrap();
        assert!(matches!(
            SavedParams::load(&state),
            Err(StoreError::Damaged { .. })
        ));
    }
}
