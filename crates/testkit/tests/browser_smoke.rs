//! The browser driver against the real Chromium (Debian package `chromium`): a page served
//! over HTTP from inside the test, found and operated through its accessibility tree.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use streamhard_testkit::browser::Browser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A labelled field and button, and an icon button with no accessible name (its only
/// content is aria-hidden): the accessibility check must report that one and only that one.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>smoke</title></head>
<body>
  <main>
    <h1>Smoke</h1>
    <label>Name <input id="name" type="text"></label>
    <button id="go" type="button">Go</button>
    <button id="mystery" class="icon" type="button"><span aria-hidden="true">&#9733;</span></button>
    <p id="status" role="status">idle</p>
  </main>
  <script>
    document.getElementById('go').addEventListener('click', () => {
      document.getElementById('status').textContent =
        'clicked by ' + document.getElementById('name').value;
    });
  </script>
</body>
</html>
"#;

/// Serves [`PAGE`] at `/` (404 elsewhere) on 127.0.0.1, a secure context for Chromium, which
/// getUserMedia needs. Returns the page's URL.
async fn serve_page() -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let (status, body) = if request.starts_with(b"GET / ") {
                    ("200 OK", PAGE)
                } else {
                    ("404 Not Found", "not found")
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(url)
}

/// `target/test-artifacts/{name}`: kept after the run for a look at what the browser showed.
fn artifact(name: &str) -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp`.
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().map_or_else(|| tmp.clone(), PathBuf::from);
    target.join("test-artifacts").join(name)
}

#[tokio::test]
async fn drives_a_page_by_its_accessibility_tree() -> anyhow::Result<()> {
    let url = serve_page().await?;
    let started = Instant::now();
    let browser = Browser::launch(Browser::builder()).await?;
    eprintln!(
        "{} answered after {:?}; log {}",
        browser.version(),
        started.elapsed(),
        browser.log_path().display()
    );
    let opened = Instant::now();
    let page = browser.new_page(&url).await?;
    eprintln!("new_page loaded after {:?}", opened.elapsed());

    assert_eq!(page.eval("1 + 1").await?, json!(2));
    assert_eq!(page.eval("Promise.resolve('later')").await?, json!("later"));
    let thrown = page
        .eval("Promise.reject(new Error('boom'))")
        .await
        .expect_err("a rejection is an error");
    assert!(format!("{thrown:#}").contains("Error: boom"), "{thrown:#}");

    let unnamed = page.ax_unnamed_controls().await?;
    assert_eq!(unnamed.len(), 1, "{unnamed:?}");
    assert_eq!(unnamed[0].role, "button");
    assert!(
        unnamed[0].description.contains("id=\"mystery\""),
        "{unnamed:?}"
    );

    page.fill_by_name("textbox", "Name", "Ada").await?;
    page.click_by_name("button", "Go").await?;
    assert_eq!(
        page.wait_for("document.getElementById('status').textContent")
            .await?,
        json!("clicked by Ada")
    );
    let missing = page
        .with_timeout(Duration::from_millis(500))
        .click_by_name("button", "Stop")
        .await
        .expect_err("there is no Stop button");
    assert!(
        format!("{missing:#}").contains("named [\"Go\", \"\"]"),
        "{missing:#}"
    );

    let png = artifact("browser_smoke.png");
    page.screenshot(&png).await?;
    let bytes = std::fs::read(&png)?;
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 2000, "a {} byte screenshot", bytes.len());

    assert_eq!(page.visibility_state().await?, "visible");
    let tab = page.open_tab("about:blank").await?;
    assert_eq!(page.visibility_state().await?, "hidden");
    assert_eq!(tab.visibility_state().await?, "visible");
    page.bring_to_front().await?;
    assert_eq!(page.visibility_state().await?, "visible");
    assert_eq!(tab.visibility_state().await?, "hidden");

    let closing = Instant::now();
    browser.close().await?;
    eprintln!("close took {:?}", closing.elapsed());
    Ok(())
}

/// Chromium's generated camera and microphone, through a trivial wrapper command (`env`):
/// the same path as `ip netns exec NS`, proving the pipe survives a wrapper's exec.
#[tokio::test]
async fn fake_media_through_a_wrapper() -> anyhow::Result<()> {
    let url = serve_page().await?;
    let browser = Browser::builder()
        .fake_media()
        .wrap_command(["env", "STREAMHARD_WRAPPED=1"])
        .launch()
        .await?;
    let page = browser.new_page(&url).await?;
    let tracks = page
        .eval(
            "navigator.mediaDevices.getUserMedia({ video: true, audio: true }).then(stream => ({
                video: stream.getVideoTracks().length,
                audio: stream.getAudioTracks().length,
            }))",
        )
        .await?;
    assert_eq!(tracks, json!({ "video": 1, "audio": 1 }));
    browser.close().await
}

/// A browser that cannot start is an error quickly, quoting what it printed, not a hang.
#[tokio::test]
async fn a_failed_launch_is_reported() {
    let started = Instant::now();
    let error = Browser::builder()
        .wrap_command(["sh", "-c", "echo 'no browser here' >&2; exit 3", "sh"])
        .timeout(Duration::from_secs(10))
        .launch()
        .await
        .err()
        .expect("launch must fail");
    let message = format!("{error:#}");
    assert!(message.contains("no browser here"), "{message}");
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
