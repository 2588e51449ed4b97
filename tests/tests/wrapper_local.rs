//! `tether --no-relay`: the agent in a real PTY, driven through pipes and
//! inside a real terminal (tmux). No relay, and no socket at all.

use std::net::TcpListener;

use tests::tmux::{children, Tmux};
use tests::tools::{require_tool, require_vim};
use tests::wait::{eventually_blocking, DEADLINE};
use tests::wrapper::{tether_bin, TetherCommand};

fn home() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp home")
}

#[test]
fn pipes_work_and_exit_status_propagates() {
    let home = home();
    let mut tether = TetherCommand::new(home.path())
        .args(["--no-relay", "--command", "sh", "--", "-c"])
        .args(["read line; echo \"got:$line\"; exit 7"])
        .spawn();
    tether.write_stdin(b"hello\n");
    tether.stdout.wait_for_text("got:hello", DEADLINE);
    let status = tether.wait(DEADLINE);
    assert_eq!(status.code(), Some(7), "stderr: {}", tether.stderr.text());
    // After start nothing but the agent's output reaches the terminal.
    assert_eq!(tether.stderr.text(), "");
}

#[test]
fn end_of_stdin_is_end_of_file_for_the_agent() {
    let home = home();
    let mut tether = TetherCommand::new(home.path())
        .args([
            "--no-relay",
            "--command",
            "sh",
            "--",
            "-c",
            "cat >/dev/null; echo cat-done",
        ])
        .spawn();
    tether.write_stdin(b"partial line without newline");
    tether.close_stdin();
    tether.stdout.wait_for_text("cat-done", DEADLINE);
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
}

#[test]
fn agent_flags_pass_through_in_order() {
    let home = home();
    let script = home.path().join("argv.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done; echo\n",
    )
    .unwrap();
    make_executable(&script);
    let mut tether = TetherCommand::new(home.path())
        .args([
            "--continue",
            "--no-relay",
            "--permission-mode",
            "plan",
            "--command",
        ])
        .args([script.as_os_str()])
        .args([
            "--name",
            "my session",
            "--dangerously-skip-permissions",
            "-p",
        ])
        .args(["--", "--name", "x", "--", "--no-relay"])
        .null_stdin()
        .spawn();
    assert_eq!(
        tether.wait(DEADLINE).code(),
        Some(0),
        "stderr: {}",
        tether.stderr.text()
    );
    tether.stdout.wait_for_text(
        "[--continue][--permission-mode][plan][--dangerously-skip-permissions][-p][--name][x][--][--no-relay]",
        DEADLINE,
    );
}

fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn agent_environment_has_the_session_id() {
    let home = home();
    let mut tether = TetherCommand::new(home.path())
        .args([
            "--no-relay",
            "--command",
            "sh",
            "--",
            "-c",
            "echo id=$TETHER_SESSION_ID",
        ])
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
    let out = tether.stdout.text();
    let id = out.trim().strip_prefix("id=").expect("id line");
    assert_eq!(id.len(), 36, "a UUID: {out:?}");
}

#[test]
fn missing_agent_is_explained() {
    let home = home();
    let mut tether = TetherCommand::new(home.path())
        .args(["--no-relay", "--agent", "codex"])
        .env("PATH", "/nonexistent")
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(DEADLINE).code(), Some(127));
    let err = tether.stderr.text();
    assert!(err.contains("`codex` was not found in PATH"), "{err}");
    assert!(err.contains("npm install -g @openai/codex"), "{err}");
}

#[test]
fn termination_signals_end_the_agent_and_tether() {
    for (signal, number) in [("TERM", 15), ("QUIT", 3), ("HUP", 1)] {
        let home = home();
        let mut tether = TetherCommand::new(home.path())
            .args([
                "--no-relay",
                "--command",
                "sh",
                "--",
                "-c",
                "echo started; sleep 30",
            ])
            .spawn();
        tether.stdout.wait_for_text("started", DEADLINE);
        tether.signal(signal);
        assert_eq!(
            tether.wait(DEADLINE).code(),
            Some(128 + number),
            "SIG{signal}"
        );
    }
}

/// `--no-relay` makes no connection: with the relay and API URLs pointing at
/// a listener of ours, nothing connects, and the process never holds a socket.
#[test]
fn no_relay_opens_no_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let home = home();
    let mut tether = TetherCommand::new(home.path())
        .args([
            "--no-relay",
            "--command",
            "sh",
            "--",
            "-c",
            "echo up; read x; echo bye",
        ])
        .env("TETHER_RELAY_URL", format!("ws://{addr}/agent"))
        .env("TETHER_API_URL", format!("http://{addr}"))
        .env("TETHER_API_KEY", "tk1.test.key")
        .spawn();
    tether.stdout.wait_for_text("up", DEADLINE);
    let sockets = network_sockets(tether.pid());
    assert!(
        sockets.is_empty(),
        "tether holds network sockets: {sockets:?}"
    );
    tether.write_stdin(b"\n");
    tether.stdout.wait_for_text("bye", DEADLINE);
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "something connected to the relay address"
    );
}

