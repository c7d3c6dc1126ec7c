//! Command-line tests: the real binary on temporary projects.

mod adversarial;
mod cluster;
mod deploy;
mod deploy_client;
mod deploy_commands;
mod deploy_faults;
mod diff;
mod fake_kube_conventions;
mod params;
mod render;
mod shipped;
mod support;

#[path = "../support/fake_kube/mod.rs"]
mod fake_kube;
