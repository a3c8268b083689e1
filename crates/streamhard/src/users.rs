//! `streamhard user add|list|delete`: accounts from the shell, on the same database as
//! `serve` (SQLite in WAL mode lets both use the file at once).

use std::io::BufRead;

use anyhow::{Context, bail};
use streamhard_store::{
    Email, Password, PasswordHash, Store, StoreError, Timestamp, User, UserName,
};

use crate::config::{UserArgs, UserCommand};

pub async fn run(args: UserArgs, stdin: impl BufRead) -> anyhow::Result<()> {
    if let streamhard_store::Location::Sqlite(path) = args.storage.location()
        && let Some(dir) = path.parent()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    let store = Store::open(&args.storage.location())
        .await
        .context("cannot open the database")?;
    let result = match args.command {
        UserCommand::Add {
            email,
            name,
            password_stdin,
        } => add(&store, &email, &name, password_stdin, stdin).await,
        UserCommand::List => list(&store).await,
        UserCommand::Delete { email } => delete(&store, &email).await,
    };
    store.close().await;
    result
}

async fn add(
    store: &Store,
    email: &str,
    name: &str,
    password_stdin: bool,
    mut stdin: impl BufRead,
) -> anyhow::Result<()> {
    if !password_stdin {
        bail!(
            "pass --password-stdin and write the password on standard input (e.g. `printf %s \"$PW\" | streamhard user add ...`)"
        );
    }
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let name = UserName::parse(name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let mut line = String::new();
    stdin
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    let password =
        Password::new(password.to_owned()).map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let hash = tokio::task::spawn_blocking(move || PasswordHash::create(&password))
        .await
        .context("the hashing task failed")?
        .context("cannot hash the password")?;
    match store
        .create_user(&email, &name, &hash, Timestamp::now())
        .await
    {
        Ok(user) => {
            println!("created {} ({})", user.email, user.id);
            Ok(())
        }
        Err(StoreError::EmailTaken) => bail!("an account with the email {email} exists already"),
        Err(e) => Err(e).context("cannot create the account"),
    }
}

async fn list(store: &Store) -> anyhow::Result<()> {
    let users = store.users().await.context("cannot list the accounts")?;
    println!("{}", table_row("EMAIL", "NAME", "CREATED (UTC)"));
    for User {
        email,
        name,
        created_at,
        ..
    } in &users
    {
        println!(
            "{}",
            table_row(email.as_str(), name.as_str(), &utc(*created_at))
        );
    }
    Ok(())
}

async fn delete(store: &Store, email: &str) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    if !store
        .delete_user(&email)
        .await
        .context("cannot delete the account")?
    {
        bail!("no account has the email {email}");
    }
    println!("deleted {email} with its sessions and broadcast history");
    Ok(())
}

fn table_row(email: &str, name: &str, created: &str) -> String {
    format!("{email:<40} {name:<30} {created}")
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, from Unix seconds (Howard Hinnant's civil-from-days).
fn utc(t: Timestamp) -> String {
    let secs = t.unix_seconds();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_unix_seconds_as_utc_dates() {
        assert_eq!(utc(Timestamp::from_unix_seconds(0)), "1970-01-01 00:00:00");
        // date -u -d @951782400 → 2000-02-29 00:00:00 (a leap day)
        assert_eq!(
            utc(Timestamp::from_unix_seconds(951_782_400)),
            "2000-02-29 00:00:00"
        );
        assert_eq!(
            utc(Timestamp::from_unix_seconds(1_800_000_000)),
            "2027-01-15 08:00:00"
        );
    }
}
