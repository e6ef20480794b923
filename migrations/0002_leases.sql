-- Scheduler leases: a gateway claims a due post until lease_until; another gateway skips it
-- until then, and takes it over if the holder died (the lease expired).
ALTER TABLE posts ADD COLUMN lease_holder text;
ALTER TABLE posts ADD COLUMN lease_until timestamptz;
