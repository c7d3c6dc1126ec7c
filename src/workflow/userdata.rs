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
/// A path that is not a regular file (`/dev/null`, `/dev/stdout`, a pipe, also through a
/// link) is written as a shell's `>` writes it: a rename would replace the device itself.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .write_all(bytes);
    }
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

#[cfg(test)]
mod tests {
    use super::write_private;

    #[test]
    fn a_device_or_pipe_is_written_to_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("sink");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        write_private(&link, b"user data").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        use std::os::unix::fs::FileTypeExt;
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );

        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path; mkfifo only reads it.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_private(&fifo, b"piped").unwrap();
        assert_eq!(reader.join().unwrap(), b"piped");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );

        let file = dir.path().join("ud");
        write_private(&file, b"one").unwrap();
        write_private(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
    }
}
