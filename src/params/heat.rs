//! The Heat source: a stack's outputs, read through the Heat API and kept in the state
//! directory (`heat-outputs.json`, mode 0600) so `render` and `diff` work offline
//! afterwards; `params refresh` reads them again.
//!
//! Values keep their JSON types. An output is secret when its name or description says
//! so, or when the local evaluator finds an `OS::Heat::RandomString` behind it in the
//! template the stack was made from.

use super::local::LocalTemplate;
use super::{Origin, ParamSet, ParamsError};
use crate::openstack::heat::{Phase, Wait, not_ready};
use crate::openstack::{HeatClient, Stack};
use crate::secrets::is_secret;
use crate::state::StateDir;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;

const OUTPUTS_FILE: &str = "heat-outputs.json";

/// One stack's outputs as last read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedStack {
    pub stack: String,
    pub id: String,
    pub status: String,
    pub outputs: BTreeMap<String, SavedOutput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedOutput {
    pub value: Json,
    pub secret: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Reads the stack's outputs: the stack must be complete (or, with `wait`, become so).
/// `object_store` is the catalog's Swift URL, used for `swift_siteurl` when the stack
/// made the registry container there.
pub async fn fetch(
    heat: &HeatClient,
    name: &str,
    template: Option<&LocalTemplate>,
    object_store: Option<&str>,
    wait: Option<&Wait<'_>>,
) -> Result<SavedStack, ParamsError> {
    let stack_ref = heat.find(name).await?;
    let mut stack = heat.show(&stack_ref, true).await?;
    if let (Phase::InProgress, Some(wait)) = (stack.phase(), wait) {
        stack = heat.wait(&stack_ref, wait).await?;
    }
    match stack.phase() {
        Phase::Complete => from_stack(&stack, template, object_store),
        Phase::InProgress => Err(not_ready(&stack, Vec::new()).into()),
        Phase::Failed => Err(not_ready(&stack, heat.failed_resources(&stack_ref).await).into()),
    }
}

/// Converts a complete stack's outputs; every output with an error or no value is
/// reported at once.
pub fn from_stack(
    stack: &Stack,
    template: Option<&LocalTemplate>,
    object_store: Option<&str>,
) -> Result<SavedStack, ParamsError> {
    let mut problems = Vec::new();
    let mut outputs = BTreeMap::new();
    for o in &stack.outputs {
        if let Some(err) = &o.output_error {
            problems.push((o.output_key.clone(), err.clone()));
            continue;
        }
        if o.output_value.is_null() {
            problems.push((o.output_key.clone(), "the output has no value".into()));
            continue;
        }
        let secret = is_secret(&o.output_key, o.description.as_deref())
            || template.is_some_and(|t| {
                t.random_resources_behind(&o.output_key)
                    .is_ok_and(|r| !r.is_empty())
            });
        outputs.insert(
            o.output_key.clone(),
            SavedOutput {
                value: o.output_value.clone(),
                secret,
                description: o.description.clone(),
            },
        );
    }
    problems.sort();
    if !problems.is_empty() {
        return Err(ParamsError::OutputErrors {
            stack: stack.stack_name.clone(),
            problems,
        });
    }
    swift_site_url(stack, &mut outputs, object_store);
    Ok(SavedStack {
        stack: stack.stack_name.clone(),
        id: stack.id.clone(),
        status: stack.stack_status.clone(),
        outputs,
    })
}

/// Heat's Swift `WebsiteURL` is unreliable, so the template outputs the container's
/// name and the URL is built from the catalog's `object-store` endpoint — when the stack
/// created the container (`create_swift_container`) in this cloud's Swift.
fn swift_site_url(
    stack: &Stack,
    outputs: &mut BTreeMap<String, SavedOutput>,
    object_store: Option<&str>,
) {
    let made_container = stack
        .parameters
        .get("create_swift_container")
        .and_then(Json::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let (Some(store), true) = (object_store, made_container) else {
        return;
    };
    let Some(Json::String(container)) = outputs.get("swift_container").map(|o| o.value.clone())
    else {
        return;
    };
    let url = format!("{}/{}", store.trim_end_matches('/'), container);
    let description = Some(
        "URL of the registry's Swift container (the catalog's object-store endpoint + container)"
            .to_string(),
    );
    outputs.insert(
        "swift_siteurl".into(),
        SavedOutput {
            value: Json::String(url),
            secret: false,
            description,
        },
    );
}

/// The saved outputs of `stack`, or `None` when they were never read (or belong to
/// another stack).
pub fn saved(state: &StateDir, stack: &str) -> Result<Option<SavedStack>, ParamsError> {
    let saved: Option<SavedStack> = state.read_json(OUTPUTS_FILE)?;
    Ok(saved.filter(|s| s.stack == stack))
}

pub fn save(state: &StateDir, saved: &SavedStack) -> Result<(), ParamsError> {
    state.write_json(OUTPUTS_FILE, saved)?;
    Ok(())
}

/// The parameters from saved outputs.
pub fn to_params(saved: &SavedStack) -> ParamSet {
    let mut set = ParamSet::default();
    for (k, o) in &saved.outputs {
        set.insert(k.clone(), o.value.clone(), o.secret, Origin::Heat);
    }
    set
}

/// What changed between two reads of a stack's outputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Added {
        key: String,
        value: Json,
        secret: bool,
    },
    Removed {
        key: String,
        value: Json,
        secret: bool,
    },
    Changed {
        key: String,
        old: Json,
        new: Json,
        secret: bool,
    },
}

pub fn changes(old: Option<&SavedStack>, new: &SavedStack) -> Vec<Change> {
    let empty = BTreeMap::new();
    let before = old.map_or(&empty, |o| &o.outputs);
    let mut out = Vec::new();
    for (k, n) in &new.outputs {
        match before.get(k) {
            None => out.push(Change::Added {
                key: k.clone(),
                value: n.value.clone(),
                secret: n.secret,
            }),
            Some(o) if o.value != n.value => out.push(Change::Changed {
                key: k.clone(),
                old: o.value.clone(),
                new: n.value.clone(),
                secret: n.secret || o.secret,
            }),
            Some(_) => {}
        }
    }
    for (k, o) in before {
        if !new.outputs.contains_key(k) {
            out.push(Change::Removed {
                key: k.clone(),
                value: o.value.clone(),
                secret: o.secret,
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "heat_tests.rs"]
mod tests;