/// The TCP/UDP sockets (by inode) a process holds. Unix sockets (such as the
/// signal handler's self-pipe) do not count.
fn network_sockets(pid: u32) -> Vec<String> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list the process's fds")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let mut network = Vec::new();
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            // Column 10 is the socket's inode.
            if let Some(inode) = line.split_whitespace().nth(9) {
                if inodes.iter().any(|i| i == inode) {
                    network.push(format!("{table}: {line}"));
                }
            }
        }
    }
    network
}

/// A 100×30 tmux terminal with a private home, or `None` (the test skips,
/// or fails under `TETHER_REQUIRE_TOOLS=1`) without tmux.
fn tmux_or_skip() -> Option<(Tmux, tempfile::TempDir)> {
    if !require_tool("tmux") {
        return None;
    }
    let home = home();
    let home_str = home.path().to_str().unwrap().to_string();
    let tmux = Tmux::start(100, 30, &[("TETHER_HOME", &home_str), ("HOME", &home_str)]);
    Some((tmux, home))
}

/// Saves `stty -g` to `file` from the shell in tmux and waits for it.
fn save_stty(tmux: &Tmux, file: &std::path::Path) -> String {
    let _ = std::fs::remove_file(file);
    tmux.type_line(&format!("stty -g > {}", file.display()));
    eventually_blocking("stty -g output", DEADLINE, || {
        std::fs::read_to_string(file)
            .ok()
            .filter(|s| s.ends_with('\n'))
    })
}

fn tether_cmd(args: &str) -> String {
    format!("{} --no-relay {args}", tether_bin().display())
}

#[test]
fn in_a_real_terminal_size_keys_resize_and_restore_work() {
    let Some((tmux, home)) = tmux_or_skip() else {
        return;
    };
    let before = save_stty(&tmux, &home.path().join("before"));

    tmux.type_line(&tether_cmd("--command sh"));
    // Two prompts of the outer shell so far, then the inner shell's.
    tmux.wait_for_screen("the inner shell", DEADLINE, |s| {
        s.matches(Tmux::PROMPT).count() >= 3
    });
    // `size-""done` prints as `size-done`: only the output matches, not the typed line.
    tmux.type_line("stty size; echo size-\"\"done");
    let screen = tmux.wait_for_text("size-done", DEADLINE);
    assert!(
        screen.contains("30 100"),
        "PTY has the terminal's size:\n{screen}"
    );

    // Raw mode: Ctrl-C reaches the agent's line discipline, not tether.
    tmux.type_line("sleep 30");
    tmux.wait_for_process("sleep", DEADLINE);
    tmux.send_keys(&["C-c"]);
    tmux.type_line("echo still-\"\"here");
    tmux.wait_for_text("still-here", DEADLINE);

    // SIGWINCH reaches the PTY.
    tmux.resize(120, 40);
    tmux.type_line("clear; stty size");
    tmux.wait_for_text("40 120", DEADLINE);

    tmux.type_line("exit 5");
    tmux.wait_until_idle(DEADLINE);
    tmux.type_line("echo rc=$?");
    tmux.wait_for_text("rc=5", DEADLINE);
    let after = save_stty(&tmux, &home.path().join("after"));
    assert_eq!(before, after, "terminal settings restored");
}

