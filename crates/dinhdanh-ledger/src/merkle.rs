//! RFC 9162 Merkle tree hashing and proof verification. Owns the hash functions and the
//! verification algorithms; it never reads storage, so a verifier can check a proof with nothing
//! but this module and the signed tree head.

use dinhdanh_crypto::sha256_concat;

use crate::LedgerError;

/// A SHA-256 Merkle tree hash.
pub type Hash = [u8; 32];

/// The hash of an empty tree: `SHA-256()` (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    sha256_concat(&[])
}

/// The hash of a leaf: `SHA-256(0x00 || entry)` (RFC 9162 §2.1.1).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256_concat(&[&[0x00], entry])
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)` (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256_concat(&[&[0x01], left, right])
}

/// The largest power of two strictly smaller than `n` (`n` ≥ 2), the split point `k` of
/// RFC 9162 §2.1.1.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Checks that `leaf` sits at `index` in the tree of `size` leaves whose root is `root`, with the
/// inclusion proof `proof` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LedgerError> {
    if index >= size {
        return Err(LedgerError::OutOfRange);
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(LedgerError::InvalidProof);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && r == *root {
        Ok(())
    } else {
        Err(LedgerError::InvalidProof)
    }
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a prefix of the tree of
/// `new_size` leaves with root `new_root`, with the consistency proof `proof`
/// (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), LedgerError> {
    if old_size > new_size {
        return Err(LedgerError::OutOfRange);
    }
    if old_size == new_size {
        // Identical trees need no proof; anything else is a malformed one.
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(LedgerError::InvalidProof)
        };
    }
    if old_size == 0 {
        // Every tree extends the empty tree, whose root is fixed; the proof is empty.
        return if proof.is_empty() && *old_root == empty_root() {
            Ok(())
        } else {
            Err(LedgerError::InvalidProof)
        };
    }
    // Step 1: an empty path fails.
    if proof.is_empty() {
        return Err(LedgerError::InvalidProof);
    }
    // Step 2: when the old size is a power of two, its root is the first node of the path.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let mut f_n = old_size - 1;
    let mut s_n = new_size - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = path[0];
    let mut s_r = path[0];
    for c in &path[1..] {
        if s_n == 0 {
            return Err(LedgerError::InvalidProof);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if f_r == *old_root && s_r == *new_root && s_n == 0 {
        Ok(())
    } else {
        Err(LedgerError::InvalidProof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_the_largest_smaller_power_of_two() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(1 << 40), 1 << 39);
        assert_eq!(split_point((1 << 40) + 1), 1 << 40);
    }

    #[test]
    fn hashes_are_domain_separated() {
        // RFC 9162 §2.1.1: a leaf and a node over the same bytes never collide.
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut joined = vec![];
        joined.extend_from_slice(&a);
        joined.extend_from_slice(&b);
        assert_ne!(leaf_hash(&joined), node_hash(&a, &b));
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
