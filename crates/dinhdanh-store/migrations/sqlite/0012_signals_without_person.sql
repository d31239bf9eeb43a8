-- A signal may concern no person: a line an organisation holds changes status, and its
-- operator hears of it under the line's number. SQLite cannot drop a NOT NULL constraint, so
-- the table (whose rows wait only until they are fanned out) is made again.
CREATE TABLE signals_next (
    id              TEXT PRIMARY KEY,
    person_id       TEXT REFERENCES persons (id),
    organisation_id TEXT REFERENCES organisations (id),
    detail          BLOB NOT NULL,
    created_at      INTEGER NOT NULL
);
INSERT INTO signals_next (id, person_id, organisation_id, detail, created_at)
    SELECT id, person_id, organisation_id, detail, created_at FROM signals;
DROP TABLE signals;
ALTER TABLE signals_next RENAME TO signals;
