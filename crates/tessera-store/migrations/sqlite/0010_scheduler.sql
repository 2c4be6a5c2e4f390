-- The portal's daily jobs: one row per job and day, claimed by one node at a time (a
-- claim that outlives claimed_until without finishing may be taken over), so each job
-- runs once a day however many portal nodes there are.
CREATE TABLE daily_runs (
    job           TEXT NOT NULL,
    day           TEXT NOT NULL, -- YYYY-MM-DD (UTC)
    node          TEXT NOT NULL,
    claimed_until INTEGER NOT NULL,
    finished_at   INTEGER,
    PRIMARY KEY (job, day)
);

-- Renewal reminders sent: one per order and threshold (90, 30 or 7 days before the end).
CREATE TABLE renewal_reminders (
    order_id    TEXT NOT NULL,
    days_before INTEGER NOT NULL,
    sent_at     INTEGER NOT NULL,
    PRIMARY KEY (order_id, days_before)
);
