//! The one async runtime for network work (Heat, Kubernetes, the registry).
//!
//! Commands stay synchronous; a command that talks to a server wraps its async body in
//! [`block_on`]. Clients never call blocking network code themselves, so a command that
//! uses several of them (e.g. `up`) runs them all on the same runtime.

use std::future::Future;
use std::sync::OnceLock;

/// Runs `future` to completion on a multi-threaded Tokio runtime built on first use.
///
/// Also installs the process-wide TLS crypto provider (rustls with `ring`), which both
/// reqwest and kube use; doing it here means no client has to remember it.
pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    install_crypto_provider();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("kube-openstack-io")
                .build()
                .expect("the Tokio runtime starts (threads and a timer are all it needs)")
        })
        .block_on(future)
}

/// Selects rustls' `ring` provider for the process (idempotent).
pub fn install_crypto_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // Err only means another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_a_future_and_can_be_reentered_sequentially() {
        assert_eq!(super::block_on(async { 40 + 2 }), 42);
        let slept = super::block_on(async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            "slept"
        });
        assert_eq!(slept, "slept");
    }
}
