-- Accounts, server-side sessions and broadcast history.
--
-- Portable SQL: the same file runs on SQLite and PostgreSQL. Times are Unix seconds (BIGINT).
-- Never edit this file once released; add a new migration instead.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    -- Normalised (trimmed, lowercased) so uniqueness holds whatever the user typed.
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- argon2id, PHC string format (algorithm, parameters and salt included).
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's random value: a leaked database does not log anyone in.
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    -- Absolute expiry; the idle expiry is last_seen_at + the server's idle timeout.
    expires_at BIGINT NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id);

-- History of broadcasts. Deliberately no destination URLs or stream keys: only how many
-- destinations there were and on which platforms (closed list of names such as "twitch").
CREATE TABLE broadcasts (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The node holding the live broadcast ('' for a single-node deployment).
    node TEXT NOT NULL,
    -- SHA-256 of the broadcast's WHIP bearer token.
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ended_at BIGINT,
    destination_count BIGINT NOT NULL,
    -- Comma-separated platform names, sorted, each at most once.
    platforms TEXT NOT NULL
);

CREATE INDEX broadcasts_by_user ON broadcasts (user_id, created_at);
