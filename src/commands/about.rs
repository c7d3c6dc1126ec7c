//! `kube-openstack completion SHELL`, `man` and `version`: about the program itself, made
//! from the command-line definitions; they need no project.

use crate::cli::{self, CompletionArgs, ManArgs, VersionArgs};
use crate::printer::Printer;
use anyhow::Context as _;

pub fn completion(printer: &Printer, args: &CompletionArgs) -> anyhow::Result<u8> {
    printer.data(&String::from_utf8_lossy(&cli::completion(args.shell)));
    Ok(0)
}

pub fn man(printer: &Printer, args: &ManArgs) -> anyhow::Result<u8> {
    let pages = cli::man_pages();
    let Some(dir) = &args.dir else {
        printer.data(&String::from_utf8_lossy(&pages[0].1));
        return Ok(0);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    for (name, page) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, page)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    printer.status(
        "Wrote",
        format!("{} manual pages into `{}`", pages.len(), dir.display()),
    );
    Ok(0)
}

pub fn version(printer: &Printer, args: &VersionArgs) -> anyhow::Result<u8> {
    let version = env!("CARGO_PKG_VERSION");
    if !super::structured(
        printer,
        args.output,
        &serde_json::json!({ "version": version }),
    )? {
        printer.data(&format!("kube-openstack {version}\n"));
    }
    Ok(0)
}
