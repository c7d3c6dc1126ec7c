//! cloud-init multi-part user data: the parts (files, directories, the rendered tree's
//! objects in dependency order, the part handler), bundled within Nova's size limit, and
//! written privately.

use crate::deploy::manifest;
use crate::deploy::plan::Plan;
use crate::printer::Printer;
use crate::userdata::{self, Bundle, Part, PartSpec};
use anyhow::Context as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What goes into the user data, and how.
pub struct Request {
    /// Files, directories, `path:type/subtype`.
    pub parts: Vec<String>,
    pub default_type: String,
    /// Add every object of this rendered tree.
    pub rendered: Option<PathBuf>,
    /// Put a part handler first that writes the Kubernetes parts into this directory.
    pub handler_dir: Option<String>,
    pub merge: Option<String>,
    pub gzip: bool,
    pub limit: usize,
}

/// The user data; a warning when it carries Secrets.
pub fn bundle(request: &Request, printer: &Printer) -> anyhow::Result<Bundle> {
    let specs: Vec<PartSpec> = request.parts.iter().map(|p| PartSpec::parse(p)).collect();
    let mut parts = userdata::collect(&specs, &request.default_type)?;
    if let Some(dir) = &request.rendered {
        parts.extend(rendered_parts(dir)?);
    }
    if let Some(incoming) = &request.handler_dir {
        parts.insert(0, userdata::part_handler(incoming, &kube_types(&parts)));
    }
    let bundle = userdata::bundle(
        &parts,
        request.merge.as_deref(),
        request.gzip,
        request.limit,
    )?;
    warn_about_secrets(printer, &parts);
    Ok(bundle)
}

/// One part per object of the rendered tree, in an order that puts every object after
/// what it depends on (declared and inferred edges), lower kinds first among equals.
fn rendered_parts(dir: &Path) -> anyhow::Result<Vec<Part>> {
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
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
