//! Calls and their records by id: ids grow from 0 for the switch's life, and a server that runs
//! for days forgets the oldest once they are finished ([`super::Tandem::forget_finished`]). A
//! batch run forgets nothing, so its ids are the indices of every record.

use std::ops::{Index, IndexMut};

#[derive(Debug, Clone)]
pub struct IdLog<T> {
    /// The id of `v[0]`.
    base: usize,
    v: Vec<T>,
}

impl<T> Default for IdLog<T> {
    fn default() -> Self {
        IdLog {
            base: 0,
            v: Vec::new(),
        }
    }
}

impl<T> IdLog<T> {
    /// Add an item; its id.
    pub fn push(&mut self, t: T) -> usize {
        self.v.push(t);
        self.base + self.v.len() - 1
    }

    /// The id the next item will get.
    pub fn next_id(&self) -> usize {
        self.base + self.v.len()
    }

    /// The oldest id still kept.
    pub fn first_id(&self) -> usize {
        self.base
    }

    pub fn get(&self, id: usize) -> Option<&T> {
        id.checked_sub(self.base).and_then(|i| self.v.get(i))
    }

    /// The items kept, oldest first.
    pub fn kept(&self) -> &[T] {
        &self.v
    }

    /// Forget the `n` oldest items.
    pub fn forget(&mut self, n: usize) {
        let n = n.min(self.v.len());
        self.v.drain(..n);
        self.base += n;
    }

    pub fn into_vec(self) -> Vec<T> {
        self.v
    }
}

impl<T> Index<usize> for IdLog<T> {
    type Output = T;
    fn index(&self, id: usize) -> &T {
        &self.v[id - self.base]
    }
}

impl<T> IndexMut<usize> for IdLog<T> {
    fn index_mut(&mut self, id: usize) -> &mut T {
        &mut self.v[id - self.base]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_survive_forgetting() {
        let mut l = IdLog::default();
        for k in 0..5 {
            assert_eq!(l.push(k * 10), k);
        }
        l.forget(2);
        assert_eq!((l.first_id(), l.next_id()), (2, 5));
        assert_eq!(l[3], 30);
        assert_eq!(l.get(1), None);
        assert_eq!(l.kept(), &[20, 30, 40]);
        assert_eq!(l.push(50), 5);
        l.forget(10);
        assert_eq!((l.first_id(), l.next_id()), (6, 6));
    }
}
