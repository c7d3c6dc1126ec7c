#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = kube_openstack::cli::parse();
    kube_openstack::run(cli)
}
