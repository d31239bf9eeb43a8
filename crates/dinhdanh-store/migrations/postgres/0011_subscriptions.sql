-- Telecom subscriptions (Circular 08/2026, DESIGN §4): lines that operators registered and
-- the registry verified. A rejected registration is answered and not kept; what the answer
-- told the operator is in the person's disclosure log. The MSISDN is sealed under the field
-- key (bound to the row) and found by a blind index: one live subscription a number.
-- Timestamps are microseconds since the Unix epoch.
CREATE TABLE subscriptions (
    id                     TEXT PRIMARY KEY,
    operator_id            TEXT NOT NULL REFERENCES organisations (id),
    msisdn                 BYTEA NOT NULL,
    msisdn_index           BYTEA NOT NULL,
    -- The holder: a person, or an organisation by its registry entry.
    person_id              TEXT REFERENCES persons (id),
    holder_organisation_id TEXT REFERENCES organisations (id),
    -- A contract that allows a person more lines at the operator than the default limit.
    contract               BIGINT NOT NULL DEFAULT 0,
    activated_on           TEXT NOT NULL,
    -- Where the line stands (dinhdanh-telecom `LineStatus`).
    status                 TEXT NOT NULL
        CHECK (status IN ('active', 'outgoing_suspended', 'blocked', 'terminated')),
    -- The operator's attestation that its certified equipment matched the holder's face;
    -- without one the subscription is pending a face check. No biometric is kept.
    face_check_method      TEXT,
    face_checked_at        BIGINT,
    -- The last device change not verified since, and when the scheduler next moves the line.
    device_changed_at      BIGINT,
    next_transition_at     BIGINT,
    -- When the holder said the line is not theirs.
    reported_at            BIGINT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    CHECK ((person_id IS NULL) <> (holder_organisation_id IS NULL))
);
CREATE UNIQUE INDEX subscriptions_live_msisdn ON subscriptions (msisdn_index)
    WHERE status <> 'terminated';
CREATE INDEX subscriptions_by_person ON subscriptions (person_id, operator_id);
CREATE INDEX subscriptions_by_holder_organisation ON subscriptions (holder_organisation_id);
CREATE INDEX subscriptions_due ON subscriptions (next_transition_at)
    WHERE next_transition_at IS NOT NULL;

-- Every change of a line's status, for its operator to poll in order. Writers hold the
-- operator's row while they write, so that on every backend an operator's transitions commit
-- in `seq` order and a poller that read up to N never misses one below N later.
CREATE TABLE subscription_transitions (
    seq             BIGSERIAL PRIMARY KEY,
    operator_id     TEXT NOT NULL REFERENCES organisations (id),
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
    from_status     TEXT NOT NULL,
    to_status       TEXT NOT NULL,
    cause           TEXT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX subscription_transitions_by_operator ON subscription_transitions (operator_id, seq);
CREATE INDEX subscription_transitions_by_subscription
    ON subscription_transitions (subscription_id, seq);
