//! kube-openstack: deploy OpenStack onto Kubernetes.

pub mod params;
pub mod render;
