-- Durable background work (issue #14): queued deletes (kind 'delete') and the webhook outbox
-- (kind 'webhook'). A worker claims due jobs until claimed_until; another gateway skips them
-- until then and takes them over if the holder died. Numbered after the issue so parallel
-- migrations of other work keep distinct versions.
CREATE TABLE jobs (
    kind          text NOT NULL,
    key           text NOT NULL,
    -- What the per-group bound counts (a queued delete's quota bucket).
    grp           text NOT NULL,
    due           timestamptz NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    -- The worker's JSON description of the work.
    payload       text NOT NULL,
    claimed_until timestamptz,
    PRIMARY KEY (kind, key)
);
CREATE INDEX jobs_due ON jobs (kind, due, key);
CREATE INDEX jobs_group ON jobs (kind, grp);
