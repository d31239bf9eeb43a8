-- The disclosure log: every release of personal data, or of a claim derived from it, as an entry
-- of an append-only RFC 9162 Merkle tree stored as C2SP tiles, with signed checkpoints.
--
-- A disclosure is written once, to `disclosures`, with its seq in the outbox, committed before
-- the data leaves the server. An integrator moves outbox seqs into the tree in one transaction
-- per batch: it gives each the next index in `log_entries`, writes the tiles they change,
-- advances the size and deletes the outbox rows. Entry bytes are never copied.
-- The subject is a keyed pseudonym of the person (HMAC under the blind-index key), never an id
-- or a citizen number; the `subject` column holds its first 8 bytes as an integer, a small
-- index key to find a person's records (the full pseudonym is inside each entry).
--
-- Indexes are kept to what the reads need, since every one costs each append.

CREATE TABLE disclosures (
    seq     INTEGER PRIMARY KEY,
    subject INTEGER NOT NULL,
    entry   BLOB NOT NULL
);
CREATE INDEX disclosures_subject ON disclosures (subject);

-- Records not yet in the tree.
CREATE TABLE disclosure_outbox (
    seq INTEGER PRIMARY KEY
);

-- The tree's order: the entry at index idx is disclosure seq.
CREATE TABLE log_entries (
    idx INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX log_entries_seq ON log_entries (seq);

-- The latest state of each tile (a partial tile is rewritten as it grows; hashes already in it
-- never change).
CREATE TABLE log_tiles (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE log_checkpoints (
    size       INTEGER PRIMARY KEY,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- One row: the log's origin (its checkpoint key name) and how many entries the tree holds.
CREATE TABLE log_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    origin     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO log_state (id, origin, size, updated_at)
VALUES (1, 'dinhdanh.invalid/disclosure-log', 0, 0);

-- The checkpoint signing keys (ML-DSA-65 and the Ed25519 co-signer), private parts sealed under
-- the field data key. Verifiers pin them, so they live as long as the log.
CREATE TABLE log_keys (
    algorithm   TEXT PRIMARY KEY,
    public_key  BLOB NOT NULL,
    private_key BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
