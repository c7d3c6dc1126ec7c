//! Build slots handed out by priority rather than by arrival: when several builds wait for
//! a slot, the one that unblocks the most other images goes first. A shared base that
//! seven images wait for must not queue behind a leaf image that nothing needs.

use std::collections::BTreeSet;
use std::sync::Mutex;
use tokio::sync::Notify;

/// A waiter's place: higher `priority` first, then lower `order` (build order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    rank: std::cmp::Reverse<usize>,
    order: usize,
}

pub struct Slots {
    state: Mutex<State>,
    released: Notify,
}

struct State {
    free: usize,
    waiting: BTreeSet<Key>,
}

/// Holds a slot until dropped.
pub struct Slot<'a> {
    slots: &'a Slots,
}

impl Slots {
    pub fn new(count: usize) -> Slots {
        Slots {
            state: Mutex::new(State {
                free: count.max(1),
                waiting: BTreeSet::new(),
            }),
            released: Notify::new(),
        }
    }

    /// Waits until a slot is free and no waiter ranks before this one. `order` must be
    /// unique per waiter (the job's index in build order).
    pub async fn acquire(&self, priority: usize, order: usize) -> Slot<'_> {
        self.queue(priority, order).acquire().await
    }

    /// Takes a place in the queue now, to wait for a slot later ([`Queued::acquire`]):
    /// until then no waiter ranked after it gets a slot. Jobs that can build at once queue
    /// before any slot is handed out, so the first slots go by rank too, not to whichever
    /// job asked first.
    pub fn queue(&self, priority: usize, order: usize) -> Queued<'_> {
        let key = Key {
            rank: std::cmp::Reverse(priority),
            order,
        };
        self.lock().waiting.insert(key);
        Queued { slots: self, key }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the counts half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A place in the queue for a build slot; leaving it (dropped) lets the next waiter go.
pub struct Queued<'a> {
    slots: &'a Slots,
    key: Key,
}

impl<'a> Queued<'a> {
    /// Waits until a slot is free and no waiter ranks before this one.
    pub async fn acquire(self) -> Slot<'a> {
        let (slots, key) = (self.slots, self.key);
        // `self` leaves the queue however this future ends (taken a slot, or dropped).
        loop {
            let released = slots.released.notified();
            tokio::pin!(released);
            // Registered before looking, so a release between the look and the wait wakes us.
            released.as_mut().enable();
            {
                let mut state = slots.lock();
                if state.free > 0 && state.waiting.first() == Some(&key) {
                    state.free -= 1;
                    state.waiting.remove(&key);
                    // The next waiter may take another free slot at once.
                    slots.released.notify_waiters();
                    return Slot { slots };
                }
            }
            released.await;
        }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if self.slots.lock().waiting.remove(&self.key) {
            self.slots.released.notify_waiters();
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.slots.lock().free += 1;
        self.slots.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_waiter_that_unblocks_most_goes_first_then_build_order() {
        crate::rt::block_on(async {
            let slots = Arc::new(Slots::new(1));
            let held = slots.acquire(0, 0).await;
            let order = Arc::new(Mutex::new(Vec::new()));
            let mut tasks = Vec::new();
            // Arrival order: leaf a, leaf b, base (priority 7), leaf c.
            for (name, priority, index) in [("a", 0, 1), ("b", 0, 2), ("base", 7, 3), ("c", 0, 4)] {
                let (slots, order) = (slots.clone(), order.clone());
                tasks.push(tokio::spawn(async move {
                    let _slot = slots.acquire(priority, index).await;
                    order.lock().unwrap().push(name);
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }));
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            drop(held);
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*order.lock().unwrap(), ["base", "a", "b", "c"]);
        });
    }

    #[test]
    fn a_place_taken_before_the_first_slot_is_handed_out_goes_first() {
        crate::rt::block_on(async {
            let slots = Arc::new(Slots::new(2));
            // The base takes its place while the builds are still being prepared; a leaf
            // that asks first, with both slots free, still waits for it.
            let base = slots.queue(7, 0);
            let leaf = {
                let slots = slots.clone();
                tokio::spawn(async move {
                    let _slot = slots.acquire(0, 1).await;
                    std::future::pending::<()>().await;
                })
            };
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert_eq!(slots.lock().free, 2, "the leaf took a slot before the base");
            let _base = base.acquire().await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert_eq!(slots.lock().free, 0, "the leaf took the other slot");
            leaf.abort();
        });
    }

    #[test]
    fn a_waiter_that_gives_up_does_not_block_the_others() {
        crate::rt::block_on(async {
            let slots = Arc::new(Slots::new(1));
            let held = slots.acquire(0, 0).await;
            let impatient = {
                let slots = slots.clone();
                tokio::spawn(async move {
                    let _ = slots.acquire(9, 1).await;
                })
            };
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            impatient.abort();
            let _ = impatient.await;
            drop(held);
            let got =
                tokio::time::timeout(std::time::Duration::from_secs(5), slots.acquire(0, 2)).await;
            assert!(got.is_ok(), "the slot went to a waiter that had left");
        });
    }
}
