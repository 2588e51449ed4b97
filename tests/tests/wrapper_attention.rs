//! "Needs you": the real `tether` reads the agent's notification sequences
//! (OSC 9, OSC 777;notify, OSC 99, BEL) and its silences, and the real relay
//! shows the session's attention in the API, to viewers (CONTROL
//! `attention`) and in the message log.

use std::path::Path;
use std::time::Duration;

use protocol::api::AttentionInfo;
use protocol::{Attention, AttentionState, Control};
use tests::fake_relay::CuttableProxy;
use tests::relay::{RelayProcess, ViewerClient};
use tests::wait::{eventually, DEADLINE};
use tests::wrapper::{TetherCommand, TetherProcess};

/// An agent that prints, on each line it reads, the sequence the line names
/// (anything else is echoed back).
const AGENT: &str = r#"stty -echo; echo ready
long=$(printf 'x%.0s' $(seq 1 3000))
while read line; do
  case "$line" in
    osc9) printf '\033]9;Allow edit of main.rs?\007' ;;
    osc777) printf '\033]777;notify;Codex;Approve command?\033\\' ;;
    osc99) printf '\033]99;i=1:d=0;Claude\033\\\033]99;i=1:p=body;Needs your input\033\\' ;;
    bell) printf '\007' ;;
    long) printf '\033]9;%s\007' "$long" ;;
    *) echo "echo:$line" ;;
  esac
done"#;

fn tether(relay: &RelayProcess, home: &Path, extra: &[&str]) -> TetherProcess {
    TetherCommand::new(home)
        .env("TETHER_API_URL", relay.http_url())
        .env("TETHER_API_KEY", relay.api_key())
        .args(extra.iter().copied())
        .args(["--command", "sh", "--name", "needs you", "--", "-c", AGENT])
        .spawn()
}

async fn attention(relay: &RelayProcess, id: &str) -> Option<AttentionInfo> {
    relay.session(&relay.api_key(), id).await?.attention
}

/// Waits until the API shows `state` (and `text`, when given).
async fn wait_api(relay: &RelayProcess, id: &str, state: AttentionState, text: Option<&str>) {
    let what = format!("the API to show {state:?} {text:?}");
    eventually(&what, DEADLINE, async || {
        attention(relay, id)
            .await
            .is_some_and(|a| a.state == state && (text.is_none() || a.text.as_deref() == text))
    })
    .await;
}

/// Waits for the viewer's CONTROL `attention` with `state`; returns it.
async fn wait_viewer(viewer: &mut ViewerClient, state: AttentionState) -> Attention {
    let control = tokio::time::timeout(
        DEADLINE,
        viewer.wait_control(|c| matches!(c, Control::Attention(a) if a.state == state)),
    )
    .await
    .unwrap_or_else(|_| panic!("no attention {state:?} for the viewer"));
    match control {
        Control::Attention(attention) => attention,
        _ => unreachable!("wait_control returns what was asked for"),
    }
}

/// Types `line` into the agent until the session is `working` again (text
/// printed within a second of a notification belongs to the wait).
async fn resume(tether: &mut TetherProcess, relay: &RelayProcess, id: &str) {
    eventually("the session to work again", DEADLINE, async || {
        tether.write_stdin(b"go on\n");
        tokio::time::sleep(Duration::from_millis(150)).await;
        attention(relay, id)
            .await
            .is_some_and(|a| a.state == AttentionState::Working)
    })
    .await;
}

