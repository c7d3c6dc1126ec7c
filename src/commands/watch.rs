//! `kube-openstack watch DIR`: apply manifest files dropped into a directory, moving each
//! to `applied/` or `failed/`.

use crate::cli::WatchArgs;
use crate::printer::Printer;
use crate::settings::{ClusterSettings, Project};
use crate::workflow::watch::{self, Watch};

pub fn run(project: &Project, printer: &Printer, args: &WatchArgs) -> anyhow::Result<u8> {
    let cluster = ClusterSettings::new(project, &args.cluster, project.state(None));
    let how = Watch {
        dir: args.dir.clone(),
        once: args.once,
        poll: args.poll,
        timeout: args.timeout,
    };
    watch::run(&cluster, printer, &how)?;
    Ok(0)
}
