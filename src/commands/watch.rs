//! `kube-openstack watch DIR`: apply manifest files dropped into a directory, moving each
//! to `applied/` or `failed/`.

use crate::cli::WatchArgs;
use crate::printer::Printer;
use crate::settings::{ClusterSettings, Project};
use crate::state::StateDir;
use crate::workflow::watch::{self, Watch};

pub fn run(project: &Project, printer: &Printer, args: &WatchArgs) -> anyhow::Result<u8> {
    // Outside a project (a server's unit), the state (the mask key) lives beside the
    // queue, where the watcher ignores it, not in whatever directory it was started in.
    let state = match project.found {
        true => project.state(None),
        false => StateDir::new(args.dir.join(".kube-openstack")),
    };
    let cluster = ClusterSettings::new(project, &args.cluster, state);
    let how = Watch {
        dir: args.dir.clone(),
        once: args.once,
        poll: args.poll,
        timeout: args.timeout,
    };
    watch::run(&cluster, printer, &how)?;
    Ok(0)
}
