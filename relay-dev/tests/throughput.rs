//! Throughput of the real relay binary, kept apart from the tests (ignored by
//! default). Method: one agent streams `MIB` MiB of output in 64 KiB OUTPUT
//! frames over loopback; `VIEWERS` viewers read it live; the time runs from
//! the first frame until every viewer has every byte. Run it in release:
//!
//! ```sh
//! cargo test --release -p relay-dev --test throughput -- --ignored --nocapture
//! ```

// The shared end-to-end helper (also used by the `tests` crate).
#[allow(dead_code)]
#[path = "../../tests/src/relay.rs"]
mod relay;

use std::time::Instant;

use protocol::Frame;
use relay::{AgentClient, Event, RelayProcess, ViewerClient};

async fn measure(viewers: usize, mib: u64) {
    let relay = RelayProcess::start_with(&["--history-bytes", "8388608"]);
    let key = relay.api_key();
    let session = relay.register_session(&key, "claude");
    let mut agent = AgentClient::connect(&relay.ws_url(), &session, &key)
        .await
        .unwrap();
    let total = mib << 20;
    let mut readers = Vec::new();
    for _ in 0..viewers {
        let mut viewer = ViewerClient::connect(&relay.ws_url(), &session, &key, None)
            .await
            .unwrap();
        viewer.read_history().await;
        readers.push(tokio::spawn(async move {
            let mut position = 0;
            while position < total {
                match viewer.socket.next_event().await {
                    Event::Frame(Frame::Output(data)) => position += data.len() as u64,
                    Event::Frame(Frame::StreamOffset(to)) => position = to,
                    Event::Frame(_) => {}
                    other => panic!("{other:?}"),
                }
            }
        }));
    }
    let chunk = vec![b'x'; 64 << 10];
    let started = Instant::now();
    for _ in 0..(total / chunk.len() as u64) {
        agent.send_output(&chunk).await;
    }
    agent.wait_ack(total).await;
    let stored = started.elapsed();
    for reader in readers {
        reader.await.unwrap();
    }
    let delivered = started.elapsed();
    println!(
        "{viewers:>2} viewer(s), {mib} MiB: stored in {:.2} s ({:.0} MiB/s in), all viewers done in {:.2} s ({:.0} MiB/s out in total)",
        stored.as_secs_f64(),
        mib as f64 / stored.as_secs_f64(),
        delivered.as_secs_f64(),
        (mib * viewers as u64) as f64 / delivered.as_secs_f64(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored"]
async fn throughput() {
    measure(1, 256).await;
    measure(10, 64).await;
}
