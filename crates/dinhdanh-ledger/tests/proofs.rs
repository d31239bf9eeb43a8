//! Proofs and roots computed from tiles, checked against an independent recomputation: the
//! recursive definitions of RFC 9162 §2.1 applied directly to the list of leaves, with no tiles.
#![allow(clippy::unwrap_used, missing_docs)]

use dinhdanh_ledger::{
    Hash, LedgerError, TileAppender, TileId, TileMap, consistency_proof, empty_root,
    inclusion_proof, leaf_hash, node_hash, root_hash, tiles_for, verify_consistency,
    verify_inclusion,
};

/// RFC 9162 §2.1.1 `MTH(D[n])`, straight from the definition.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn largest_power_of_two_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 9162 §2.1.3.1 `PATH(m, D[n])`.
fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return vec![];
    }
    let k = largest_power_of_two_below(n);
    if m < k {
        let mut proof = naive_path(m, &leaves[..k]);
        proof.push(mth(&leaves[k..]));
        proof
    } else {
        let mut proof = naive_path(m - k, &leaves[k..]);
        proof.push(mth(&leaves[..k]));
        proof
    }
}

/// RFC 9162 §2.1.4.1 `SUBPROOF(m, D[n], b)`.
fn naive_subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole { vec![] } else { vec![mth(leaves)] };
    }
    let k = largest_power_of_two_below(n);
    if m <= k {
        let mut proof = naive_subproof(m, &leaves[..k], whole);
        proof.push(mth(&leaves[k..]));
        proof
    } else {
        let mut proof = naive_subproof(m - k, &leaves[k..], false);
        proof.push(mth(&leaves[..k]));
        proof
    }
}

fn leaves(count: usize) -> Vec<Hash> {
    (0..count)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect()
}

/// Every tile of a tree, as an append writes them.
fn tiles_of(leaves: &[Hash]) -> TileMap {
    let mut appender = TileAppender::new();
    let mut map = TileMap::new();
    for chunk in leaves.chunks(97) {
        appender.extend(chunk.iter().copied());
        for tile in appender.take_tiles() {
            map.insert(tile.id.level, tile.id.index, tile.data).unwrap();
        }
    }
    map
}

/// Only the tiles `tiles_for` names, so that a test fails if it names too few.
fn only(map: &TileMap, tiles: &[TileId]) -> TileMap {
    let mut subset = TileMap::new();
    for tile in tiles {
        let data = map.get(tile.level, tile.index).unwrap();
        let width = usize::from(tile.width) * 32;
        subset
            .insert(tile.level, tile.index, data[..width].to_vec())
            .unwrap();
    }
    subset
}

fn check_inclusion(map: &TileMap, leaves: &[Hash], index: usize, size: usize) {
    let (index64, size64) = (index as u64, size as u64);
    let needed = tiles_for(size64, |source| inclusion_proof(source, index64, size64)).unwrap();
    let proof = inclusion_proof(&only(map, &needed), index64, size64).unwrap();
    assert_eq!(
        proof,
        naive_path(index, &leaves[..size]),
        "inclusion {index} in {size}"
    );
    let root = mth(&leaves[..size]);
    verify_inclusion(&leaves[index], index64, size64, &proof, &root).unwrap();
    // A proof for another leaf, another index or a changed sibling fails.
    let other = leaf_hash(b"not in the log");
    assert!(verify_inclusion(&other, index64, size64, &proof, &root).is_err());
    if size > 1 {
        let wrong_index = (index64 + 1) % size64;
        assert!(verify_inclusion(&leaves[index], wrong_index, size64, &proof, &root).is_err());
        let mut bent = proof.clone();
        bent[0][0] ^= 1;
        assert!(verify_inclusion(&leaves[index], index64, size64, &bent, &root).is_err());
    }
}

