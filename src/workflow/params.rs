//! Reading the parameters as the settings say (a Heat stack's outputs are read into the
//! state directory first when they never were), rotating generated values, and reading a
//! stack again (`params refresh`).

use super::openstack::{self, with_wait};
use crate::params::heat::{self, Change, SavedStack};
use crate::params::local::LocalTemplate;
use crate::params::saved::SavedParams;
use crate::params::{self, ParamSet, ParamsError, SourceKind};
use crate::printer::Printer;
use crate::secrets::Masker;
use crate::settings::ParamsSettings;
use crate::state::StateDir;
use anyhow::Context as _;
use serde_json::Value as Json;

/// The parameters, holding the state lock meanwhile.
pub fn load(s: &ParamsSettings, printer: &Printer) -> anyhow::Result<ParamSet> {
    let _lock = s.state.lock()?;
    if s.request.source == SourceKind::Heat {
        read_if_missing(s, printer)?;
    }
    params::load(&s.request, &s.state, &mut |w| printer.warn(w))
        .context("cannot read the parameters")
}

/// The parameters for a command that only reads (`params show`, `params get`, `diff`),
/// with the state lock it holds meanwhile: shared, so such commands run beside each
/// other, and none runs while another writes. A first run that must generate values (or
/// read a stack's outputs) writes them under the exclusive lock first, as [`load`].
pub fn read_only(
    s: &ParamsSettings,
    printer: &Printer,
) -> anyhow::Result<(ParamSet, crate::state::StateLock)> {
    for _ in 0..2 {
        let shared = s.state.lock_shared()?;
        let heat_unread = s.request.source == SourceKind::Heat
            && s.request
                .stack
                .as_deref()
                .is_none_or(|stack| !matches!(heat::saved(&s.state, stack), Ok(Some(_))));
        if !heat_unread {
            let mut warnings = Vec::new();
            let saved = params::load_saved(&s.request, &s.state, &mut |w| warnings.push(w))
                .context("cannot read the parameters")?;
            if let Some(set) = saved {
                warnings.into_iter().for_each(|w| printer.warn(w));
                return Ok((set, shared));
            }
        }
        drop(shared);
        load(s, printer)?;
    }
    anyhow::bail!(
        "the parameters in `{}` keep changing while being read; try again",
        s.state.path().display()
    )
}

/// As [`load`], keeping nothing: values the local source generates now are made on a
/// scratch copy of the saved ones (a dry run changes nothing).
pub fn load_keeping_nothing(s: &ParamsSettings, printer: &Printer) -> anyhow::Result<ParamSet> {
    if s.request.source != SourceKind::Local {
        return load(s, printer);
    }
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let copy = StateDir::new(scratch.path());
    SavedParams::load(&s.state)?.save(&copy)?;
    params::load(&s.request, &copy, &mut |w| printer.warn(w)).context("cannot read the parameters")
}

/// New values for the generated values behind `keys`; returns the resources rotated.
pub fn regenerate(
    s: &ParamsSettings,
    printer: &Printer,
    keys: &[String],
) -> anyhow::Result<Vec<String>> {
    let lock = s.state.lock()?;
    let rotated =
        params::regenerate(&s.request, &s.state, keys).context("cannot regenerate parameters")?;
    drop(lock);
    // Evaluate now so the new values exist (and are kept) before anything renders.
    load(s, printer)?;
    Ok(rotated)
}

/// Reads the stack's outputs unless the state already holds them. The caller holds the
/// state lock.
fn read_if_missing(s: &ParamsSettings, printer: &Printer) -> anyhow::Result<()> {
    let stack = s.request.stack.clone().ok_or(ParamsError::NoStack)?;
    if heat::saved(&s.state, &stack)?.is_some() {
        return Ok(());
    }
    let saved = read(s, printer, &stack)?;
    heat::save(&s.state, &saved)?;
    printer.status(
        "Read",
        format!("{} outputs of stack `{stack}`", saved.outputs.len()),
    );
    Ok(())
}

