-- Posts with images: the `mediaUrls` a post was sent with, fetched again when a scheduled
-- post is published.
ALTER TABLE posts ADD COLUMN media_urls text[] NOT NULL DEFAULT '{}';
