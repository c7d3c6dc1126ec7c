#![deny(clippy::print_stdout, clippy::print_stderr)]

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = kube_openstack::cli::Cli::parse();
    kube_openstack::run(cli)
}