/// What `params refresh` found: every change (secrets masked), and how many outputs.
#[derive(Debug, serde::Serialize)]
pub struct Refreshed {
    pub stack: String,
    pub outputs: usize,
    pub changes: Vec<Shown>,
}

/// One output that changed, as it may be shown.
#[derive(Debug, serde::Serialize)]
pub struct Shown {
    pub key: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

impl Shown {
    /// `+ key: value`, `- key: value` or `~ key: old -> new`.
    pub fn line(&self) -> String {
        let (old, new) = (self.old.as_deref(), self.new.as_deref());
        match (old, new) {
            (None, Some(new)) => format!("+ {}: {new}", self.key),
            (Some(old), None) => format!("- {}: {old}", self.key),
            (old, new) => format!(
                "~ {}: {} -> {}",
                self.key,
                old.unwrap_or_default(),
                new.unwrap_or_default()
            ),
        }
    }
}

/// `params refresh`: reads the outputs again, saves them, and describes each change.
pub fn refresh(
    s: &ParamsSettings,
    printer: &Printer,
    show_secrets: bool,
) -> anyhow::Result<Refreshed> {
    if s.request.source != SourceKind::Heat {
        anyhow::bail!(
            "`params refresh` reads a Heat stack again; the parameter source is not `heat` (pass `--source heat`)"
        );
    }
    let stack = s.request.stack.clone().ok_or(ParamsError::NoStack)?;
    let _lock = s.state.lock()?;
    let old = heat::saved(&s.state, &stack)?;
    let new = read(s, printer, &stack)?;
    let changes = heat::changes(old.as_ref(), &new);
    heat::save(&s.state, &new)?;
    let masker = Masker::build(&s.state, secrets(old.as_ref(), &new), show_secrets)?;
    Ok(Refreshed {
        stack,
        outputs: new.outputs.len(),
        changes: changes.iter().map(|c| describe(c, &masker)).collect(),
    })
}

fn read(s: &ParamsSettings, printer: &Printer, stack: &str) -> anyhow::Result<SavedStack> {
    // The template the stack was made from tells which outputs are generated secrets;
    // without it, names and descriptions still do.
    let path = &s.request.heat_template;
    let template = crate::files::read_to_string(path)
        .ok()
        .and_then(|text| LocalTemplate::parse(&text, &path.display().to_string()).ok());
    with_wait(printer, stack, &s.wait, |w| {
        crate::rt::block_on(async {
            let (session, heat_client, resolved) =
                openstack::connect(&s.openstack, printer).await?;
            let object_store = session
                .endpoint(
                    "object-store",
                    resolved.cloud.region.as_deref(),
                    resolved.cloud.interface,
                )
                .ok();
            let wait = s.wait.wait.then_some(w);
            heat::fetch(
                &heat_client,
                stack,
                template.as_ref(),
                object_store.as_deref(),
                wait,
            )
            .await
        })
    })
    .with_context(|| format!("cannot read the outputs of stack `{stack}`"))
}

fn secrets(old: Option<&SavedStack>, new: &SavedStack) -> Vec<String> {
    old.into_iter()
        .chain([new])
        .flat_map(|s| s.outputs.values())
        .filter(|o| o.secret)
        .map(|o| text(&o.value))
        .collect()
}

/// A JSON value as text: strings as they are, other values as JSON.
pub fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn shown(v: &Json, secret: bool, masker: &Masker) -> String {
    if secret {
        masker.mask(&text(v))
    } else {
        text(v)
    }
}

fn describe(c: &Change, masker: &Masker) -> Shown {
    let shown = |v: &Json, secret: bool| Some(shown(v, secret, masker));
    match c {
        Change::Added { key, value, secret } => Shown {
            key: key.clone(),
            change: "added",
            old: None,
            new: shown(value, *secret),
        },
        Change::Removed { key, value, secret } => Shown {
            key: key.clone(),
            change: "removed",
            old: shown(value, *secret),
            new: None,
        },
        Change::Changed {
            key,
            old,
            new,
            secret,
        } => Shown {
            key: key.clone(),
            change: "changed",
            old: shown(old, *secret),
            new: shown(new, *secret),
        },
    }
}
