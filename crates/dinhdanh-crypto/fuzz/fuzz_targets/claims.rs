//! JWT claim checks on arbitrary bytes, at a realistic clock and at the extremes of `i64`
//! (where `exp + leeway` and friends must saturate, not overflow). Must never panic.
#![no_main]

use dinhdanh_crypto::jose::{MAX_LEEWAY_SECONDS, check_claims};
use dinhdanh_crypto_fuzz::CLAIM_CHECKS;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_claims(data, &CLAIM_CHECKS);
    for now in [i64::MIN, -1, 0, i64::MAX] {
        for leeway in [0, MAX_LEEWAY_SECONDS] {
            let mut checks = CLAIM_CHECKS;
            checks.now = now;
            checks.leeway = leeway;
            let _ = check_claims(data, &checks);
        }
    }
});
