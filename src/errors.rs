//! Printing an error: `error:` with what we were doing, `Caused by:` for each cause, the
//! template diagnostics one per line, and a `hint:` where we know the fix.

use crate::params::ParamsError;
use crate::printer::Printer;
use crate::render::RenderError;
use crate::render::output::OutputError;

/// Exit codes: 0 success, 1 differences found (`diff`), 2 error.
pub const EXIT_ERROR: u8 = 2;
pub const EXIT_DIFFERENCES: u8 = 1;

pub fn report(printer: &Printer, err: &anyhow::Error) {
    let mut text = format!("{}: {err}\n", printer.error_label());
    for (i, cause) in err.chain().enumerate() {
        if i > 0 {
            text.push_str(&format!("\nCaused by:\n  {cause}\n"));
        }
        if let Some(RenderError::Templates(diagnostics)) = cause.downcast_ref::<RenderError>() {
            for d in diagnostics {
                text.push_str(&format!("  {d}\n"));
            }
        }
    }
    if let Some(hint) = hint(err) {
        text.push_str(&format!("\nhint: {hint}\n"));
    }
    if let Some(up) = err.downcast_ref::<crate::up::StepFailed>() {
        text.push_str(&format!("hint: {}\n", up.hint));
    }
    eprint!("{text}");
}

fn hint(err: &anyhow::Error) -> Option<String> {
    for cause in err.chain() {
        if let Some(h) = crate::images::hint(cause) {
            return Some(h);
        }
        if let Some(h) = crate::deploy::hint(cause) {
            return Some(h);
        }
        if let Some(e) = cause.downcast_ref::<OutputError>() {
            return match e {
                OutputError::NotARender(_) => Some(
                    "pass `--force` to replace it anyway, or choose another `--output-dir`".into(),
                ),
                OutputError::InPlace(_)
                | OutputError::InsideInput { .. }
                | OutputError::ContainsInput { .. } => Some(
                    "render into a directory beside the templates, e.g. `--output-dir kubernetes`"
                        .into(),
                ),
                _ => None,
            };
        }
        if let Some(e) = cause.downcast_ref::<RenderError>() {
            return match e {
                RenderError::Templates(d) if d.iter().any(|d| d.message.contains("is not defined")) => Some(
                    "define missing parameters with `-p KEY=VALUE`, an overrides file (`--overrides FILE`), or an output of the Heat template; `kube-openstack params show` lists what is defined".into(),
                ),
                RenderError::Unused(_) => Some("remove the parameters, use them in a template, or drop `--strict`".into()),
                _ => None,
            };
        }
        if let Some(e) = cause.downcast_ref::<crate::userdata::UserdataError>() {
            return e.hint();
        }
        if let Some(e) = cause.downcast_ref::<crate::sources::SourceError>() {
            return e.hint();
        }
        use crate::params::local::LocalError;
        // The evaluator's error travels boxed inside `ParamsError`.
        if let Some(e) = cause
            .downcast_ref::<LocalError>()
            .or_else(|| cause.downcast_ref::<Box<LocalError>>().map(|b| &**b))
        {
            return e.hint();
        }
        if let Some(e) = cause.downcast_ref::<crate::openstack::OpenStackError>() {
            return e.hint();
        }
        if let Some(ParamsError::Heat(e)) = cause.downcast_ref::<ParamsError>() {
            return e.hint();
        }
        if let Some(ParamsError::NoStack | ParamsError::HeatNotRead(_)) =
            cause.downcast_ref::<ParamsError>()
        {
            return Some("name the stack with `--stack NAME` (or `stack:` in kube-openstack.yaml) and read it with `kube-openstack params refresh`".into());
        }
        if let Some(ParamsError::OutputErrors { .. }) = cause.downcast_ref::<ParamsError>() {
            return Some("fix the resources behind those outputs (`kube-openstack stack show`), or give the values with `-p KEY=VALUE`".into());
        }
    }
    None
}