#[tokio::test]
async fn each_notification_sequence_makes_the_session_wait_until_output_resumes() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let mut tether = tether(&relay, home.path(), &["--idle-after", "0"]);
    let id = tether.session_id(DEADLINE);
    let mut viewer = relay.connect_viewer(&id, &relay.api_key(), None).await;
    viewer.read_history().await;
    tether.stdout.wait_for_text("ready", DEADLINE);
    wait_api(&relay, &id, AttentionState::Working, None).await;

    let cases = [
        ("osc9", Some("Allow edit of main.rs?")),
        ("osc777", Some("Codex: Approve command?")),
        ("osc99", Some("Claude: Needs your input")),
        ("bell", None),
    ];
    for (line, text) in cases {
        tether.write_stdin(format!("{line}\n").as_bytes());
        let seen = wait_viewer(&mut viewer, AttentionState::Waiting).await;
        assert_eq!(seen.text.as_deref(), text, "{line}");
        wait_api(&relay, &id, AttentionState::Waiting, text).await;
        let shown = attention(&relay, &id).await.unwrap();
        assert_eq!(shown.text.as_deref(), text, "{line}: {shown:?}");
        resume(&mut tether, &relay, &id).await;
        wait_viewer(&mut viewer, AttentionState::Working).await;
    }

    // A text over 1 KiB is cut to 1 KiB.
    tether.write_stdin(b"long\n");
    let long = wait_viewer(&mut viewer, AttentionState::Waiting).await;
    assert_eq!(long.text.as_deref(), Some("x".repeat(1024).as_str()));
    wait_api(
        &relay,
        &id,
        AttentionState::Waiting,
        Some(&"x".repeat(1024)),
    )
    .await;

    // Each wait is in the message log.
    let session = relay.session(&relay.api_key(), &id).await.unwrap();
    let log: Vec<String> = session
        .messages
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert!(
        log.contains(&"Waiting for you: Allow edit of main.rs?".to_string()),
        "{log:?}"
    );
    assert!(log.contains(&"Waiting for you".to_string()), "{log:?}");

    tether.close_stdin();
    tether.wait(DEADLINE);
    wait_viewer(&mut viewer, AttentionState::Ended).await;
    wait_api(&relay, &id, AttentionState::Ended, None).await;
}

#[tokio::test]
async fn an_agent_quiet_after_output_is_idle_until_it_prints_again() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let mut tether = tether(&relay, home.path(), &["--idle-after", "1"]);
    let id = tether.session_id(DEADLINE);
    tether.stdout.wait_for_text("ready", DEADLINE);
    wait_api(&relay, &id, AttentionState::Idle, None).await;
    tether.write_stdin(b"hello\n");
    wait_api(&relay, &id, AttentionState::Working, None).await;
    // Quiet again: idle again; a wait is never turned idle.
    wait_api(&relay, &id, AttentionState::Idle, None).await;
    tether.write_stdin(b"bell\n");
    wait_api(&relay, &id, AttentionState::Waiting, None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = attention(&relay, &id).await.unwrap();
    assert_eq!(still.state, AttentionState::Waiting, "{still:?}");
}

/// `tether --resume`: a wait the agent shows before the link first comes up
/// is reported at its place in the session's stream (after the earlier
/// run's output), so the relay takes it for the new wait it is: in the API
/// at that offset, and in the message log (which, like a push, takes each
/// wait once, by offset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_session_waiting_before_its_link_is_up_is_a_new_wait() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let key = relay.api_key();
    let first_run = "seq 1 2000; printf '\\033]9;First wait\\007'; sleep 0.2";
    let mut first = TetherCommand::new(home.path())
        .env("TETHER_API_URL", relay.http_url())
        .env("TETHER_API_KEY", &key)
        .args(["--command", "sh", "--", "-c", first_run])
        .null_stdin()
        .spawn();
    let id = first.session_id(DEADLINE);
    assert_eq!(first.wait(DEADLINE).code(), Some(0));
    wait_api(&relay, &id, AttentionState::Ended, None).await;
    let first_end = attention(&relay, &id).await.unwrap().offset.unwrap();
    assert!(first_end > 8000, "{first_end}");

    // The API answers, but the agent link cannot connect yet.
    let proxy = CuttableProxy::start(relay.addr()).await;
    proxy.refuse_new(true);
    let second_run = "stty -echo; printf '\\033]9;Second wait\\007'; echo asked; read x";
    let mut second = TetherCommand::new(home.path())
        .env("TETHER_API_URL", relay.http_url())
        .env("TETHER_RELAY_URL", proxy.agent_url())
        .env("TETHER_API_KEY", &key)
        .args(["--resume", &id, "--command", "sh", "--", "-c", second_run])
        .spawn();
    second.stdout.wait_for_text("asked", DEADLINE);
    proxy.refuse_new(false);

    wait_api(&relay, &id, AttentionState::Waiting, Some("Second wait")).await;
    let shown = attention(&relay, &id).await.unwrap();
    assert!(
        shown.offset.is_some_and(|at| at >= first_end),
        "the wait is after the first run's output ({first_end}): {shown:?}"
    );
    eventually("the second wait in the message log", DEADLINE, async || {
        relay
            .session(&key, &id)
            .await
            .and_then(|s| s.messages)
            .is_some_and(|log| {
                log.iter()
                    .any(|m| m.content == "Waiting for you: Second wait")
            })
    })
    .await;
    second.write_stdin(b"\n");
    assert_eq!(second.wait(DEADLINE).code(), Some(0));
}
