-- Access tokens a client holds for itself (client credentials, RFC 6749 §4.4), for the
-- platform's service APIs: no person stands behind them. Stored as the SHA-256 of the token.
-- `scopes` is space-separated service scopes. Timestamps are microseconds since the Unix epoch.
CREATE TABLE service_tokens (
    token_hash BYTEA PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES oidc_clients (id),
    scopes     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- Each new token sweeps the expired ones.
CREATE INDEX service_tokens_by_expiry ON service_tokens (expires_at);

-- The person a pairwise subject names in a sector (OIDC Core §8.1), recorded when a grant
-- is made, so that a platform can name an account's owner by the `sub` it received (a
-- subject cannot be computed backwards). Kept under a blind index of (sector, subject), so
-- that a dump of the table links no subject a client holds to anyone.
CREATE TABLE pairwise_subjects (
    subject_index BYTEA PRIMARY KEY,
    person_id     TEXT NOT NULL REFERENCES persons (id)
);

-- A platform's account bound to a person by the pairwise subject they signed in with. The
-- handle is sealed under the field key (bound to the row) and found by a blind index keyed
-- per platform: one handle, one binding on a platform. `guardian_consent` is set for a person
-- under 16, whose binding waits for a guardian's approval.
CREATE TABLE account_bindings (
    id               TEXT PRIMARY KEY,
    organisation_id  TEXT NOT NULL REFERENCES organisations (id),
    person_id        TEXT NOT NULL REFERENCES persons (id),
    subject          TEXT NOT NULL,
    handle           BYTEA NOT NULL,
    handle_index     BYTEA NOT NULL,
    status           TEXT NOT NULL
        CHECK (status IN ('active', 'pending_guardian', 'refused', 'unlinked', 'disputed')),
    guardian_consent TEXT
        CHECK (guardian_consent IN ('pending', 'approved', 'denied', 'revoked')),
    -- The guardian who answered last, and when.
    guardian_id      TEXT REFERENCES persons (id),
    decided_at       BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (organisation_id, handle_index)
);
CREATE INDEX account_bindings_by_person ON account_bindings (person_id, organisation_id);
