//! Command-line tests: the real binary on temporary projects.

mod about;
mod adversarial;
mod conventions;
mod deploy;
mod deploy_client;
mod deploy_commands;
mod deploy_faults;
mod diff;
mod fake_kube_conventions;
mod forward;
mod heat;
mod heat_real;
mod hostile_archives;
mod hostile_manifests;
mod images;
mod images_auth;
mod images_e2e;
mod images_interrupt;
mod images_shipped;
mod images_storage;
mod images_token;
mod images_tree;
mod layers;
mod named_files;
mod network;
mod output_formats;
mod output_safety;
mod params;
mod project;
mod real_cleanup;
mod real_cluster;
mod real_network;
mod real_pods;
mod real_probes;
mod real_rollouts;
mod real_services;
mod real_tree;
mod real_tree_checks;
mod real_tree_dns;
mod real_tree_health;
mod real_tree_host;
mod real_tree_outside;
mod real_tree_report;
mod real_tree_rotation;
mod real_workloads;
mod remote;
mod render;
mod rollouts;
mod secret_leaks;
mod shipped;
mod snapshots;
mod status_reasons;
mod tree_links;
mod up;
mod up_errors;
mod userdata;
mod watch;

#[path = "../support/mod.rs"]
mod support;

// The fake API server is `crate::fake_kube` to the tests, as to the example.
use support::fake_kube;
