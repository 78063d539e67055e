//! The routees of a router, and the hash ring that consistent hashing
//! picks from.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::ActorId;

/// Points each routee gets on the ring: enough that keys spread evenly over
/// a handful of routees, and that removing one moves only its own keys.
const POINTS_PER_ROUTEE: u32 = 64;

/// A hash ring over routees: each owns the keys that hash just below its
/// points, so a routee that leaves hands its keys to its neighbours and
/// nobody else's keys move.
#[derive(Debug, Default)]
pub(crate) struct Ring {
    /// (point, index of the routee), sorted by point.
    points: Vec<(u64, usize)>,
}

impl Ring {
    pub(crate) fn new(routees: &[ActorId]) -> Self {
        let mut points = Vec::with_capacity(routees.len() * POINTS_PER_ROUTEE as usize);
        for (index, id) in routees.iter().enumerate() {
            for point in 0..POINTS_PER_ROUTEE {
                points.push((stable_hash(&(id.node, id.seq, point)), index));
            }
        }
        points.sort_unstable();
        Ring { points }
    }

    /// The index of the routee that owns `key`, if there is any routee.
    pub(crate) fn owner(&self, key: u64) -> Option<usize> {
        let at = self.points.partition_point(|&(point, _)| point < key);
        self.points.get(at).or_else(|| self.points.first()).map(|&(_, index)| index)
    }
}

/// A hash that is the same in every run and on every node (SipHash with
/// fixed keys), so a key lands on the same routee wherever it is computed.
pub(crate) fn stable_hash(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(seqs: &[u64]) -> Vec<ActorId> {
        seqs.iter().map(|&seq| ActorId { node: 1, seq }).collect()
    }

    #[test]
    fn an_empty_ring_has_no_owner() {
        assert_eq!(Ring::new(&[]).owner(42), None);
    }

    #[test]
    fn keys_spread_over_every_routee() {
        let ring = Ring::new(&ids(&[10, 11, 12, 13]));
        let mut counts = [0usize; 4];
        for key in 0..10_000u32 {
            if let Some(owner) = ring.owner(stable_hash(&key)) {
                counts[owner] += 1;
            }
        }
        assert!(counts.iter().all(|&n| n > 1_000), "uneven spread: {counts:?}");
    }

    #[test]
    fn removing_a_routee_moves_only_its_keys() {
        let before = Ring::new(&ids(&[10, 11, 12, 13]));
        let survivors = ids(&[10, 11, 13]);
        let after = Ring::new(&survivors);
        let all = ids(&[10, 11, 12, 13]);
        for key in 0..10_000u32 {
            let hash = stable_hash(&key);
            let (Some(was), Some(is)) = (before.owner(hash), after.owner(hash)) else { panic!("no owner") };
            if all[was].seq != 12 {
                assert_eq!(all[was], survivors[is], "key {key} moved");
            }
        }
    }
}
