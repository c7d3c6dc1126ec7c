//! `kube-openstack userdata`: cloud-init multi-part user data on stdout or in a file.

use crate::cli::UserdataArgs;
use crate::printer::Printer;
use crate::settings::Project;
use crate::workflow::userdata::{self, Request};
use anyhow::{Context as _, bail};

pub fn run(project: &Project, printer: &Printer, args: &UserdataArgs) -> anyhow::Result<u8> {
    let request = Request {
        parts: args.parts.clone(),
        default_type: args.default_type.clone(),
        rendered: args.from_rendered.then(|| project.output_dir(&None)),
        handler_dir: args.with_handler.then(|| args.incoming_dir.clone()),
        merge: args.merge.clone(),
        gzip: args.gzip,
        limit: args.limit,
    };
    let output = args.output.as_ref().or(args.output_old.as_ref());
    if args.output_old.is_some() {
        printer.warn(
            "`userdata -o FILE` is the old spelling of `--output FILE` and goes in the next release (`-o` is the output format in every other command)",
        );
    }
    if args.gzip && output.is_none() && printer.stdout_is_terminal() {
        bail!("gzip-compressed user data is binary; redirect stdout or use `--output FILE`");
    }
    let bundle = userdata::bundle(&request, printer)?;
    match output {
        Some(path) => userdata::write_private(path, &bundle.bytes)
            .with_context(|| format!("cannot write `{}`", path.display()))?,
        None => printer
            .data_bytes(&bundle.bytes)
            .context("cannot write the user data to stdout")?,
    }
    let encoded = bundle.encoded_len();
    let share = encoded as f64 * 100.0 / bundle.limit as f64;
    let compressed = if bundle.gzipped {
        format!(", {} before gzip", bundle.uncompressed_len)
    } else {
        String::new()
    };
    printer.status(
        "Bundled",
        format!(
            "{} parts: {} bytes{compressed}; {encoded} base64-encoded, {share:.0}% of the {}-byte limit",
            bundle.parts,
            bundle.bytes.len(),
            bundle.limit
        ),
    );
    if bundle.near_limit() {
        let advice = if bundle.gzipped {
            ""
        } else {
            " (--gzip would make it smaller)"
        };
        printer.warn(format!(
            "the user data is close to the {}-byte limit{advice}",
            bundle.limit
        ));
    }
    Ok(0)
}
