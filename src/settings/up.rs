//! The settings of `up`: those of each step's own command, from `up`'s flags.

use super::{ClusterSettings, DryRun, ImagesSettings, Project, TreeSettings};
use crate::cli::{ImagesOptions, UpArgs};
use crate::up::{Selection, Step};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct UpSettings {
    pub tree: TreeSettings,
    pub cluster: ClusterSettings,
    pub images: ImagesSettings,
    pub selection: Selection,
    /// Create the Heat stack when it does not exist.
    pub create_stack: bool,
    /// Where this machine reaches the registry (else the images' registry).
    pub registry_url: Option<String>,
    pub dry_run: DryRun,
    /// Redo the selected steps even when their inputs did not change.
    pub force: bool,
    pub parallel: u16,
    pub timeout: Option<Duration>,
    /// Every object's progress, not only a line per step.
    pub verbose: bool,
}

impl UpSettings {
    pub fn new(project: &Project, args: &UpArgs) -> UpSettings {
        let tree = super::TreeSettings::new(project, &args.tree);
        let state = tree.params.state.clone();
        let images = ImagesSettings::new(
            project,
            &ImagesOptions {
                docker_dir: args.docker_dir.clone(),
                builder: args.builder,
                jobs: args.jobs,
                no_progress: true,
                ..ImagesOptions::default()
            },
            &tree.params.request.stack_parameters,
            state.clone(),
        );
        UpSettings {
            cluster: ClusterSettings::new(project, &args.cluster, state),
            images,
            selection: Selection {
                from: args.from.map(Step::from),
                to: args.to.map(Step::from),
                only: args.only.map(Step::from),
                clean_jobs: args.clean_jobs,
            },
            create_stack: args.create_stack,
            registry_url: args.registry_url.clone(),
            dry_run: args.dry_run.into(),
            force: args.force,
            parallel: args.parallel,
            timeout: args.timeout,
            verbose: args.verbose,
            tree,
        }
    }
}
