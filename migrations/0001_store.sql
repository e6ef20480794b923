-- postgate's PostgreSQL store. One row per thing, so several gateway processes can lock and
-- update exactly what they touch. Times are timestamptz (microseconds); quota windows are
-- epoch milliseconds, as the sliding-window arithmetic uses them.

CREATE TABLE profiles (
    id          text PRIMARY KEY,
    account_id  text NOT NULL,
    title       text NOT NULL,
    -- domain::profile_title_key(title): titles are unique per account regardless of case.
    title_key   text NOT NULL,
    is_primary  boolean NOT NULL,
    -- SHA-256 (hex) of the profile key; NULL for primary profiles.
    key_hash    text UNIQUE,
    created     timestamptz NOT NULL
);
-- Only user profiles take part in title uniqueness (as in the sled store).
CREATE UNIQUE INDEX profiles_title ON profiles (account_id, title_key) WHERE NOT is_primary;
CREATE INDEX profiles_account ON profiles (account_id, created);

CREATE TABLE linked_accounts (
    profile_id          text NOT NULL,
    platform            text NOT NULL,
    user_id             text NOT NULL,
    access_token        text NOT NULL,
    access_token_secret text,
    username            text,
    linked_at           timestamptz NOT NULL,
    PRIMARY KEY (profile_id, platform)
);

CREATE TABLE posts (
    id              text PRIMARY KEY,
    profile_id      text NOT NULL,
    text            text NOT NULL,
    status          text NOT NULL,
    kind            text NOT NULL,
    created         timestamptz NOT NULL,
    schedule_date   timestamptz,
    idempotency_key text,
    -- The schedule: Post::schedule_slot() (the due date while pending), else NULL.
    due_at          timestamptz,
    -- Recovery: Post::in_flight() (an intent recorded, no network answer yet).
    in_flight       boolean NOT NULL
);
-- History, newest first, paged by (created, id).
CREATE INDEX posts_history ON posts (profile_id, created DESC, id DESC);
-- Due schedule, oldest first.
CREATE INDEX posts_due ON posts (due_at, id) WHERE due_at IS NOT NULL;
-- Crash recovery.
CREATE INDEX posts_in_flight ON posts (id) WHERE in_flight;

-- One row per platform of a post, in the post's order.
CREATE TABLE post_entries (
    post_id       text NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    position      integer NOT NULL,
    platform      text NOT NULL,
    network_id    text,
    post_type     text,
    media_type    text,
    post_url      text,
    state         text NOT NULL,
    error_kind    text,
    error_message text,
    deleted_at    timestamptz,
    publish_ref   text,
    PRIMARY KEY (post_id, position)
);

-- An idempotency key holds a claim (claim_post_id, claimed_at) until its answer is recorded.
-- The answer is kept as text: replayed byte for byte, field order included.
CREATE TABLE idempotency_keys (
    profile_id    text NOT NULL,
    key           text NOT NULL,
    claim_post_id text,
    claimed_at    timestamptz,
    answer        text,
    PRIMARY KEY (profile_id, key)
);

-- A sliding-window quota: its row is locked while a call is counted, so every gateway sees
-- one count. blocked_until_ms is a network's own rate-limit block.
CREATE TABLE quotas (
    bucket           text PRIMARY KEY,
    blocked_until_ms bigint NOT NULL DEFAULT 0
);
CREATE TABLE quota_calls (
    id     bigserial PRIMARY KEY,
    bucket text NOT NULL REFERENCES quotas (bucket) ON DELETE CASCADE,
    at_ms  bigint NOT NULL
);
CREATE INDEX quota_calls_bucket ON quota_calls (bucket, at_ms);

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
