//! OpenStack client: credentials the way OpenStack users keep them (clouds.yaml,
//! secure.yaml, `OS_*` variables, flags, the OS keyring), a Keystone v3 token with its
//! service catalog, and the Heat REST calls kube-openstack needs.
//!
//! Everything here is async (run it with [`crate::rt::block_on`]) and knows nothing of the
//! command line: commands resolve a [`config::ConnectOptions`] and hand it over.

pub mod config;
mod error;
pub mod heat;
pub mod http;
pub mod keystone;
pub mod secret_store;

pub use config::{AuthMethod, Cloud, ConnectOptions};
pub use error::OpenStackError;
pub use heat::{HeatClient, Stack, StackOutput, StackRef};
pub use keystone::Session;

use std::fmt;

/// A password, application-credential secret or token: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Connects: authenticates against Keystone and finds Heat (the catalog's
/// `orchestration` endpoint, or the URL the user gave).
pub async fn connect_heat(cloud: &Cloud) -> Result<(Session, HeatClient), OpenStackError> {
    let http = http::Http::new(cloud)?;
    let session = keystone::authenticate(&http, cloud).await?;
    let heat_url = match &cloud.heat_url {
        Some(url) => session.fill_project(url),
        None => session.endpoint("orchestration", cloud.region.as_deref(), cloud.interface)?,
    };
    let heat = HeatClient::new(http, session.token.clone(), heat_url);
    Ok((session, heat))
}
