-- Passkeys (WebAuthn) as a citizen's second factor, and WebAuthn ceremonies in flight.
-- A credential is stored sealed under the field key; it is found by the SHA-256 of its
-- credential id, which is unique: one authenticator credential belongs to one account
-- (WebAuthn §7.1 step 25). Timestamps are microseconds since the Unix epoch (UTC).
CREATE TABLE passkeys (
    id_hash    BYTEA PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES citizen_accounts (person_id),
    credential BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX passkeys_by_person ON passkeys (person_id);

-- A registration or authentication between the options sent to the browser and its answer:
-- the library's state (challenge, allowed credentials, and for an enrolment the account to
-- create), sealed, under the hash of a reference the browser holds in a cookie. Each is
-- taken once (WebAuthn §13.4.3).
CREATE TABLE webauthn_ceremonies (
    id_hash    BYTEA PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES persons (id),
    state      BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);
-- Each new ceremony sweeps the expired ones.
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies (expires_at);
