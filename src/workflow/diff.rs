//! What a render would change: against a directory (the output directory, or
//! `--against`), or against the live cluster (`--live`); secrets masked unless asked.

use super::deploy::connect;
use crate::deploy::live_diff::live_diff;
use crate::deploy::manifest::{self, Manifest};
use crate::diff::{self, Restart, TreeDiff};
use crate::params::ParamSet;
use crate::render::RenderedFile;
use crate::secrets::Masker;
use crate::settings::ClusterSettings;
use crate::state::StateDir;
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The rendered files against the files of `dir`.
pub fn against_dir(
    files: &[RenderedFile],
    params: &ParamSet,
    state: &StateDir,
    dir: &Path,
    show_secrets: bool,
) -> anyhow::Result<TreeDiff> {
    let old = crate::render::output::read_tree(dir)
        .with_context(|| format!("cannot read `{}`", dir.display()))?;
    let masker = if show_secrets {
        Masker::none()
    } else {
        let mut secrets = params.secret_values();
        secrets.extend(diff::secrets_in(files, &old));
        secrets.extend(state.rendered_secrets()?);
        Masker::build(state, secrets, false)?
    };
    let mut result = diff::compare(files, &old, &masker);
    if !result.is_empty() {
        result.restarts = restarts(files, &old);
    }
    Ok(result)
}

/// The workloads the change from `old` to `files` restarts. A file that is not a set of
/// Kubernetes objects (a copied file, a broken old one) has no workload to restart.
fn restarts(files: &[RenderedFile], old: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<Restart> {
    let parse = |path: &Path, bytes: &[u8]| {
        manifest::parse_file(path, &String::from_utf8_lossy(bytes)).unwrap_or_default()
    };
    let new: Vec<Manifest> = files
        .iter()
        .filter(|f| !f.copied)
        .flat_map(|f| parse(&f.path, &f.content))
        .collect();
    let before: Vec<Manifest> = old.iter().flat_map(|(p, b)| parse(p, b)).collect();
    crate::deploy::restarts::restarts(&before, &new)
}

/// The rendered objects against the cluster (the server's dry run of each against the
/// live object). The live Secrets' values are masked too (an old password still there).
pub fn against_cluster(
    files: &[RenderedFile],
    params: &ParamSet,
    cluster: &ClusterSettings,
    show_secrets: bool,
) -> anyhow::Result<TreeDiff> {
    let mut manifests: Vec<Manifest> = Vec::new();
    for f in files.iter().filter(|f| !f.copied) {
        manifests.extend(manifest::parse_file(
            &f.path,
            &String::from_utf8_lossy(&f.content),
        )?);
    }
    manifest::attach_config_digests(&mut manifests);
    let state = &cluster.state;
    let mut secrets = params.secret_values();
    secrets.extend(diff::secrets_in(files, &Default::default()));
    secrets.extend(state.rendered_secrets()?);
    let make_masker = |live_secrets: Vec<String>| {
        Masker::build(
            state,
            secrets.iter().cloned().chain(live_secrets),
            show_secrets,
        )
    };
    crate::rt::block_on(async {
        let ctx = connect(cluster).await?;
        Ok::<_, anyhow::Error>(live_diff(&ctx, &manifests, &make_masker).await?)
    })
    .with_context(|| format!("cannot compare with namespace `{}`", cluster.namespace))
}
