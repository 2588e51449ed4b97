//! The browser viewer against the real relay, in headless Chromium: a
//! session's history, then live output, then keys typed in the page reaching
//! the agent. The "agent" is a real agent-link client writing output.

use protocol::{Frame, Metadata};
use tests::browser::{self, Browser, Screen};
use tests::relay::{AgentClient, RelayProcess};

/// Starts a relay serving the built viewer, with a registered session whose
/// agent link is connected and has announced its size.
async fn relay_with_agent(name: &str) -> (RelayProcess, String, String, AgentClient) {
    let dist = browser::dist_dir();
    let relay = RelayProcess::start_with(&["--static-dir", dist.to_str().expect("utf-8 path")]);
    let key = relay.api_key();
    let session = relay.register_session(&key, "claude");
    let mut agent = AgentClient::connect(&relay.ws_url(), &session, &key)
        .await
        .expect("agent link");
    let metadata = Metadata {
        agent: "claude".into(),
        agent_display_name: Some(name.into()),
        ..Default::default()
    };
    agent
        .send(&[
            Frame::Metadata(metadata),
            Frame::Resize { rows: 24, cols: 80 },
        ])
        .await;
    (relay, key, session, agent)
}

/// Collects INPUT bytes the agent receives until they equal `want`.
async fn agent_receives(agent: &mut AgentClient, want: &[u8]) {
    let mut typed = Vec::new();
    while typed.len() < want.len() {
        if let Frame::Input(bytes) = agent.next_command().await {
            typed.extend_from_slice(&bytes);
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&typed),
        String::from_utf8_lossy(want)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_then_live_output_then_typed_keys_reach_the_agent() {
    if !browser::available() {
        return;
    }
    let (relay, key, session, mut agent) = relay_with_agent("e2e history").await;
    let history = b"\x1b[1mhistory\x1b[0m line one\r\nhistory line two\r\n";
    agent.send_output(history).await;
    agent.wait_ack(history.len() as u64).await;

    let browser = Browser::start(Screen::DESKTOP).await;
    let started = std::time::Instant::now();
    browser
        .goto(&format!("{}/s/{session}#key={key}", relay.http_url()))
        .await;
    let text = browser.wait_for_text("history line two").await;
    let first_screen = started.elapsed();
    assert!(text.contains("history line one"), "{text}");
    browser.wait_for_state("live").await;
    let hook = browser.hook().await;
    assert_eq!(hook["role"], "read-write", "{hook}");
    assert_eq!(
        (hook["cols"].as_u64(), hook["rows"].as_u64()),
        (Some(80), Some(24))
    );
    eprintln!("first screen of output after {first_screen:?} (page load included)");

    agent.send_output(b"live line three\r\n").await;
    browser.wait_for_text("live line three").await;

    browser.type_keys("hi").await;
    agent_receives(&mut agent, b"hi").await;
    agent.send_output(b"echo:hi\r\n").await;
    browser.wait_for_text("echo:hi").await;

    // Nothing was duplicated on the way.
    let lines = browser.terminal_lines().await;
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("history line one"), 1, "{lines:#?}");
    assert_eq!(count("live line three"), 1, "{lines:#?}");
    browser.screenshot("viewer-desktop-terminal").await;
    browser.close().await;
}
