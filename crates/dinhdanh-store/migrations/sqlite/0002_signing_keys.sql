-- Signing keys for tokens, events and log checkpoints. The private key (a 32-byte seed or
-- scalar) is sealed under the field data key, bound to its kid; the public key is stored in
-- clear for the JWKS. States: next -> active -> retiring -> retired.

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('next', 'active', 'retiring', 'retired')),
    public_key   BLOB NOT NULL,
    private_key  BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    activated_at INTEGER,
    retiring_at  INTEGER,
    retired_at   INTEGER
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (algorithm) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (algorithm) WHERE state = 'next';
