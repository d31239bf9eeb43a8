-- People under 18 who hold a platform binding, so that their platforms hear when they turn
-- 16 and 18. Birth dates are sealed and cannot be queried by date, so the announcer opens each
-- watched person's record and compares with the bracket it last announced, kept here sealed
-- under the field key (the person's id is its associated data). A row is made with the
-- person's first binding while under 18, and leaves when they come of age or die. `version`
-- makes an announcement a compare-and-set: of two nodes announcing at once, one does. No
-- column records when a row changed: that time would be a birthday.
CREATE TABLE age_watch (
    person_id  TEXT PRIMARY KEY REFERENCES persons (id),
    bracket    BYTEA NOT NULL,
    version    BIGINT NOT NULL
);

-- Delivered and rejected outbox rows are swept after a while.
CREATE INDEX ssf_outbox_done ON ssf_outbox (delivered_at);

-- "Sign out everywhere" revokes the grants a guardian made for a child too.
CREATE INDEX oidc_grants_by_actor ON oidc_grants (actor_id);