#[test]
fn terminal_is_restored_when_the_agent_crashes_or_tether_is_killed() {
    let Some((tmux, home)) = tmux_or_skip() else {
        return;
    };
    let before = save_stty(&tmux, &home.path().join("before"));

    // The agent dies of a signal: exit status 128 + 9.
    tmux.type_line(&tether_cmd(
        "--command sh -- -c 'echo crashing; kill -KILL $$'",
    ));
    tmux.wait_for_text("crashing", DEADLINE);
    tmux.wait_until_idle(DEADLINE);
    tmux.type_line("echo rc=$?");
    tmux.wait_for_text("rc=137", DEADLINE);
    assert_eq!(save_stty(&tmux, &home.path().join("a")), before);

    // tether gets SIGTERM (e.g. from `kill`): the agent is ended, the terminal restored.
    tmux.type_line(&tether_cmd("--command sleep -- 30"));
    let shell = tmux.pane_pid();
    // tether is the shell's child; once its agent runs, raw mode is on.
    let tether_pid = eventually_blocking("tether and its agent to start", DEADLINE, || {
        children(shell)
            .into_iter()
            .find(|&pid| !children(pid).is_empty())
    });
    let status = std::process::Command::new("kill")
        .args(["-TERM", &tether_pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tmux.wait_until_idle(DEADLINE);
    tmux.type_line("echo rc=$?");
    tmux.wait_for_text("rc=143", DEADLINE);
    assert_eq!(save_stty(&tmux, &home.path().join("b")), before);
}

#[test]
fn terminal_is_restored_after_a_panic() {
    let Some((tmux, home)) = tmux_or_skip() else {
        return;
    };
    let before = save_stty(&tmux, &home.path().join("before"));
    // Debug builds of tether panic in their output thread when this is set.
    tmux.type_line(&format!(
        "TETHER_TEST_PANIC=1 {}",
        tether_cmd("--command sh -- -c 'echo hi; sleep 30'")
    ));
    tmux.wait_for_text("TETHER_TEST_PANIC is set", DEADLINE);
    tmux.wait_until_idle(DEADLINE);
    tmux.type_line("echo rc=$?");
    tmux.wait_for_text("rc=101", DEADLINE);
    assert_eq!(save_stty(&tmux, &home.path().join("after")), before);
}

#[test]
fn set_default_picks_the_agent_run_without_flags() {
    let home = home();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let codex = bin.join("codex");
    std::fs::write(&codex, "#!/bin/sh\necho \"fake codex $*\"\n").unwrap();
    make_executable(&codex);
    let path = format!("{}:/usr/bin:/bin", bin.display());

    let mut set = TetherCommand::new(home.path())
        .args(["--set-default", "codex"])
        .null_stdin()
        .spawn();
    assert_eq!(set.wait(DEADLINE).code(), Some(0), "{}", set.stderr.text());
    let config = std::fs::read_to_string(home.path().join("config.json")).unwrap();
    assert!(config.contains("\"default_agent\": \"codex\""), "{config}");

    let mut run = TetherCommand::new(home.path())
        .env("PATH", path)
        .args(["--no-relay", "--full-auto"])
        .null_stdin()
        .spawn();
    assert_eq!(run.wait(DEADLINE).code(), Some(0), "{}", run.stderr.text());
    // tether adds its notification settings (`-c tui.…`) before the
    // person's own arguments, which come last and unchanged.
    let stdout = run.stdout.text();
    let line = stdout
        .lines()
        .find(|line| line.starts_with("fake codex "))
        .unwrap_or_else(|| panic!("codex did not run: {stdout}"));
    assert!(line.trim_end().ends_with(" --full-auto"), "{line}");
}

/// A full-screen program works through tether as it does directly: vi draws,
/// takes keys including Escape, and writes the file.
#[test]
fn a_full_screen_editor_works_in_a_real_terminal() {
    let Some(vi) = require_vim() else {
        return;
    };
    let Some((tmux, home)) = tmux_or_skip() else {
        return;
    };
    let file = home.path().join("note.txt");
    tmux.type_line(&tether_cmd(&format!(
        "--command {} -- -u NONE {}",
        vi.display(),
        file.display()
    )));
    tmux.wait_for_process("vi", DEADLINE);
    tmux.wait_for_text("~", DEADLINE);
    tmux.send_literal("ihello from tether");
    tmux.wait_for_text("hello from tether", DEADLINE);
    tmux.send_keys(&["Escape"]);
    tmux.send_literal(":wq");
    tmux.send_keys(&["Enter"]);
    tmux.wait_until_idle(DEADLINE);
    let text = std::fs::read_to_string(&file).expect("vi wrote the file");
    assert_eq!(text, "hello from tether\n");
}

/// Keys typed after the agent exited (while tether finishes) are left for
/// the shell instead of being swallowed.
#[test]
fn keys_typed_after_the_agent_exits_reach_the_shell() {
    let Some((tmux, _home)) = tmux_or_skip() else {
        return;
    };
    // A background process keeps the agent's terminal open, so tether waits
    // a moment for the last output after the agent itself has exited.
    // (It ignores the SIGHUP the agent's exit sends to its terminal; the
    // agent gives it a moment to set that up.)
    tmux.type_line(&tether_cmd(
        "--command sh -- -c '(trap \"\" HUP; exec sleep 3) & echo agent-\"\"done; sleep 0.2'",
    ));
    tmux.wait_for_text("agent-done", DEADLINE);
    let shell = tmux.pane_pid();
    let tether_pid = eventually_blocking("tether to run", DEADLINE, || {
        children(shell).first().copied()
    });
    eventually_blocking("the agent to be gone", DEADLINE, || {
        children(tether_pid).is_empty()
    });
    // Typed while tether still runs (raw mode): no Enter yet, as a raw-mode
    // Enter would be a bare CR for the shell's cooked line.
    tmux.send_literal("echo typed-\"\"ahead");
    tmux.wait_until_idle(DEADLINE);
    tmux.send_keys(&["Enter"]);
    tmux.wait_for_text("typed-ahead", DEADLINE);
}

/// Ctrl-Z reaches the agent as a key; the kernel does not stop an agent that
/// leads its own PTY session on it, so the session never freezes.
#[test]
fn ctrl_z_does_not_freeze_the_session() {
    let Some((tmux, _home)) = tmux_or_skip() else {
        return;
    };
    tmux.type_line(&tether_cmd(
        "--command sh -- -c 'echo rea\"\"dy; read x; echo got-$x; exit 4'",
    ));
    tmux.wait_for_text("ready", DEADLINE);
    tmux.send_keys(&["C-z"]);
    tmux.type_line("go");
    tmux.wait_for_text("got-go", DEADLINE);
    tmux.wait_until_idle(DEADLINE);
    tmux.type_line("echo rc=$?");
    tmux.wait_for_text("rc=4", DEADLINE);
}
