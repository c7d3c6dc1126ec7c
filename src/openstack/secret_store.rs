//! The OS keyring, for passwords and application-credential secrets stored by
//! `kube-openstack login`. On Linux this is the kernel's key store (keyutils: the
//! session keyring, linked to the user's persistent keyring so the secret outlives the
//! shell), which works on a headless server with no desktop session.

use super::{OpenStackError, Secret};

const SERVICE: &str = "kube-openstack";

/// The keyring account for a user (or application credential) at a Keystone URL.
pub fn account(auth_url: &str, who: &str) -> String {
    format!("{who}@{auth_url}")
}

fn entry(account: &str, action: &'static str) -> Result<keyring::Entry, OpenStackError> {
    keyring::Entry::new(SERVICE, account).map_err(|source| OpenStackError::Keyring {
        action,
        account: account.into(),
        source,
    })
}

/// The stored secret, or `None` when there is none.
pub fn load(account: &str) -> Result<Option<Secret>, OpenStackError> {
    match entry(account, "read")?.get_password() {
        Ok(s) => Ok(Some(Secret::new(s))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(source) => Err(OpenStackError::Keyring {
            action: "read",
            account: account.into(),
            source,
        }),
    }
}

pub fn store(account: &str, secret: &Secret) -> Result<(), OpenStackError> {
    entry(account, "store")?
        .set_password(secret.expose())
        .map_err(|source| OpenStackError::Keyring {
            action: "store",
            account: account.into(),
            source,
        })
}

/// Removes the stored secret; `false` when there was none.
pub fn remove(account: &str) -> Result<bool, OpenStackError> {
    match entry(account, "remove")?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(source) => Err(OpenStackError::Keyring {
            action: "remove",
            account: account.into(),
            source,
        }),
    }
}
