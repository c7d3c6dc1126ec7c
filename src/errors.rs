//! Printing an error: `error:` with what we were doing, `Caused by:` for each cause, the
//! template diagnostics one per line, and a `hint:` where we know the fix.

use crate::params::ParamsError;
use crate::printer::Printer;
use crate::render::output::OutputError;
use crate::render::RenderError;

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
    eprint!("{text}");
}

fn hint(err: &anyhow::Error) -> Option<String> {
    for cause in err.chain() {
        if let Some(h) = crate::deploy::hint(cause) {
            return Some(h);
        }
        if let Some(e) = cause.downcast_ref::<OutputError>() {
            return match e {
                OutputError::NotARender(_) => Some("pass `--force` to replace it anyway, or choose another `--output-dir`".into()),
                OutputError::InPlace(_) | OutputError::InsideInput { .. } | OutputError::ContainsInput { .. } => {
                    Some("render into a directory beside the templates, e.g. `--output-dir kubernetes`".into())
                }
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
        use crate::params::local::LocalError;
        // The evaluator's error travels boxed inside `ParamsError`.
        if let Some(e) = cause.downcast_ref::<LocalError>().or_else(|| cause.downcast_ref::<Box<LocalError>>().map(|b| &**b)) {
            return e.hint();
        }
        if let Some(e) = cause.downcast_ref::<ParamsError>()
            && matches!(e, ParamsError::HeatUnavailable)
        {
            return Some(
                "save a stack's outputs with `openstack stack output show --all -f json STACK > outputs.json` and use `--source file --params-file outputs.json`".into(),
            );
        }
    }
    None
}
