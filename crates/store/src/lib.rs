//! Storage for accounts, server-side sessions, broadcast history and the studio's per-user
//! settings (overlay settings, logo).
//!
//! One [`Store`] value, two backends behind it: an SQLite file (the zero-setup default, in WAL
//! mode so the operator CLI can use it while the server runs) and PostgreSQL (the database of
//! multi-node deployments). The SQL is written once, portable to both; the migrations are
//! embedded in the binary and run on open.
//!
//! What is stored is chosen so that a leaked database reveals as little as possible: password
//! hashes (argon2id), hashes of session and broadcast tokens (never the tokens), and broadcast
//! history as counts and platform *names*. Destination URLs and stream keys have no column and
//! no type here that could carry them: history takes [`Platform`] values, a closed enum.

mod broadcasts;
mod email;
mod error;
mod name;
mod password;
mod platform;
mod pool;
mod sessions;
mod studio;
mod time;
mod token;
mod users;

pub use broadcasts::{BroadcastRecord, NewBroadcast};
pub use email::{Email, EmailError};
pub use error::StoreError;
pub use name::{NameError, UserName};
pub use password::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, Password, PasswordError, PasswordHash};
pub use platform::Platform;
pub use pool::{Backend, DatabaseUrl, Location, Store};
pub use sessions::SESSION_TOUCH_INTERVAL;
pub use studio::Logo;
pub use time::Timestamp;
pub use token::{SecretToken, TokenHash};
pub use users::{User, UserId};