fn check_consistency(map: &TileMap, leaves: &[Hash], old: usize, new: usize) {
    let (old64, new64) = (old as u64, new as u64);
    let needed = tiles_for(new64, |source| consistency_proof(source, old64, new64)).unwrap();
    let proof = consistency_proof(&only(map, &needed), old64, new64).unwrap();
    let expected = if old == 0 || old == new {
        vec![]
    } else {
        naive_subproof(old, &leaves[..new], true)
    };
    assert_eq!(proof, expected, "consistency {old} → {new}");
    let (old_root, new_root) = (mth(&leaves[..old]), mth(&leaves[..new]));
    verify_consistency(old64, new64, &old_root, &new_root, &proof).unwrap();
    if old > 0 && old < new {
        let mut bent = proof.clone();
        let last = bent.len() - 1;
        bent[last][31] ^= 1;
        assert!(verify_consistency(old64, new64, &old_root, &new_root, &bent).is_err());
        assert!(verify_consistency(old64, new64, &new_root, &new_root, &proof).is_err());
    }
}

#[test]
fn roots_match_the_definition_at_every_size_up_to_1000() {
    let leaves = leaves(1000);
    let map = tiles_of(&leaves);
    let mut appender = TileAppender::new();
    for size in 0..=1000 {
        let expected = mth(&leaves[..size]);
        assert_eq!(
            appender.root().unwrap(),
            expected,
            "appender root at {size}"
        );
        let needed = tiles_for(size as u64, |source| root_hash(source, size as u64)).unwrap();
        assert_eq!(
            root_hash(&only(&map, &needed), size as u64).unwrap(),
            expected,
            "tile root at {size}"
        );
        if size < 1000 {
            appender.push(leaves[size]);
        }
    }
}

#[test]
fn every_proof_in_trees_up_to_64_leaves() {
    let leaves = leaves(64);
    let map = tiles_of(&leaves);
    for size in 1..=64 {
        for index in 0..size {
            check_inclusion(&map, &leaves, index, size);
        }
        for old in 0..=size {
            check_consistency(&map, &leaves, old, size);
        }
    }
}

#[test]
fn sampled_proofs_in_trees_up_to_1000_leaves() {
    let leaves = leaves(1000);
    let map = tiles_of(&leaves);
    for size in 65..=1000usize {
        // The edges, the middle, both sides of the tile boundary, and a spread of others.
        let mut points = vec![0, 1, size / 2, size - 1, size.saturating_sub(2)];
        points.extend([255, 256, 257, 511, 512].into_iter().filter(|i| *i < size));
        points.push((size * 7919) % size);
        for index in points.iter().copied() {
            check_inclusion(&map, &leaves, index, size);
        }
        for old in points.iter().copied().chain([size]) {
            check_consistency(&map, &leaves, old, size);
        }
    }
}

#[test]
fn proofs_in_a_tree_of_more_than_a_million_leaves() {
    // Two sizes on either side of 2^20, where the tree gains a level, with proofs at the
    // edges. More sizes, timed, are in `cargo bench -p dinhdanh-ledger`.
    let leaves = leaves(1_048_577);
    let map = tiles_of(&leaves);
    for size in [1_048_576usize, 1_048_577] {
        check_inclusion(&map, &leaves, 0, size);
        check_inclusion(&map, &leaves, size - 1, size);
        check_consistency(&map, &leaves, 1_000_003, size);
    }
}

#[test]
fn missing_tiles_and_bad_ranges_are_errors() {
    let leaves = leaves(300);
    let map = tiles_of(&leaves);
    assert_eq!(
        inclusion_proof(&TileMap::new(), 3, 300),
        Err(LedgerError::MissingTile(0))
    );
    assert_eq!(
        inclusion_proof(&map, 300, 300),
        Err(LedgerError::OutOfRange)
    );
    assert_eq!(
        consistency_proof(&map, 301, 300),
        Err(LedgerError::OutOfRange)
    );
    assert!(TileMap::new().insert(0, 0, vec![0; 31]).is_err());
    assert!(TileMap::new().insert(0, 0, vec![0; 257 * 32]).is_err());
}

#[test]
fn an_appender_resumed_from_tiles_continues_the_same_tree() {
    let leaves = leaves(70_000);
    for split in [1, 255, 256, 257, 65_535, 65_536, 65_537, 69_999] {
        let map = tiles_of(&leaves[..split]);
        let mut resumed = TileAppender::resume(split as u64, &map).unwrap();
        resumed.extend(leaves[split..].iter().copied());
        let mut whole = TileAppender::new();
        whole.extend(leaves.iter().copied());
        assert_eq!(
            resumed.root().unwrap(),
            whole.root().unwrap(),
            "split {split}"
        );
    }
    assert!(TileAppender::resume(300, &TileMap::new()).is_err());
}
