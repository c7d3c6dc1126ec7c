//! `kube-openstack watch DIR`: apply manifest files dropped into a directory.

pub mod events;
pub mod inbox;
