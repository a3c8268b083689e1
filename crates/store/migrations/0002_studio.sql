-- The studio's per-user settings: its overlay settings and its logo image. Neither is a
-- secret (they are drawn on the stream), and neither may hold a destination URL or stream key:
-- the studio keeps those in the browser only.
--
-- Portable SQL, like 0001. BYTEA is PostgreSQL's binary type; SQLite has no such name and gives
-- the column NUMERIC affinity, which stores BLOB values unchanged, so one file serves both.

CREATE TABLE studio_settings (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- A JSON object, validated and re-serialised by the HTTP layer; opaque to the store.
    document TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE studio_logos (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- One of the image types the HTTP layer accepts (checked against the bytes' signature).
    content_type TEXT NOT NULL,
    bytes BYTEA NOT NULL,
    -- SHA-256 of bytes, hex: the HTTP ETag, computed once at upload instead of on every read.
    sha256 TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
