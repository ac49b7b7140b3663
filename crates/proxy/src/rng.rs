//! A per-thread pseudo-random generator for weighted picks and request ids: no lock, no shared
//! cache line, a few instructions per draw. Not for secrets.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

/// Each thread starts from the OS-seeded keys of `RandomState`, so threads and processes differ.
fn seed() -> u64 {
    RandomState::new().hash_one(std::thread::current().id())
}

/// wyrand: passes BigCrush and PractRand, and is about as cheap as a generator gets.
pub(crate) fn next_u64() -> u64 {
    STATE.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        (t >> 64) as u64 ^ t as u64
    })
}

pub(crate) fn next_u128() -> u128 {
    u128::from(next_u64()) << 64 | u128::from(next_u64())
}

/// A number uniformly drawn from `0..bound` (`bound` at least 1), by Lemire's multiply-shift;
/// the bias for a `u32` bound from 64 random bits is below 2^-32 and cannot be observed.
pub(crate) fn below(bound: u32) -> u32 {
    ((u128::from(next_u64()) * u128::from(bound)) >> 64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_compiled::{ClusterId, Forward, Target, WeightedTarget};

    /// Every draw in `0..total` lands on the destinations in exact proportion to their weights.
    #[test]
    fn weighted_pick_is_exact_over_all_draws() {
        let forward = Forward {
            destinations: [0u32, 10, 30, 60]
                .iter()
                .enumerate()
                .map(|(i, &weight)| WeightedTarget {
                    weight,
                    target: Target::Cluster(ClusterId(i)),
                })
                .collect(),
            total_weight: 100,
        };
        let mut hits = [0u32; 4];
        for draw in 0..forward.total_weight {
            let Target::Cluster(id) = forward.pick(draw).target else {
                panic!("only clusters here")
            };
            hits[id.0] += 1;
        }
        assert_eq!(hits, [0, 10, 30, 60]);
    }

    /// A chi-square test of `below` over 10 bins (9 degrees of freedom). A uniform generator
    /// exceeds 100 with probability below 1e-16: this cannot flake, yet catches a skewed draw.
    #[test]
    fn draws_are_uniform() {
        const BINS: u32 = 10;
        const DRAWS: u32 = 100_000;
        let mut observed = [0u32; BINS as usize];
        for _ in 0..DRAWS {
            observed[below(BINS) as usize] += 1;
        }
        let expected = f64::from(DRAWS / BINS);
        let chi_square: f64 = observed
            .iter()
            .map(|&o| (f64::from(o) - expected).powi(2) / expected)
            .sum();
        assert!(chi_square < 100.0, "chi-square {chi_square}: {observed:?}");
        assert!((0..1000).all(|_| below(1) == 0));
    }
}
