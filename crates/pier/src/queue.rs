//! A first-in first-out queue that holds its oldest item inline.
//!
//! A connection usually has one request in flight: one response slot, one
//! running handler, one or two protocol events taken at a time. Keeping
//! the first item in an `Option` makes that case a couple of branches,
//! where a small vector checks whether it spilled on every access. Only a
//! second item allocates (and the storage is kept for the next one).

use std::collections::VecDeque;

pub(crate) struct InlineQueue<T> {
    /// The oldest item; `None` only when the queue is empty.
    first: Option<T>,
    /// The items after it, oldest first.
    rest: VecDeque<T>,
}

impl<T> InlineQueue<T> {
    pub(crate) const fn new() -> Self {
        InlineQueue {
            first: None,
            rest: VecDeque::new(),
        }
    }

    pub(crate) fn push_back(&mut self, item: T) {
        if self.first.is_none() {
            self.first = Some(item);
        } else {
            self.rest.push_back(item);
        }
    }

    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let item = self.first.take()?;
        self.first = self.rest.pop_front();
        Some(item)
    }

    pub(crate) fn front(&self) -> Option<&T> {
        self.first.as_ref()
    }

    pub(crate) fn front_mut(&mut self) -> Option<&mut T> {
        self.first.as_mut()
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.first.iter_mut().chain(self.rest.iter_mut())
    }

    pub(crate) fn clear(&mut self) {
        self.first = None;
        self.rest.clear();
    }
}

impl<T> Default for InlineQueue<T> {
    fn default() -> Self {
        InlineQueue::new()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for InlineQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.first.iter().chain(self.rest.iter()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::InlineQueue;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8),
        Pop,
        Clear,
        Bump,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u8>().prop_map(Op::Push),
            3 => Just(Op::Pop),
            1 => Just(Op::Clear),
            1 => Just(Op::Bump),
        ]
    }

    proptest! {
        /// Behaves as a `VecDeque` under any sequence of operations.
        #[test]
        fn matches_a_deque(ops in prop::collection::vec(op(), 0..64)) {
            let mut q = InlineQueue::new();
            let mut model = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(v) => {
                        q.push_back(v);
                        model.push_back(v);
                    }
                    Op::Pop => prop_assert_eq!(q.pop_front(), model.pop_front()),
                    Op::Clear => {
                        q.clear();
                        model.clear();
                    }
                    Op::Bump => {
                        for v in q.iter_mut() {
                            *v = v.wrapping_add(1);
                        }
                        for v in model.iter_mut() {
                            *v = v.wrapping_add(1);
                        }
                    }
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.is_empty(), model.is_empty());
                prop_assert_eq!(q.front(), model.front());
                prop_assert_eq!(
                    format!("{q:?}"),
                    format!("{:?}", model.iter().collect::<Vec<_>>())
                );
            }
        }
    }

    #[test]
    fn front_mut_changes_the_oldest() {
        let mut q = InlineQueue::new();
        q.push_back(1);
        q.push_back(2);
        *q.front_mut().unwrap() = 5;
        assert_eq!(q.pop_front(), Some(5));
        assert_eq!(q.pop_front(), Some(2));
        assert_eq!(q.pop_front(), None);
        assert!(q.front_mut().is_none());
    }
}
