//! Command-line tests: the real binary on temporary projects.

mod adversarial;
mod cluster;
mod deploy;
mod deploy_client;
mod deploy_commands;
mod deploy_faults;
mod diff;
mod fake_kube_conventions;
mod forward;
mod heat;
mod heat_fake;
mod heat_real;
mod hostile_manifests;
mod images;
mod images_auth;
mod images_e2e;
mod images_env;
mod images_interrupt;
mod images_shipped;
mod images_storage;
mod images_token;
mod images_tree;
mod output_safety;
mod params;
mod real_cleanup;
mod real_cluster;
mod real_pods;
mod real_probes;
mod real_services;
mod real_tree;
mod real_tree_report;
mod real_workloads;
mod remote;
mod render;
mod secret_leaks;
mod shipped;
mod support;
mod tree_links;
mod up;
mod userdata;
mod watch;

#[path = "../support/fake_kube/mod.rs"]
mod fake_kube;
