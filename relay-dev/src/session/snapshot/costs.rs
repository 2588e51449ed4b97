//! The measurement behind where the terminal state lives (BENCHMARKS.md,
//! "Snapshot join"): what feeding a virtual terminal costs next to storing
//! the output in the ring, what one holds in memory, and what building a
//! snapshot from an 8 MiB ring costs, from scratch and from the last one.
//!
//! `cargo test --release -p relay-dev --lib snapshot_costs -- --ignored --nocapture`

use std::time::{Duration, Instant};

use protocol::{Frame, Size};
use uuid::Uuid;

use super::terminal::VirtualTerminal;
use crate::session::log::StreamLog;
use crate::session::{Session, Upload};

const MIB: usize = 1 << 20;

/// 8 MiB each of: a `seq`-like line flood, colourful `ls`-like lines, and a
/// full-screen program redrawing 30 rows over and over.
fn workloads() -> Vec<(&'static str, Vec<u8>)> {
    let mut seq = Vec::new();
    let mut n = 1u64;
    while seq.len() < 8 * MIB {
        seq.extend_from_slice(format!("{n}\r\n").as_bytes());
        n += 1;
    }
    let mut sgr = Vec::new();
    let mut i = 0u32;
    while sgr.len() < 8 * MIB {
        let line = format!(
            "\x1b[1;3{}mfile{i}\x1b[0m  \x1b[38;5;{}mdir{i}\x1b[0m  \x1b[4mlink\x1b[24m  text\r\n",
            i % 8,
            i % 256
        );
        sgr.extend_from_slice(line.as_bytes());
        i += 1;
    }
    let mut tui = Vec::new();
    let mut frame = 0u32;
    while tui.len() < 8 * MIB {
        tui.extend_from_slice(b"\x1b[?25l");
        for row in 1..=30 {
            let line = format!(
                "\x1b[{row};1H\x1b[2K\x1b[7m{frame:>4}\x1b[27m row {row}: the quick brown fox"
            );
            tui.extend_from_slice(line.as_bytes());
        }
        tui.extend_from_slice(b"\x1b[30;1H\x1b[?25h");
        frame += 1;
    }
    vec![
        ("line flood", seq),
        ("colour lines", sgr),
        ("full-screen redraws", tui),
    ]
}

fn mb_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

fn rss_kib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// KiB of memory per terminal, from the resident set of 100 of them.
fn kib_per_terminal(fill: &[u8]) -> f64 {
    let before = rss_kib();
    let terminals: Vec<VirtualTerminal> = (0..100)
        .map(|_| {
            let mut vt = VirtualTerminal::new(Size::new(24, 80), 2000);
            vt.feed(fill);
            vt
        })
        .collect();
    let after = rss_kib();
    drop(terminals);
    (after - before) / 100.0
}

#[test]
#[ignore = "a measurement, to run in release"]
fn snapshot_costs() {
    println!("| what | figure |\n|---|---|");
    for (name, data) in workloads() {
        let started = Instant::now();
        let mut ring = StreamLog::new(8 * MIB);
        for chunk in data.chunks(64 << 10) {
            ring.append(chunk);
        }
        let ring_rate = mb_per_s(data.len(), started.elapsed());
        let started = Instant::now();
        let mut vt = VirtualTerminal::new(Size::new(30, 100), 2000);
        for chunk in data.chunks(64 << 10) {
            vt.feed(chunk);
        }
        let vt_rate = mb_per_s(data.len(), started.elapsed());
        println!(
            "| {name}: ring append / virtual terminal feed | {ring_rate:.0} MB/s / {vt_rate:.1} MB/s |"
        );
    }
    let lines: Vec<u8> = (0..2100)
        .flat_map(|i| {
            format!("line {i}: the quick brown fox jumps over the lazy dog\r\n").into_bytes()
        })
        .collect();
    println!(
        "| memory of one 80×24 terminal: blank / with 2000 lines of scrollback | {:.1} KiB / {:.0} KiB |",
        kib_per_terminal(b"$ "),
        kib_per_terminal(&lines)
    );
    for (name, data) in workloads() {
        let session = Session::new(Uuid::new_v4(), "bench", 8 * MIB);
        let mut upload = Upload::default();
        let resize = Frame::Resize(Size::new(30, 100));
        session.upload(&mut upload, vec![resize]).unwrap();
        for chunk in data.chunks(64 << 10) {
            session
                .upload(&mut upload, vec![Frame::Output(chunk.to_vec())])
                .unwrap();
        }
        let started = Instant::now();
        let full = session.snapshot(2000).expect("a snapshot");
        let from_scratch = started.elapsed();
        let more = &data[..64 << 10];
        session
            .upload(&mut upload, vec![Frame::Output(more.to_vec())])
            .unwrap();
        let started = Instant::now();
        let next = session.snapshot(2000).expect("a snapshot");
        let built_on = started.elapsed();
        println!(
            "| {name}: snapshot of an 8 MiB ring, from scratch / from the last one + 64 KiB | {:.0} ms / {:.1} ms ({} KiB / {} KiB) |",
            from_scratch.as_secs_f64() * 1e3,
            built_on.as_secs_f64() * 1e3,
            full.data.len() >> 10,
            next.data.len() >> 10
        );
    }
}
