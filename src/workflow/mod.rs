//! What a command does, as a sequence of stage calls: shared by the commands, `up` and
//! `watch` (cargo's `ops`). A workflow takes resolved settings (never a clap type), calls
//! the stages with the clients they need, and reports through the printer; the command
//! that called it prints the result.
//!
//! - [`params`]: the parameters (a Heat stack read when needed), rotating generated values;
//! - [`openstack`], [`stack`]: connecting to OpenStack, the Heat stack, `login`;
//! - [`render`], [`diff`]: the tree rendered into memory or a directory, compared;
//! - [`images`]: build and push, list;
//! - [`deploy`]: apply the rendered tree (execute, prune, the failures summed up);
//! - [`status`], [`teardown`], [`db_sync`]: the other cluster commands;
//! - [`verify`]: the deployed cloud checked from inside the cluster;
//! - [`watch`]: the loop around the watched directory;
//! - [`userdata`]: cloud-init user data;
//! - [`up`]: every step, resumable.

pub mod db_sync;
pub mod deploy;
pub mod diff;
pub mod images;
pub mod openstack;
pub mod params;
pub mod render;
pub mod stack;
pub mod status;
pub mod teardown;
pub mod up;
pub mod userdata;
pub mod verify;
pub mod watch;
