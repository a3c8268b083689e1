//! This node's id: which broadcasts in a shared database are its own.
//!
//! At start a node ends the broadcasts it left open (their keys were only in its memory). With
//! several nodes on one PostgreSQL, that must touch only its own: each node needs a stable id
//! of its own. `--node-id` gives it (on Kubernetes, the pod's name from a StatefulSet);
//! otherwise one is made on first start and kept in the data directory.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use rand::RngCore;

/// The file in the data directory that keeps a generated id.
pub const FILE: &str = "node-id";
/// Longest id accepted.
pub const MAX_LEN: usize = 64;

/// Why an id is not usable, in words; `None` when it is.
pub fn problem(id: &str) -> Option<String> {
    if id.is_empty() || id.len() > MAX_LEN {
        return Some(format!("a node id has 1 to {MAX_LEN} characters"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Some("a node id has only letters, digits, '-', '_' and '.'".to_owned());
    }
    None
}

/// For clap: a `--node-id` value.
pub fn parse(value: &str) -> Result<String, String> {
    match problem(value) {
        Some(why) => Err(why),
        None => Ok(value.to_owned()),
    }
}

/// The id kept in `data_dir`, made (and kept) on first use. Returns it and whether it is new.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<(String, bool)> {
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.trim();
            if let Some(why) = problem(id) {
                anyhow::bail!(
                    "{} holds no usable node id ({why}); fix or delete it",
                    path.display()
                );
            }
            return Ok((id.to_owned(), false));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    let id = format!(
        "node-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    // Written aside and renamed: a crash never leaves a half-written id.
    let temporary = data_dir.join(format!("{FILE}.tmp"));
    let mut file = std::fs::File::create(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    writeln!(file, "{id}")?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok((id, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_made_once_and_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (first, new) = load_or_create(dir.path()).unwrap();
        assert!(new);
        assert!(
            first.starts_with("node-") && problem(&first).is_none(),
            "{first}"
        );
        let (again, new) = load_or_create(dir.path()).unwrap();
        assert_eq!((again, new), (first, false));
    }

    #[test]
    fn a_damaged_id_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "no spaces allowed\n").unwrap();
        let error = load_or_create(dir.path()).unwrap_err().to_string();
        assert!(error.contains("node-id"), "{error}");
    }

    #[test]
    fn ids_are_short_plain_names() {
        assert!(parse("streamhard-0").is_ok());
        assert!(parse("pod.a_1").is_ok());
        assert!(parse("").is_err());
        assert!(parse("a b").is_err());
        assert!(parse("ü").is_err());
        assert!(parse(&"a".repeat(65)).is_err());
    }
}
