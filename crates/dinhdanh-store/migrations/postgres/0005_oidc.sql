-- The OpenID Connect provider: registered clients, citizen accounts and their sessions,
-- authorization requests in flight, and grants with their tokens.
-- No personal field is stored here: people are referenced by their internal id, TOTP secrets
-- are sealed under the field key, and every token, session id and request reference is stored
-- as its SHA-256 hash only. Timestamps are microseconds since the Unix epoch (UTC).

-- A relying party, registered by the identity authority for one organisation.
-- `redirect_uris` is a JSON array of exact strings; `scopes` is space-separated.
-- `auth_method` is 'private_key_jwt' (with `jwks`, the client's public keys as a JWK Set)
-- or 'client_secret_basic' (with `secret_hash`).
CREATE TABLE oidc_clients (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    name            TEXT NOT NULL,
    redirect_uris   TEXT NOT NULL,
    sector          TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    require_par     BIGINT NOT NULL CHECK (require_par IN (0, 1)),
    min_level       BIGINT NOT NULL CHECK (min_level BETWEEN 1 AND 2),
    id_token_alg    TEXT NOT NULL,
    auth_method     TEXT NOT NULL CHECK (auth_method IN ('private_key_jwt', 'client_secret_basic')),
    jwks            TEXT,
    secret_hash     BYTEA,
    created_at      BIGINT NOT NULL,
    disabled_at     BIGINT,
    CHECK ((auth_method = 'private_key_jwt') = (jwks IS NOT NULL)),
    CHECK ((auth_method = 'client_secret_basic') = (secret_hash IS NOT NULL))
);
CREATE INDEX oidc_clients_by_organisation ON oidc_clients (organisation_id);

-- A citizen's login: an Argon2id password hash (PHC string) and a sealed TOTP secret.
-- `totp_last_step` refuses a code from a time step already used (RFC 6238 §5.2).
CREATE TABLE citizen_accounts (
    person_id      TEXT PRIMARY KEY REFERENCES persons (id),
    password_hash  TEXT NOT NULL,
    totp_secret    BYTEA,
    totp_last_step BIGINT,
    failed_logins  BIGINT NOT NULL DEFAULT 0,
    locked_until   BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- A browser session: the cookie carries the id, the database its hash.
CREATE TABLE login_sessions (
    id_hash    BYTEA PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES persons (id),
    eid_level  BIGINT NOT NULL CHECK (eid_level BETWEEN 0 AND 2),
    auth_time  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_sessions_by_person ON login_sessions (person_id);

-- An authorization request in flight: 'pushed' (RFC 9126, found by its request_uri) or
-- 'interaction' (validated, waiting for login and consent). Each is used once.
CREATE TABLE authorization_requests (
    id_hash    BYTEA PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES oidc_clients (id),
    kind       TEXT NOT NULL CHECK (kind IN ('pushed', 'interaction')),
    params     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- What a person agreed to release to a client, as space-separated scopes.
CREATE TABLE oidc_consents (
    person_id  TEXT NOT NULL REFERENCES persons (id),
    client_id  TEXT NOT NULL REFERENCES oidc_clients (id),
    scopes     TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (person_id, client_id)
);

-- One authorization: what a person's login granted a client. Its code, access tokens and
-- refresh tokens all hang from it, and revoking it revokes them all.
CREATE TABLE oidc_grants (
    id             TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oidc_clients (id),
    person_id      TEXT NOT NULL REFERENCES persons (id),
    scopes         TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce          TEXT,
    eid_level      BIGINT NOT NULL CHECK (eid_level BETWEEN 1 AND 2),
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE INDEX oidc_grants_by_person ON oidc_grants (person_id);

-- Codes and refresh tokens are single-use (`used_at`); access tokens are not.
CREATE TABLE oidc_tokens (
    token_hash BYTEA PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES oidc_grants (id),
    kind       TEXT NOT NULL CHECK (kind IN ('code', 'access', 'refresh')),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX oidc_tokens_by_grant ON oidc_tokens (grant_id);
