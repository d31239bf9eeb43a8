"""An outside verifier of dinhdanh's disclosure log, written from the specifications alone
(C2SP signed-note, tlog-checkpoint, tlog-tiles; RFC 9162) with pyca/cryptography for ML-DSA-65
and Ed25519. It shares no code with the server.

Usage: log_verifier.py <base URL> <dir>, where <dir> holds `entries.json`: a list of
{"index": n, "entry": base64, "inclusion_proof": [base64, ...]}, and may hold `checkpoint.txt`
to use instead of the served checkpoint.

It fetches /log/keys and /log/checkpoint, checks both signatures and their key ids, rebuilds the
root from the level-0 hash tiles, and checks every entry's inclusion proof. Exit 0 when all
holds; 1 with one line on standard error otherwise.
"""

import base64
import hashlib
import json
import sys
import urllib.request

from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

ED25519 = b"\x01"
ML_DSA_65 = b"\xffML-DSA-65"


def fail(message):
    print(f"log_verifier: {message}", file=sys.stderr)
    sys.exit(1)


def fetch(base, path):
    with urllib.request.urlopen(base + path) as response:
        return response.read()


def parse_keys(text):
    keys = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, key_id, encoded = line.split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
        if raw.startswith(ML_DSA_65):
            kind, public = ML_DSA_65, raw[len(ML_DSA_65):]
            key = mldsa.MLDSA65PublicKey.from_public_bytes(public)
        elif raw.startswith(ED25519):
            kind, public = ED25519, raw[1:]
            key = ed25519.Ed25519PublicKey.from_public_bytes(public)
        else:
            fail("unknown key type")
        # signed-note: key ID = SHA-256(name || 0x0A || type || public key)[:4]
        expected = hashlib.sha256(name.encode() + b"\n" + kind + public).digest()[:4]
        if expected.hex() != key_id:
            fail(f"key id {key_id} does not match its key")
        keys[(name, expected)] = (kind, key)
    return keys


def open_note(note, keys):
    split = note.rfind("\n\n")
    if split < 0:
        fail("note has no blank line")
    text, signatures = note[: split + 1], note[split + 2 :]
    verified = set()
    for line in signatures.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            fail("malformed signature line")
        name, encoded = line[2:].split(" ", 1)
        raw = base64.b64decode(encoded, validate=True)
        known = keys.get((name, raw[:4]))
        if known is None:
            continue
        kind, key = known
        try:
            key.verify(raw[4:], text.encode())
        except Exception:
            fail(f"a {'ML-DSA-65' if kind == ML_DSA_65 else 'Ed25519'} signature does not verify")
        verified.add(kind)
    if verified != {ML_DSA_65, ED25519}:
        fail("the checkpoint is not signed by both keys")
    return text


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves):
    # RFC 9162 section 2.1.1
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def tile_path(level, index, width):
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    path = "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])
    suffix = f".p/{width}" if width < 256 else ""
    return f"/log/tile/{level}/{path}{suffix}"


def leaves_from_tiles(base, size):
    leaves = []
    for index in range((size + 255) // 256):
        width = min(256, size - index * 256)
        data = fetch(base, tile_path(0, index, width))
        if len(data) != width * 32:
            fail(f"tile {index} has {len(data)} bytes")
        leaves += [data[i : i + 32] for i in range(0, len(data), 32)]
    return leaves


def verify_inclusion(leaf, index, size, proof, root):
    # RFC 9162 section 2.1.3.2
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def main():
    base, directory = sys.argv[1], sys.argv[2]
    keys = parse_keys(fetch(base, "/log/keys").decode())
    try:
        with open(f"{directory}/checkpoint.txt") as file:
            note = file.read()  # a checkpoint the test supplies, to see it refused
    except FileNotFoundError:
        note = fetch(base, "/log/checkpoint").decode()
    text = open_note(note, keys)
    origin, size, root = text.rstrip("\n").split("\n")[:3]
    if any((name != origin) for name, _ in keys):
        fail("a key is not named after the log's origin")
    size, root = int(size), base64.b64decode(root, validate=True)
    if mth(leaves_from_tiles(base, size)) != root:
        fail("the tiles do not hash to the signed root")
    with open(f"{directory}/entries.json") as file:
        entries = json.load(file)
    for item in entries:
        leaf = hashlib.sha256(b"\x00" + base64.b64decode(item["entry"])).digest()
        proof = [base64.b64decode(h) for h in item["inclusion_proof"]]
        if not verify_inclusion(leaf, item["index"], size, proof, root):
            fail(f"entry {item['index']} is not in the signed tree")
    print(f"verified: checkpoint of {size} entries, {len(entries)} inclusion proofs")


main()
