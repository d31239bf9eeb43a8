-- Shared Signals (SSF 1.0). Timestamps are microseconds since the Unix epoch.

-- A receiver's event stream (SSF §8.1.1), owned by the client that made it. `config` holds
-- what the receiver asked for as JSON (events requested, delivery method and endpoint,
-- description), and `method` its delivery method; a push `authorization_header` is a credential of the receiver's, kept
-- sealed under the field key in `push_authorization`.
CREATE TABLE ssf_streams (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL REFERENCES oidc_clients (id),
    config        TEXT NOT NULL,
    method        TEXT NOT NULL CHECK (method IN ('push', 'poll')),
    push_authorization BLOB,
    status        TEXT NOT NULL CHECK (status IN ('enabled', 'paused', 'disabled')),
    reason        TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX ssf_streams_by_client ON ssf_streams (client_id);

-- People a receiver added to its stream (`included` 1) or removed from it (0) (SSF §8.1.3).
-- A stream also hears of everyone who holds a binding on its client's platform.
CREATE TABLE ssf_stream_subjects (
    stream_id TEXT NOT NULL REFERENCES ssf_streams (id),
    person_id TEXT NOT NULL REFERENCES persons (id),
    included  INTEGER NOT NULL,
    PRIMARY KEY (stream_id, person_id)
);
CREATE INDEX ssf_stream_subjects_by_person ON ssf_stream_subjects (person_id);

-- Something receivers must hear of about a person, written in the transaction that made it
-- happen, and waiting to be fanned out to the streams concerned (then deleted in the
-- transaction that writes their outbox rows). `organisation_id` limits it to one platform's
-- streams. `detail` holds the event type's short name and its members as JSON, sealed under
-- the field key (the signal's id is its associated data): what happened to a person, and
-- when (an e-ID level, a birthday), is personal.
CREATE TABLE signals (
    id              TEXT PRIMARY KEY,
    person_id       TEXT NOT NULL REFERENCES persons (id),
    organisation_id TEXT REFERENCES organisations (id),
    detail          BLOB NOT NULL,
    created_at      INTEGER NOT NULL
);

-- One security event for one stream, from its creation until the receiver has it: pushed
-- (RFC 8935) when `next_attempt_at` comes, or polled (RFC 8936) until acknowledged. The event
-- is kept unsigned (type, subject, members) as JSON sealed under the field key (the `jti` is
-- its associated data), and signed at each delivery under its `jti`.
-- `delivered_at` is set on a 2xx push or an acknowledgement; `failure` on a rejection
-- (with `delivered_at` left empty and `next_attempt_at` cleared) or the last retryable error.
CREATE TABLE ssf_outbox (
    jti             TEXT PRIMARY KEY,
    stream_id       TEXT NOT NULL REFERENCES ssf_streams (id),
    event           BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    delivered_at    INTEGER,
    failure         TEXT
);
CREATE INDEX ssf_outbox_due ON ssf_outbox (next_attempt_at);
CREATE INDEX ssf_outbox_by_stream ON ssf_outbox (stream_id, created_at);
