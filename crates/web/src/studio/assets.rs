//! Where the studio's files come from: embedded in the binary, or a directory on disk.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

/// The front end as it was when the binary was built.
static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/studio");

/// Largest file served from `--studio-dir`: the page's own files are all far smaller.
const MAX_DISK_FILE: u64 = 8 * 1024 * 1024;

/// One file ready to send.
pub struct File {
    pub bytes: Cow<'static, [u8]>,
    pub content_type: &'static str,
    /// A strong validator: the first 16 bytes of the content's SHA-256, quoted.
    pub etag: String,
}

/// The studio's files.
#[derive(Clone)]
pub enum Assets {
    Embedded(Arc<EmbeddedIndex>),
    /// Read on every request, so an edited file shows on reload (development).
    Disk(PathBuf),
}

/// Embedded files with their ETags computed once.
pub struct EmbeddedIndex {
    files: std::collections::HashMap<&'static str, (&'static [u8], String)>,
}

impl Default for Assets {
    fn default() -> Self {
        Self::embedded()
    }
}

impl Assets {
    pub fn embedded() -> Self {
        let mut files = std::collections::HashMap::new();
        collect(&EMBEDDED, &mut files);
        Self::Embedded(Arc::new(EmbeddedIndex { files }))
    }

    /// Serves the directory's files instead of the embedded ones.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        Self::Disk(dir.into())
    }

    /// The file at `path` (relative, `/`-separated), if it exists and is served.
    pub fn get(&self, path: &str) -> Option<File> {
        let content_type = content_type(path)?;
        match self {
            Self::Embedded(index) => {
                let (bytes, etag) = index.files.get(path)?;
                Some(File {
                    bytes: Cow::Borrowed(bytes),
                    content_type,
                    etag: etag.clone(),
                })
            }
            Self::Disk(root) => {
                // A symbolic link inside the directory must not lead out of it.
                let root = root.canonicalize().ok()?;
                let full = root.join(safe_relative(path)?).canonicalize().ok()?;
                if !full.starts_with(&root) {
                    return None;
                }
                let meta = std::fs::metadata(&full).ok()?;
                if !meta.is_file() || meta.len() > MAX_DISK_FILE {
                    return None;
                }
                let bytes = std::fs::read(&full).ok()?;
                let etag = etag(&bytes);
                Some(File {
                    bytes: Cow::Owned(bytes),
                    content_type,
                    etag,
                })
            }
        }
    }
}

fn collect(
    dir: &'static Dir<'static>,
    files: &mut std::collections::HashMap<&'static str, (&'static [u8], String)>,
) {
    for file in dir.files() {
        // include_dir paths are relative to the embedded root and always valid UTF-8 here:
        // the tree is ours. A file that is not is simply not served.
        if let Some(path) = file.path().to_str() {
            files.insert(path, (file.contents(), etag(file.contents())));
        }
    }
    for sub in dir.dirs() {
        collect(sub, files);
    }
}

/// Only plain relative components: no `..`, no root, no drive, no empty segments.
fn safe_relative(path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.contains('\\') || path.split('/').any(str::is_empty) {
        return None;
    }
    let relative = Path::new(path);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| relative.to_path_buf())
}

fn etag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The types the studio is made of; anything else (README, editor backups, tests) is not
/// served at all.
fn content_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webmanifest" => "application/manifest+json",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_studio_has_its_page_and_entry_module() {
        let assets = Assets::embedded();
        let index = assets.get("index.html").expect("index.html");
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert!(String::from_utf8_lossy(&index.bytes).contains("js/main.js"));
        assert!(assets.get("js/main.js").is_some());
    }

    #[test]
    fn paths_that_leave_the_directory_are_refused() {
        for path in [
            "../Cargo.toml",
            "/etc/passwd",
            "js/../../x.js",
            "a//b.js",
            "a\\b.js",
            "",
        ] {
            assert!(safe_relative(path).is_none(), "{path}");
        }
        assert_eq!(
            safe_relative("js/main.js"),
            Some(PathBuf::from("js/main.js"))
        );
    }

    #[test]
    fn files_of_unknown_types_are_not_served() {
        assert!(content_type("tests/layout.test.mjs").is_none());
        assert!(content_type("README.md").is_none());
        assert!(content_type("package.json").is_none());
        assert_eq!(
            content_type("js/a.js"),
            Some("text/javascript; charset=utf-8")
        );
    }

    #[test]
    fn a_link_out_of_the_disk_directory_is_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.js"), "secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.js"), dir.path().join("a.js"))
            .unwrap();
        assert!(Assets::from_dir(dir.path()).get("a.js").is_none());
    }

    #[test]
    fn a_disk_directory_is_read_on_every_request() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "one").unwrap();
        let assets = Assets::from_dir(dir.path());
        let first = assets.get("index.html").unwrap();
        std::fs::write(dir.path().join("index.html"), "two").unwrap();
        let second = assets.get("index.html").unwrap();
        assert_eq!(&*second.bytes, b"two");
        assert_ne!(first.etag, second.etag);
    }
}
