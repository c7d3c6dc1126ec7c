//! Errors of local template evaluation.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

/// How long a chain of resources (or conditions) each referring to the next may be.
/// Heat allows 1000 resources a stack; a chain of a hundred is already far past any
/// real template, and each link costs a few frames of the evaluator's recursion.
pub const MAX_CHAIN: usize = 100;

/// Why a template could not be parsed or evaluated locally.
///
/// Every message names the template and where in it the problem is; values of
/// hidden parameters and generated secrets never appear.
#[derive(Debug, Clone, Error)]
pub enum LocalError {
    #[error("`{template}` is not valid YAML")]
    Yaml {
        template: String,
        #[source]
        source: Arc<serde_yaml::Error>,
    },
    /// The template's overall shape: sections, version.
    #[error("`{template}`: {message}")]
    Template { template: String, message: String },
    /// A resource, output, parameter or condition is malformed.
    #[error("`{template}`: {at}: {message}")]
    Invalid {
        template: String,
        at: String,
        message: String,
    },
    /// An intrinsic function got arguments it cannot use.
    #[error("`{template}`: {at}: `{function}`: {message}")]
    Function {
        template: String,
        at: String,
        function: String,
        message: String,
    },
    #[error(
        "`{template}`: {at}: {kind} `{name}` is not defined{}",
        known_list(known)
    )]
    UnknownReference {
        template: String,
        at: String,
        kind: RefKind,
        name: String,
        known: Vec<String>,
    },
    #[error(
        "unknown stack parameter `{name}`: `{template}` declares{}",
        names_or_none(known)
    )]
    UnknownParameter {
        template: String,
        name: String,
        known: Vec<String>,
    },
    #[error("{} of `{template}` {} no value and no default: {}", plural(names.len(), "stack parameter"), if names.len() == 1 { "has" } else { "have" }, ticked(names))]
    MissingParameters {
        template: String,
        names: Vec<String>,
    },
    #[error("stack parameter `{name}` of `{template}`: {message}")]
    ParameterValue {
        template: String,
        name: String,
        message: String,
    },
    #[error("`{template}`: circular dependency between {kind}: {}", chain.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" -> "))]
    Cycle {
        template: String,
        kind: &'static str,
        chain: Vec<String>,
    },
    #[error(
        "`{template}`: {kind} refer to each other more than {MAX_CHAIN} deep: `{first}` -> ... -> `{last}`"
    )]
    TooDeep {
        template: String,
        kind: &'static str,
        first: String,
        last: String,
    },
    #[error("cannot evaluate {} of `{template}` without a cloud:{}", plural(outputs.len(), "output"), outputs.iter().map(|o| format!("\n  {o}")).collect::<String>())]
    CannotEvaluate {
        template: String,
        outputs: Vec<OutputNeeds>,
    },
    #[error(
        "`{key}` is neither an output nor a resource of `{template}`{}",
        candidates_list(outputs, resources)
    )]
    UnknownKey {
        template: String,
        key: String,
        outputs: Vec<String>,
        resources: Vec<String>,
    },
}

impl crate::report::Hint for LocalError {
    /// What the user can do about it, when there is something to say.
    fn hint(&self) -> Option<String> {
        match self {
            LocalError::CannotEvaluate { outputs, .. } => Some(cannot_evaluate_hint(outputs)),
            LocalError::MissingParameters { names, .. } => Some(format!(
                "pass {}",
                names
                    .iter()
                    .map(|n| format!("`-P {n}=VALUE`"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            LocalError::UnknownParameter { .. } => {
                Some("stack parameters are declared in the template's `parameters` section".into())
            }
            _ => None,
        }
    }
}

fn cannot_evaluate_hint(outputs: &[OutputNeeds]) -> String {
    let overrides: Vec<String> = outputs
        .iter()
        .map(|o| format!("`-p {}=VALUE`", o.output))
        .collect();
    let mut switches: Vec<String> = outputs
        .iter()
        .flat_map(|o| &o.needs)
        .flat_map(|n| match n {
            CloudNeed::Resource {
                condition_params, ..
            } => condition_params.clone(),
            _ => Vec::new(),
        })
        .collect();
    switches.sort();
    switches.dedup();
    let disable = if switches.is_empty() {
        "set the stack parameter that disables the resource".to_string()
    } else {
        format!(
            "set the stack parameter that disables the resource ({})",
            switches
                .iter()
                .map(|p| format!("`-P {p}=...`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "pass {} or an overrides file, {disable}, or read the parameters from a real stack with `--source heat`",
        overrides.join(" ")
    )
}

/// What a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Resource,
    Parameter,
    Condition,
}

impl fmt::Display for RefKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefKind::Resource => "resource",
            RefKind::Parameter => "parameter",
            RefKind::Condition => "condition",
        })
    }
}

/// Something only a real stack has.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum CloudNeed {
    /// A resource of a type only a cloud can create.
    Resource {
        name: String,
        resource_type: String,
        /// Stack parameters its `condition` reads: setting one may disable it.
        condition_params: Vec<String>,
    },
    /// The physical id Heat assigns to a resource (`get_resource` of it).
    ResourceId { name: String, resource_type: String },
    /// `OS::stack_name`, `OS::stack_id`, `OS::project_id`.
    PseudoParameter { name: String },
}

impl fmt::Display for CloudNeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloudNeed::Resource {
                name,
                resource_type,
                ..
            } => {
                write!(
                    f,
                    "resource `{name}` ({resource_type}), which only a cloud can create"
                )
            }
            CloudNeed::ResourceId {
                name,
                resource_type,
            } => {
                write!(
                    f,
                    "the id Heat assigns to resource `{name}` ({resource_type})"
                )
            }
            CloudNeed::PseudoParameter { name } => {
                write!(f, "pseudo parameter `{name}`, which only a real stack has")
            }
        }
    }
}

/// An output and what it needs from a cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputNeeds {
    pub output: String,
    pub needs: Vec<CloudNeed>,
}

impl fmt::Display for OutputNeeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needs: Vec<String> = self.needs.iter().map(ToString::to_string).collect();
        write!(f, "output `{}` needs {}", self.output, needs.join(" and "))
    }
}

/// How an evaluation step failed: for lack of a cloud (collected per output,
/// so all such outputs are reported together) or for a real error.
#[derive(Debug, Clone)]
pub(crate) enum Fail {
    Cloud(Vec<CloudNeed>),
    Error(Box<LocalError>),
}

impl From<LocalError> for Fail {
    fn from(e: LocalError) -> Self {
        Fail::Error(Box::new(e))
    }
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(" (known: {})", ticked(known))
    }
}

fn names_or_none(known: &[String]) -> String {
    if known.is_empty() {
        " no parameters".into()
    } else {
        format!(" {}", ticked(known))
    }
}

fn candidates_list(outputs: &[String], resources: &[String]) -> String {
    format!(
        "; outputs: {}; resources: {}",
        ticked_or_none(outputs),
        ticked_or_none(resources)
    )
}

fn ticked_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        ticked(names)
    }
}

fn ticked(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
