//! `kube-openstack watch DIR`: apply manifest files dropped into a directory (by the
//! `userdata --with-handler` part handler at boot, by a configuration tool, by hand),
//! once the cluster answers, in dependency order when several arrive together.
//!
//! The directory is a durable queue ([`inbox`]): a file leaves it only for `applied/` or
//! `failed/` (with `NAME.error` beside it). Files the cluster could not take because it
//! was unreachable stay and are tried again with backoff.

pub mod batch;
pub mod events;
pub mod inbox;

use std::time::Duration;

/// Backoff while the API server cannot be reached: doubling from 1 s, at most 30 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(5)).min(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let secs: Vec<u64> = (0..8).map(|a| super::backoff(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}
