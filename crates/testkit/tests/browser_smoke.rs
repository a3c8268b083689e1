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

/// A form with the controls a settings page has: a list, a colour, a file, a range, a
/// collapsible section, a meter and a status that reports what changed.
const FORM: &str = r##"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>form</title></head>
<body>
  <main>
    <label>Name <input id="name" type="text"></label>
    <label for="size">Size</label>
    <select id="size"><option value="s">Small</option><option value="l">Large</option></select>
    <label>Colour <input id="colour" type="color" value="#000000"></label>
    <label>Picture <input id="picture" type="file" accept="image/png"></label>
    <details><summary>More</summary><label>Volume <input id="volume" type="range"></label></details>
    <meter aria-label="Level" min="0" max="1" value="0.25"></meter>
    <button id="go" type="button">Go</button>
    <label><input id="loud" type="checkbox"> Loud</label>
    <p id="status" role="status" aria-label="Changes"></p>
  </main>
  <script>
    const status = document.getElementById('status');
    const log = (what) => { status.textContent = (status.textContent + ' ' + what).trim(); };
    document.getElementById('size').addEventListener('change', (e) => log('size=' + e.target.value));
    document.getElementById('colour').addEventListener('input', (e) => log('colour=' + e.target.value));
    document.getElementById('picture').addEventListener('change', (e) => {
      const file = e.target.files[0];
      file.arrayBuffer().then((b) => log('picture=' + file.name + ':' + b.byteLength));
    });
  </script>
</body>
</html>
"##;

/// Serves [`PAGE`] at `/` (404 elsewhere) on 127.0.0.1, a secure context for Chromium, which
/// getUserMedia needs. Returns the page's URL.
async fn serve_page() -> anyhow::Result<String> {
    serve(PAGE).await
}

/// Serves `page` at `/` as [`serve_page`] does.
async fn serve(page: &'static str) -> anyhow::Result<String> {
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
                    ("200 OK", page)
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

/// Lists, colours and files are set, and text read back, through the accessibility tree; the
/// keyboard moves the focus from control to control.
#[tokio::test]
async fn fills_a_form_and_tabs_through_it_like_a_user() -> anyhow::Result<()> {
    let url = serve(FORM).await?;
    let browser = Browser::launch(Browser::builder()).await?;
    let page = browser.new_page(&url).await?;

    page.select_by_name("combobox", "Size", "Large").await?;
    assert_eq!(page.text_by_name("combobox", "Size").await?, "Large");
    let missing = page
        .with_timeout(Duration::from_millis(300))
        .select_by_name("combobox", "Size", "Huge")
        .await
        .expect_err("there is no Huge");
    assert!(
        format!("{missing:#}").contains(r#"["Small","Large"]"#),
        "{missing:#}"
    );
    page.fill_by_name("ColorWell", "Colour", "#ff8000").await?;
    assert_eq!(page.text_by_name("ColorWell", "Colour").await?, "#ff8000");
    let dir = tempfile::tempdir()?;
    let picture = dir.path().join("logo.png");
    std::fs::write(&picture, b"\x89PNG not really")?;
    page.set_files_by_name("button", "Picture", &[picture.as_path()])
        .await?;
    let changes = page
        .wait_for_text("status", "Changes", "the picture", |t| {
            t.contains("picture=")
        })
        .await?;
    assert_eq!(changes, "size=l colour=#ff8000 picture=logo.png:15");
    assert_eq!(page.text_by_name("meter", "Level").await?, "0.25");
    assert!(!page.is_checked_by_name("checkbox", "Loud").await?);
    page.set_checked_by_name("checkbox", "Loud", true).await?;
    page.set_checked_by_name("checkbox", "Loud", true).await?;
    assert!(page.is_checked_by_name("checkbox", "Loud").await?);
    assert_eq!(
        page.texts_of_role("status").await?,
        ["size=l colour=#ff8000 picture=logo.png:15"]
    );

    // The range is inside a closed <details>: not perceivable until it opens.
    assert_eq!(page.count_by_name("slider", "Volume").await?, 0);
    page.click_by_name("DisclosureTriangle", "More").await?;
    page.wait_for_element("slider", "Volume").await?;
    assert_eq!(
        page.names_of_role("button").await?,
        ["Picture", "Go"],
        "file inputs are buttons to Chromium"
    );
    assert!(page.ax_unnamed_controls().await?.is_empty());

    // Filling a field focuses it, as typing into it would; the click on More did not.
    let focused = page.focused_control().await?.expect("a focused control");
    assert_eq!(
        (focused.role.as_str(), focused.name.as_str()),
        ("ColorWell", "Colour")
    );
    let presses = page.tab_to("button", "Go", 10).await?;
    assert_eq!(presses, 4, "Picture, More, Volume, then Go");
    page.press_key("Tab", true).await?;
    let back = page.focused_control().await?.expect("a focused control");
    assert_eq!(
        (back.role.as_str(), back.name.as_str()),
        ("slider", "Volume")
    );
    let stuck = page
        .tab_to("button", "Nowhere", 3)
        .await
        .expect_err("no such button");
    assert!(format!("{stuck:#}").contains("button \"Go\""), "{stuck:#}");
    browser.close().await
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
    // The wrapper exec'd Chromium: its processes are the spawned one and its descendants.
    let before = browser.cpu_sample()?;
    let kinds: Vec<&str> = before.processes.iter().map(|p| p.kind.as_str()).collect();
    assert!(
        kinds.contains(&"browser") && kinds.contains(&"renderer"),
        "{kinds:?}"
    );
    page.eval("new Promise((done) => { const end = performance.now() + 300; while (performance.now() < end); done(); })")
        .await?;
    let busy = browser.cpu_sample()?.percent_since(&before);
    assert!(
        busy["renderer"] > 20.0,
        "a busy page shows in its renderer: {busy:?}"
    );
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
