-- The disclosure log without an outbox: a record waits for the tree while its seq is above
-- `log_state.integrated_seq`, and the tree's order is kept as runs of consecutive seqs.
--
-- Each integration takes the waiting records in seq order, above the high-water mark. That is
-- safe because no record can later commit below it: SQLite has one writer at a time, and on
-- PostgreSQL the integrator first waits until every insert in flight has ended (a SHARE lock).
-- The entry at tree index `idx + k` is disclosure `seq + k`, for `k < count`; with one writer,
-- a whole log is usually one run.
--
-- A person's records are found through an index on (seq / 65536, subject): a batch of inserts
-- touches only the newest slice of that index, however large the log grows, and a reader probes
-- each slice once.

ALTER TABLE log_state ADD COLUMN integrated_seq INTEGER NOT NULL DEFAULT 0;

-- Records still waiting below the highest integrated seq are written again above it (same
-- bytes, new seqs), so that the high-water mark does not pass over them.
CREATE TEMPORARY TABLE stragglers AS
SELECT o.seq FROM disclosure_outbox o
WHERE o.seq < (SELECT COALESCE(MAX(seq), 0) FROM log_entries);
INSERT INTO disclosures (subject, entry)
SELECT d.subject, d.entry FROM disclosures d JOIN stragglers s ON s.seq = d.seq ORDER BY d.seq;
DELETE FROM disclosures WHERE seq IN (SELECT seq FROM stragglers);
DROP TABLE stragglers;

CREATE TABLE log_ranges (
    idx   INTEGER PRIMARY KEY,
    seq   INTEGER NOT NULL,
    count INTEGER NOT NULL CHECK (count > 0)
);
CREATE UNIQUE INDEX log_ranges_seq ON log_ranges (seq);

INSERT INTO log_ranges (idx, seq, count)
SELECT MIN(idx), MIN(seq), COUNT(*) FROM (
    SELECT idx, seq, SUM(step) OVER (ORDER BY idx) AS run FROM (
        SELECT idx, seq,
               CASE WHEN seq = LAG(seq) OVER (ORDER BY idx) + 1 THEN 0 ELSE 1 END AS step
        FROM log_entries
    ) AS steps
) AS runs
GROUP BY run;

UPDATE log_state SET integrated_seq = (SELECT COALESCE(MAX(seq), 0) FROM log_entries)
WHERE id = 1;

DROP TABLE log_entries;
DROP TABLE disclosure_outbox;
DROP INDEX disclosures_subject;
CREATE INDEX disclosures_subject ON disclosures ((seq / 65536), subject);
