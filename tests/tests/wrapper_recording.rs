//! `tether --record FILE.cast` writes the whole session from the wrapper's
//! own stream (byte-exact, nothing lost to the relay's ring), input only
//! with `--record-input`; `tether record ID -o FILE` downloads what the
//! relay holds. Checked with the real asciinema CLI.

use std::path::Path;

use protocol::asciicast::Event;
use tests::asciicast::{asciinema_cat_and_convert, asciinema_markers, asciinema_raw, Cast};
use tests::relay::RelayProcess;
use tests::wait::DEADLINE;
use tests::wrapper::TetherCommand;

fn read_cast(path: &Path) -> Cast {
    Cast::parse(&std::fs::read_to_string(path).expect("the recording"))
}

#[test]
fn the_local_recording_is_complete_and_byte_exact_and_has_no_input_unless_asked() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("run.cast");
    let file_arg = file.to_str().unwrap();
    // 1.3 MB with a pause: more than one chunk, and timing to check.
    let script =
        "read line; printf 'h\\303\\251llo %s\\n' \"$line\"; sleep 0.4; seq 1 200000; exit 4";
    let mut tether = TetherCommand::new(home.path())
        .args([
            "--no-relay",
            "--record",
            file_arg,
            "--command",
            "sh",
            "--",
            "-c",
            script,
        ])
        .spawn();
    tether.write_stdin(b"secret\n");
    assert_eq!(tether.wait(DEADLINE * 2).code(), Some(4));
    tether.stdout.wait_closed(DEADLINE);
    let printed = tether.stdout.bytes();
    assert!(printed.len() > 1_000_000, "{} bytes", printed.len());

    let cast = read_cast(&file);
    assert_eq!(cast.output().as_bytes(), &printed[..], "byte-exact");
    assert_eq!(cast.events.last().map(|e| &e.1), Some(&Event::Exit(4)));
    let gap = cast.time_of("199999") - cast.time_of("héllo");
    assert!((0.35..5.0).contains(&gap), "the pause is {gap} s");
    assert!(
        !cast
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::Input(_))),
        "no input without --record-input"
    );
    if let Some(replayed) = asciinema_raw(&file) {
        assert_eq!(replayed, printed);
        asciinema_cat_and_convert(&file);
    }

    let with_input = home.path().join("input.cast");
    let mut tether = TetherCommand::new(home.path())
        .args([
            "--no-relay",
            "--record",
            with_input.to_str().unwrap(),
            "--record-input",
        ])
        .args([
            "--command",
            "sh",
            "--",
            "-c",
            "read line; echo \"got $line\"",
        ])
        .spawn();
    tether.write_stdin(b"typed\n");
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
    let cast = read_cast(&with_input);
    let typed: String = cast
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Input(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(typed, "typed\n");
}

#[test]
fn the_local_recording_marks_when_the_agent_waits_for_its_person() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("wait.cast");
    // OSC 9 is a notification: the agent waits ("waiting: TEXT"); the output
    // after it means it works again.
    let script =
        r"echo started; printf '\033]9;Allow edit of main.rs?\007'; sleep 0.3; echo went on";
    let mut tether = TetherCommand::new(home.path())
        .args(["--no-relay", "--record", file.to_str().unwrap()])
        .args(["--command", "sh", "--", "-c", script])
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
    let cast = read_cast(&file);
    let markers: Vec<(f64, &str)> = cast
        .events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::Marker(label) => Some((*at, label.as_str())),
            _ => None,
        })
        .collect();
    let waiting = markers
        .iter()
        .find(|(_, label)| *label == "waiting: Allow edit of main.rs?")
        .unwrap_or_else(|| panic!("no waiting marker in {markers:?}"));
    let (asked, went_on) = (cast.time_of("\x1b]9;"), cast.time_of("went on"));
    assert!(
        (asked..went_on).contains(&waiting.0),
        "the marker at {} s is after the question ({asked} s) and before the answer ({went_on} s)",
        waiting.0
    );
    if let Some(read_back) = asciinema_markers(&file) {
        let (at, _) = read_back
            .iter()
            .find(|(_, label)| label == waiting.1)
            .unwrap_or_else(|| panic!("asciinema lost the marker: {read_back:?}"));
        assert!(
            (at - waiting.0).abs() < 0.01,
            "asciinema reads it at {at} s"
        );
    }
}

#[tokio::test]
async fn tether_record_downloads_what_the_relay_holds_and_the_local_file_has_it_all() {
    let relay = RelayProcess::start_with(&["--history-bytes", "65536"]);
    let home = tempfile::tempdir().unwrap();
    let local = home.path().join("local.cast");
    let tether = |args: &[&str]| {
        TetherCommand::new(home.path())
            .env("TETHER_API_URL", relay.http_url())
            .env("TETHER_API_KEY", relay.api_key())
            .args(args)
    };
    let mut run = tether(&["--name", "big run", "--record", local.to_str().unwrap()])
        .args(["--command", "sh", "--", "-c", "seq 1 100000"])
        .null_stdin()
        .spawn();
    let id = run.session_id(DEADLINE);
    assert_eq!(run.wait(DEADLINE * 2).code(), Some(0));
    run.stdout.wait_closed(DEADLINE);
    let printed = run.stdout.bytes();
    assert_eq!(read_cast(&local).output().as_bytes(), &printed[..]);

    let downloaded = home.path().join("down.cast");
    let mut record = tether(&["record", &id, "-o", downloaded.to_str().unwrap()]).spawn();
    assert_eq!(
        record.wait(DEADLINE).code(),
        Some(0),
        "{}",
        record.stderr.text()
    );
    let cast = read_cast(&downloaded);
    let Event::Marker(label) = &cast.events[0].1 else {
        panic!("no marker first: {:?}", &cast.events[..2]);
    };
    assert!(label.contains("no longer held"), "{label}");
    let held = cast.output();
    assert!(held.len() <= 65536 && printed.ends_with(held.as_bytes()));
    assert_eq!(cast.header["title"], "big run");

    // Without an id: the newest session; an unknown one is an error that
    // leaves the file alone.
    let newest = home.path().join("newest.cast");
    let mut record = tether(&["record", "-o", newest.to_str().unwrap()]).spawn();
    assert_eq!(
        record.wait(DEADLINE).code(),
        Some(0),
        "{}",
        record.stderr.text()
    );
    assert_eq!(read_cast(&newest).output(), held);
    let unknown = "00000000-0000-4000-8000-000000000000";
    let mut record = tether(&["record", unknown, "-o", newest.to_str().unwrap()]).spawn();
    assert_ne!(record.wait(DEADLINE).code(), Some(0));
    assert!(
        record.stderr.text().contains("unknown session"),
        "{}",
        record.stderr.text()
    );
    assert_eq!(read_cast(&newest).output(), held, "the old file is kept");
}
