//! A small multiplicative hasher for the agent's internal tables.
//!
//! The tables keyed by socket handles, request ids and connection ids sit on the hot path
//! (every checkout and check-in), and their keys are chosen by the driver or by the agent
//! itself, never by a peer, so a keyed DoS-resistant hash buys nothing there. The table of
//! name strings, whose keys can come from outside, keeps std's default hasher.

use core::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The hasher of [`IdMap`](crate::IdMap): a few multiplications per key.
#[derive(Clone, Copy, Default)]
pub struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Fold the high bits down: hashbrown takes its control byte from the top 7 bits
        // and its bucket index from the low ones.
        self.0 ^ (self.0 >> 32)
    }
}

pub(crate) type FastMap<K, V> = IdMap<K, V>;

/// A map keyed by ids the pool hands out ([`ReqId`](crate::ReqId),
/// [`ConnId`](crate::ConnId)) or by the driver's own socket handles: keys no
/// peer chooses, so a fast unkeyed hash is enough. Runtimes keeping their
/// own tables beside the pool use it too.
pub type IdMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FastHasher>>;
