-- The identity registry: data keys, persons, organisations, guardianships, operator tokens.
-- Personal fields live only inside `persons.personal`, sealed with AES-256-GCM; the citizen
-- number is found through `persons.citizen_index`, a keyed HMAC-SHA-256 blind index.
-- Timestamps are microseconds since the Unix epoch (UTC).

CREATE TABLE store_meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE data_keys (
    kid        TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL CHECK (purpose IN ('field', 'blind-index')),
    wrapped    BLOB NOT NULL,
    active     INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX data_keys_one_active ON data_keys (purpose) WHERE active = 1;

CREATE TABLE organisations (
    id         TEXT PRIMARY KEY,
    tax_code   TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    parent_id  TEXT REFERENCES organisations (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE persons (
    id            TEXT PRIMARY KEY,
    citizen_index BLOB NOT NULL UNIQUE,
    personal      BLOB NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'deceased', 'suspended')),
    eid_level     INTEGER NOT NULL CHECK (eid_level BETWEEN 0 AND 2),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE guardianships (
    child_id     TEXT NOT NULL REFERENCES persons (id),
    guardian_id  TEXT NOT NULL REFERENCES persons (id),
    relationship TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (child_id, guardian_id)
);
CREATE INDEX guardianships_by_guardian ON guardianships (guardian_id);

CREATE TABLE operator_tokens (
    id         TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
