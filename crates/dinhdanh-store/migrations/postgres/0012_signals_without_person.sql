-- A signal may concern no person: a line an organisation holds changes status, and its
-- operator hears of it under the line's number.
ALTER TABLE signals ALTER COLUMN person_id DROP NOT NULL;
