//! `kube-openstack userdata`: cloud-init multi-part user data on stdout or in a file.

use crate::cli::UserdataArgs;
use crate::deploy::manifest;
use crate::deploy::plan::Plan;
use crate::printer::Printer;
use crate::settings::Project;
use crate::userdata::{self, Part, PartSpec};
use anyhow::{Context as _, bail};
use std::io::{IsTerminal as _, Write as _};

pub fn run(project: &Project, printer: &Printer, args: &UserdataArgs) -> anyhow::Result<u8> {
    let specs: Vec<PartSpec> = args.parts.iter().map(|p| PartSpec::parse(p)).collect();
    let mut parts = userdata::collect(&specs, &args.default_type)?;
    if args.from_rendered {
        parts.extend(rendered_parts(&project.output_dir(&None))?);
    }
    if args.with_handler {
        parts.insert(
            0,
            userdata::part_handler(&args.incoming_dir, &kube_types(&parts)),
        );
    }
    if args.gzip && args.output.is_none() && std::io::stdout().is_terminal() {
        bail!("gzip-compressed user data is binary; redirect stdout or use `-o FILE`");
    }
    let bundle = userdata::bundle(&parts, args.merge.as_deref(), args.gzip, args.limit)?;
    warn_about_secrets(printer, &parts);
    match &args.output {
        Some(path) => write_private(path, &bundle.bytes)
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

/// One part per object of the rendered tree, in an order that puts every object after
/// what it depends on (declared and inferred edges), lower kinds first among equals.
fn rendered_parts(dir: &std::path::Path) -> anyhow::Result<Vec<Part>> {
    let manifests = manifest::load_tree(dir)
        .with_context(|| format!("cannot read the rendered tree `{}`", dir.display()))?;
    let plan = Plan::build(manifests)
        .with_context(|| format!("invalid dependencies in `{}`", dir.display()))?;
    let mut done = vec![false; plan.nodes.len()];
    let mut parts = Vec::with_capacity(plan.nodes.len());
    while parts.len() < plan.nodes.len() {
        // Plan order is kind order; take the first node whose dependencies are all out.
        let next = (0..plan.nodes.len())
            .find(|&i| !done[i] && plan.nodes[i].deps.iter().all(|e| done[e.on]))
            .expect("the plan has no cycle");
        done[next] = true;
        let m = &plan.nodes[next].manifest;
        let body = serde_yaml::to_string(&m.body).context("an object serialises to YAML")?;
        parts.push(Part {
            filename: format!("{}-{}.yaml", m.id.kind.to_ascii_lowercase(), m.id.name),
            content_type: userdata::kube_type(&m.id.kind),
            body: body.into_bytes(),
            origin: dir.join(&m.file),
        });
    }
    Ok(parts)
}

/// Every Kubernetes type in the bundle, plus the three the 2014 handler knew, so the
/// handler claims exactly what it should.
fn kube_types(parts: &[Part]) -> Vec<String> {
    let mut types: Vec<String> = [
        "text/x-kube-pod",
        "text/x-kube-service",
        "text/x-kube-replica",
    ]
    .map(String::from)
    .to_vec();
    for part in parts {
        if userdata::is_kube_type(&part.content_type) && !types.contains(&part.content_type) {
            types.push(part.content_type.clone());
        }
    }
    types
}

/// User data can be read back by any process on the server (metadata service), so say
/// so when it carries Kubernetes Secrets.
fn warn_about_secrets(printer: &Printer, parts: &[Part]) {
    let secrets: Vec<&str> = parts
        .iter()
        .filter(|p| p.content_type == userdata::kube_type("Secret"))
        .map(|p| p.filename.as_str())
        .collect();
    if !secrets.is_empty() {
        printer.warn(format!(
            "the user data holds Secrets ({}); any process on the server can read user data from the metadata service",
            secrets.join(", ")
        ));
    }
}

/// Writes `bytes` to `path` through a 0600 temporary file renamed into place, so a
/// failure never leaves a truncated file and the secrets it may carry stay private.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
