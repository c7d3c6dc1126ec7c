//! Bounded exponential backoff with full jitter, honouring a server's `Retry-After`.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// The retry state of one request.
pub struct Backoff {
    policy: RetryPolicy,
    attempts: u32,
}

impl Backoff {
    pub fn new(policy: &RetryPolicy) -> Backoff {
        Backoff {
            policy: policy.clone(),
            attempts: 1,
        }
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The delay before the next attempt, or `None` when the attempts are used up.
    /// A `Retry-After` from the server wins over the computed delay (capped by `max_delay`).
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.attempts >= self.policy.max_attempts {
            return None;
        }
        let exp = self
            .policy
            .base
            .saturating_mul(1 << (self.attempts - 1).min(16));
        let ceiling = exp.min(self.policy.max_delay);
        self.attempts += 1;
        if let Some(after) = retry_after {
            return Some(after.min(self.policy.max_delay));
        }
        // Full jitter: clients that failed together do not retry together.
        let jitter = rand::random::<f64>();
        Some(ceiling.mul_f64(0.5 + jitter / 2.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_bounded_and_stop() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        let mut b = Backoff::new(&policy);
        let delays: Vec<_> = std::iter::from_fn(|| b.next_delay(None)).collect();
        assert_eq!(delays.len(), 4, "four retries after the first attempt");
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(300)));
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100));
    }

    #[test]
    fn retry_after_is_honoured() {
        let mut b = Backoff::new(&RetryPolicy::default());
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
    }
}
