//! The OS keyring, for passwords and application-credential secrets stored by
//! `kube-openstack login`. On Linux this is the kernel's key store (keyutils: the
//! session keyring, linked to the user's persistent keyring so the secret outlives the
//! shell), which works on a headless server with no desktop session.
//!
//! A process started outside a login session (a CI job, `ssh host cmd`, a container)
//! has no session keyring of its own: the kernel lends it the user-session keyring, which
//! the process does not *possess*, so linking a key into the persistent keyring fails
//! with EACCES. Such a process joins a fresh anonymous session keyring first (as
//! `keyctl new_session` does); keys then live in the user's persistent keyring, shared by
//! every process of the user, until `persistent_keyring_expiry` (3 days unused by
//! default) or `logout`.

use super::{OpenStackError, Secret};

const SERVICE: &str = "kube-openstack";

/// The keyring account for a user (or application credential) at a Keystone URL.
pub fn account(auth_url: &str, who: &str) -> String {
    format!("{who}@{auth_url}")
}

fn entry(account: &str, action: &'static str) -> Result<keyring::Entry, OpenStackError> {
    session::ensure_possessed_session();
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

mod session {
    // keyctl(2) operations and special keyring ids (linux/keyctl.h).
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    const KEY_SPEC_USER_SESSION_KEYRING: libc::c_long = -5;

    fn keyring_id(special: libc::c_long) -> libc::c_long {
        // SAFETY: keyctl with integer arguments only; no memory is passed.
        unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_GET_KEYRING_ID,
                special,
                0 as libc::c_long,
            )
        }
    }

    /// Joins an anonymous session keyring when the process only has the user-session
    /// keyring as a stand-in (see the module comment). Once per process; the session
    /// keyring is per thread, and every keyring call happens on the calling thread.
    pub fn ensure_possessed_session() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let session = keyring_id(KEY_SPEC_SESSION_KEYRING);
            if session > 0 && session == keyring_id(KEY_SPEC_USER_SESSION_KEYRING) {
                // SAFETY: a null name asks for a new anonymous keyring; nothing else is read.
                unsafe {
                    libc::syscall(
                        libc::SYS_keyctl,
                        KEYCTL_JOIN_SESSION_KEYRING,
                        std::ptr::null::<libc::c_char>(),
                    )
                };
            }
        });
    }
}
