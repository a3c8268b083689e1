//! How many event streams may be open at once: per user (the owner of the broadcast, whether
//! the stream was opened with the cookie or the broadcast's token) and on the whole node.
//!
//! An event stream holds a connection and renders its broadcast twice a second for as long as
//! the client stays; without a cap one account could open them until the node is busy doing
//! nothing else. A [`StreamSlot`] is taken before the stream starts and lives inside the
//! stream's state, so it is given back however the stream ends: the broadcast ending, the
//! server shutting down, or the client going away (the body, and the slot, are dropped then).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use streamhard_store::UserId;

/// Why a stream was not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The user has `per_user` streams open.
    User(usize),
    /// The node has `total` streams open.
    Node(usize),
}

#[derive(Debug)]
pub struct StreamSlots {
    per_user: usize,
    total: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    /// Only users with at least one stream open (entries are removed at zero).
    by_user: HashMap<UserId, usize>,
    total: usize,
}

/// One open event stream; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    user: UserId,
}

impl StreamSlots {
    pub fn new(per_user: usize, total: usize) -> Self {
        Self {
            per_user,
            total,
            open: Mutex::default(),
        }
    }

    /// Takes a slot for a stream of `user`'s broadcast, unless a limit is reached.
    pub fn take(self: &Arc<Self>, user: &UserId) -> Result<StreamSlot, Refused> {
        let mut open = self.lock();
        if open.total >= self.total {
            return Err(Refused::Node(self.total));
        }
        let mine = open.by_user.get(user).copied().unwrap_or(0);
        if mine >= self.per_user {
            return Err(Refused::User(self.per_user));
        }
        open.by_user.insert(user.clone(), mine + 1);
        open.total += 1;
        Ok(StreamSlot {
            slots: Arc::clone(self),
            user: user.clone(),
        })
    }

    /// Streams open now: `(of user, on the node)`.
    #[cfg(test)]
    fn open(&self, user: &UserId) -> (usize, usize) {
        let open = self.lock();
        (open.by_user.get(user).copied().unwrap_or(0), open.total)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // Counts only; each update is complete before the lock is released.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_user.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_their_share_and_a_dropped_slot_comes_back() {
        let slots = Arc::new(StreamSlots::new(2, 10));
        let (ann, bob) = (UserId::random(), UserId::random());
        let a1 = slots.take(&ann).unwrap();
        let _a2 = slots.take(&ann).unwrap();
        assert_eq!(slots.take(&ann).unwrap_err(), Refused::User(2));
        let _b1 = slots.take(&bob).expect("others are not affected");
        drop(a1);
        let _a3 = slots.take(&ann).expect("freed by the drop");
        assert_eq!(slots.open(&ann), (2, 3));
    }

    #[test]
    fn the_node_total_holds_across_users_and_nothing_is_left_behind() {
        let slots = Arc::new(StreamSlots::new(5, 3));
        let users: Vec<_> = (0..4).map(|_| UserId::random()).collect();
        let taken: Vec<_> = users[..3].iter().map(|u| slots.take(u).unwrap()).collect();
        assert_eq!(slots.take(&users[3]).unwrap_err(), Refused::Node(3));
        drop(taken);
        assert_eq!(slots.open(&users[0]), (0, 0));
        assert!(slots.lock().by_user.is_empty(), "no entry per user left");
    }
}
