-- What a profile's owner may change with PATCH /api/profiles (issue #16): the platforms it
-- disables (comma-separated wire names; NULL = none), and how the linking page titles it.
-- Numbered 0161 (issue 16, part 1) so that other migrations of issue 16 keep 0016.
ALTER TABLE profiles
    ADD COLUMN disabled_social text,
    ADD COLUMN hide_title      boolean NOT NULL DEFAULT false,
    ADD COLUMN display_title   text;
