//! In-process memory of rarely changing per-workspace facts (a workspace's webhook
//! subscriptions, whether CRM sync is on, the console's view counts), owned by one [`Store`]
//! so that two servers in one process never share it. The store does not know what it
//! holds: each owner keys its entries by its own type, decides when an entry may be used (on
//! SQLite one process owns the database; PostgreSQL nodes share it) and forgets them when it
//! writes what they reflect.
//!
//! [`Store`]: super::Store

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Mutex;

use crate::ids::WorkspaceId;

type Entries = HashMap<(TypeId, WorkspaceId), Box<dyn Any + Send + Sync>>;

/// Entries by their type and workspace.
#[derive(Default)]
pub struct Memo(Mutex<Entries>);

impl Memo {
    /// A copy of the workspace's entry of type `T`.
    #[must_use]
    pub fn get<T: Clone + Send + Sync + 'static>(&self, ws: WorkspaceId) -> Option<T> {
        self.update::<T, _>(ws, |e| e.map(|v| v.clone()))
    }

    /// Remembers `value` as the workspace's entry of type `T`.
    pub fn put<T: Send + Sync + 'static>(&self, ws: WorkspaceId, value: T) {
        if let Ok(mut m) = self.0.lock() {
            m.insert((TypeId::of::<T>(), ws), Box::new(value));
        }
    }

    /// Forgets the workspace's entry of type `T`.
    pub fn forget<T: 'static>(&self, ws: WorkspaceId) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&(TypeId::of::<T>(), ws));
        }
    }

    /// Runs `f` on the workspace's entry of type `T` (if any) under the lock, so a check and
    /// a change of it are one step.
    pub fn update<T: Send + Sync + 'static, R>(
        &self,
        ws: WorkspaceId,
        f: impl FnOnce(Option<&mut T>) -> R,
    ) -> R {
        match self.0.lock() {
            Ok(mut m) => f(m
                .get_mut(&(TypeId::of::<T>(), ws))
                .and_then(|b| b.downcast_mut::<T>())),
            // A panic while the lock was held: behave as if nothing were remembered.
            Err(_) => f(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct A(u32);
    #[derive(Clone, Debug, PartialEq)]
    struct B(u32);

    #[test]
    fn entries_are_kept_per_type_and_workspace() {
        let m = Memo::default();
        let (w1, w2) = (
            WorkspaceId(uuid::Uuid::from_u128(1)),
            WorkspaceId(uuid::Uuid::from_u128(2)),
        );
        m.put(w1, A(1));
        m.put(w1, B(2));
        assert_eq!(m.get::<A>(w1), Some(A(1)));
        assert_eq!(m.get::<B>(w1), Some(B(2)));
        assert_eq!(m.get::<A>(w2), None);
        m.update::<A, _>(w1, |a| a.expect("present").0 = 5);
        assert_eq!(m.get::<A>(w1), Some(A(5)));
        m.forget::<A>(w1);
        assert_eq!(m.get::<A>(w1), None);
        assert_eq!(m.get::<B>(w1), Some(B(2)));
    }
}
