//! Serial numbers for citizen numbers: a keyed bijection of `0..1_000_000`.
//!
//! Each (province, century-and-sex digit, birth year) bucket hands out the counter values
//! 0, 1, 2, … and this module turns each into the six-digit serial. Because the map is a
//! bijection, two different counter values in one bucket can never give the same serial, so
//! uniqueness needs no record of the numbers already issued — only one counter per bucket.
//!
//! This is a four-round Feistel network over two base-1000 halves: each round maps
//! `(l, r)` to `(r, (l + f(r)) mod 1000)`, which is invertible whatever `f` is.

/// Size of the serial space: six decimal digits.
pub(crate) const SERIAL_SPACE: u32 = 1_000_000;

const HALF: u32 = 1_000;

/// SplitMix64's finaliser: a fast, well-mixing bijection of `u64`.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Maps `counter` (which must be below [`SERIAL_SPACE`]) to a serial below [`SERIAL_SPACE`];
/// for a fixed `key` different counters give different serials.
pub(crate) fn permute(key: u64, counter: u32) -> u32 {
    debug_assert!(counter < SERIAL_SPACE);
    let (mut l, mut r) = (counter / HALF, counter % HALF);
    for round in 0..4u64 {
        // `% HALF` keeps the value below 1000, so the cast is lossless.
        let f = (mix(key ^ (round << 56) ^ u64::from(r)) % u64::from(HALF)) as u32;
        (l, r) = (r, (l + f) % HALF);
    }
    l * HALF + r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_is_a_bijection_of_the_serial_space() {
        for key in [0, 1, 0xdead_beef_u64] {
            let mut seen = vec![false; SERIAL_SPACE as usize];
            for counter in 0..SERIAL_SPACE {
                let serial = permute(key, counter);
                assert!(serial < SERIAL_SPACE);
                let slot = &mut seen[serial as usize];
                assert!(!*slot, "serial {serial} issued twice under key {key}");
                *slot = true;
            }
        }
    }

    #[test]
    fn different_keys_give_different_orders() {
        let a: Vec<u32> = (0..10).map(|c| permute(1, c)).collect();
        let b: Vec<u32> = (0..10).map(|c| permute(2, c)).collect();
        assert_ne!(a, b);
        // And the order does not simply follow the counter.
        assert_ne!(a, (0..10).collect::<Vec<_>>());
    }
}
