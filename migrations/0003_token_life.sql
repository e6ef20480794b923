-- What postgate knows of a linked account's token (issue #12): its expiry, when it was
-- issued or last refreshed, the granted scopes (comma-separated; NULL = unknown), and whether
-- the user must link again. Existing rows: unknown life, not flagged.
ALTER TABLE linked_accounts
    ADD COLUMN token_expires_at   timestamptz,
    ADD COLUMN token_refreshed_at timestamptz,
    ADD COLUMN token_scopes       text,
    ADD COLUMN needs_relink       boolean NOT NULL DEFAULT false;
