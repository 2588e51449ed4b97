//! The relay on the open internet, connections: half-sent requests
//! (slowloris), idle connections, the caps on open connections (in all,
//! below the descriptor limit, and per client address), peers that stop
//! reading or go silent (pings, TCP keepalive for legacy agents), and the
//! owner's place among share viewers.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use protocol::{Control, Frame, Role};
use tests::relay::{
    ws_connect, Connect, Event, FrameSocket, RelayProcess, SessionFixture, WsStream,
};
use tests::wait::{eventually, DEADLINE};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

/// A TCP connection to `addr` from `source` (any loopback address works on
/// Linux), or from the default address.
async fn connect_from(source: Option<IpAddr>, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).unwrap();
    }
    socket.connect(addr).await.expect("TCP connect")
}

/// Reads one HTTP response (head and `content-length` body): the status
/// and the body. `None` if the connection ends or `within` passes first.
async fn read_response(stream: &mut TcpStream, within: Duration) -> Option<(u16, String)> {
    let read = async {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    let status = head.split(' ').nth(1)?.parse().ok()?;
                    let body = &data[end + 4..end + 4 + length];
                    return Some((status, String::from_utf8_lossy(body).into_owned()));
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok().flatten()
}

/// `GET path` on a new connection from `source`, with `key` if given; the
/// status and body.
async fn get_from(
    source: Option<IpAddr>,
    addr: SocketAddr,
    path: &str,
    key: Option<&str>,
) -> Option<(u16, String)> {
    let mut stream = connect_from(source, addr).await;
    let key = key.map_or(String::new(), |k| format!("x-api-key: {k}\r\n"));
    let request = format!("GET {path} HTTP/1.1\r\nhost: relay\r\n{key}connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    read_response(&mut stream, DEADLINE).await
}

/// `GET /health` on a new connection from the default address.
async fn health(addr: SocketAddr) -> Option<(u16, String)> {
    get_from(None, addr, "/health", None).await
}

/// `GET /metrics` (with the relay's key) on a new connection from `source`.
async fn metrics_from(source: Option<IpAddr>, relay: &RelayProcess) -> Option<(u16, String)> {
    get_from(source, relay.addr(), "/metrics", Some(&relay.api_key())).await
}

/// Whether the server closes `stream` within `within` (reading and
/// dropping whatever it sends first).
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let drained = async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(within, drained).await.is_ok()
}

/// A metric's value in a Prometheus text body.
fn metric_in(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

#[tokio::test]
async fn half_sent_requests_neither_stall_health_nor_stay_open() {
    let relay = RelayProcess::start_with(&["--header-timeout", "2"]);
    let mut half_sent = Vec::new();
    for _ in 0..80 {
        let mut stream = TcpStream::connect(relay.addr()).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nhost: relay\r\nx-slow: ")
            .await
            .unwrap();
        half_sent.push(stream);
    }
    let asked = Instant::now();
    assert_eq!(health(relay.addr()).await.map(|h| h.0), Some(200));
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "/health answered under load"
    );
    // The server closes every half-sent request once the header timeout is up.
    let started = Instant::now();
    for stream in &mut half_sent {
        assert!(
            closed_by_server(stream, DEADLINE).await,
            "a half-sent request was still open after {DEADLINE:?}"
        );
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "closed after {took:?}");
}

#[tokio::test]
async fn a_request_whose_body_never_comes_is_closed_after_the_idle_timeout() {
    let (fx, mut agent) = SessionFixture::with_agent(&["--idle-timeout", "2"]).await;
    let relay = &fx.relay;
    let mut viewer = fx.joined_viewer().await;
    let mut stream = TcpStream::connect(relay.addr()).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/agent-instances HTTP/1.1\r\nhost: relay\r\ncontent-length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    let started = Instant::now();
    assert!(
        closed_by_server(&mut stream, DEADLINE).await,
        "the stalled request was still open after {DEADLINE:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(1500));
    // WebSocket links are not HTTP requests: pings keep them, however quiet.
    agent.send_output(b"still linked").await;
    viewer.read_output_until(b"still linked").await;
}

#[tokio::test]
async fn one_address_may_hold_only_so_many_connections() {
    let relay = RelayProcess::start_with(&["--max-connections-per-ip", "4"]);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from(Some(loopback(1)), relay.addr()).await);
    }
    let (status, body) = eventually("a fifth connection to be refused", DEADLINE, async || {
        get_from(Some(loopback(1)), relay.addr(), "/health", None)
            .await
            .filter(|(status, _)| *status == 503)
    })
    .await;
    assert_eq!(status, 503);
    assert!(
        body.contains("too many connections from your address"),
        "{body}"
    );
    // Another address is served meanwhile.
    let (status, metrics) = metrics_from(Some(loopback(2)), &relay)
        .await
        .expect("an answer from another address");
    assert_eq!(status, 200, "{metrics}");
    assert!(metric_in(&metrics, "tether_relay_connections_refused_total") >= Some(1));
    drop(held);
    eventually("the address to be served again", DEADLINE, async || {
        get_from(Some(loopback(1)), relay.addr(), "/health", None)
            .await
            .is_some_and(|(status, _)| status == 200)
    })
    .await;
}

#[tokio::test]
async fn max_connections_caps_open_connections_from_all_addresses_together() {
    let relay = RelayProcess::start_with(&["--max-connections", "8"]);
    let (_, metrics) = metrics_from(None, &relay).await.expect("metrics");
    assert_eq!(
        metric_in(&metrics, "tether_relay_connection_limit"),
        Some(8)
    );
    let mut held = Vec::new();
    for last in 1..=8 {
        held.push(connect_from(Some(loopback(last)), relay.addr()).await);
    }
    // The ninth is refused at once; each try is short, and a failure shows
    // what came instead and the relay's log.
    let deadline = Instant::now() + DEADLINE;
    let body = loop {
        let mut stream = connect_from(Some(loopback(9)), relay.addr()).await;
        let request = b"GET /health HTTP/1.1\r\nhost: relay\r\nconnection: close\r\n\r\n";
        stream.write_all(request).await.unwrap();
        match read_response(&mut stream, Duration::from_secs(2)).await {
            Some((503, body)) => break body,
            other => assert!(
                Instant::now() < deadline,
                "a ninth connection got {other:?}, not a 503\n{}",
                relay.log()
            ),
        }
    };
    assert!(
        body.contains("too many connections to this relay"),
        "{body}"
    );
    drop(held);
    eventually("the relay to serve again", DEADLINE, async || {
        get_from(Some(loopback(9)), relay.addr(), "/health", None)
            .await
            .is_some_and(|(status, _)| status == 200)
    })
    .await;
}

#[tokio::test]
async fn below_the_descriptor_limit_extra_connections_get_503_at_once() {
    // Started with a soft limit of 200: the relay raises it to the hard 256
    // and keeps 64 of those for itself.
    let relay = RelayProcess::start_with_fd_limit(200, 256, &["--header-timeout", "60"]);
    let (_, metrics) = metrics_from(None, &relay).await.expect("metrics");
    let cap = metric_in(&metrics, "tether_relay_connection_limit").expect("connection_limit");
    assert_eq!(cap, 256 - 64, "the cap below the raised limit");
    let log = relay.log();
    let line = log
        .lines()
        .find(|line| line.contains("file-descriptor limit"))
        .unwrap_or_else(|| panic!("no file-descriptor line in the log:\n{log}"));
    assert!(
        ["soft=256", "hard=256", "was=200"]
            .iter()
            .all(|part| line.contains(part)),
        "{line}"
    );
    // Keep-alive connections, each answered once: the first `cap` are
    // served, every one after that is refused at once, and the relay never
    // runs out of descriptors.
    let mut served = Vec::new();
    let mut refused = 0;
    for _ in 0..cap + 100 {
        let mut stream = TcpStream::connect(relay.addr()).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nhost: relay\r\n\r\n")
            .await
            .unwrap();
        let asked = Instant::now();
        match read_response(&mut stream, DEADLINE).await {
            Some((200, _)) => served.push(stream),
            Some((503, body)) => {
                assert!(body.contains("too many connections"), "{body}");
                assert!(asked.elapsed() < Duration::from_secs(2), "refused at once");
                refused += 1;
            }
            other => panic!(
                "after {} served and {refused} refused: {other:?}\n{}",
                served.len(),
                relay.log()
            ),
        }
    }
    assert_eq!((served.len() as u64, refused), (cap, 100));
    drop(served);
    let refusals = eventually("the relay to answer again", DEADLINE, async || {
        let (status, metrics) = metrics_from(None, &relay).await?;
        (status == 200).then(|| metric_in(&metrics, "tether_relay_connections_refused_total"))?
    })
    .await;
    assert!(refusals >= 100, "{refusals} refusals counted");
}

/// A Tether viewer of `fx`'s session on a socket with a tiny receive
/// buffer, that never reads after the upgrade.
async fn stalled_viewer(fx: &SessionFixture) -> WsStream {
    let how = Connect {
        receive_buffer: Some(4096),
        ..Connect::tether_viewer(&fx.key)
    };
    let url = format!("{}/terminal/{}", fx.relay.ws_url(), fx.session);
    ws_connect(&url, &how).await.expect("upgrade").0
}

#[tokio::test]
async fn a_viewer_that_stops_reading_is_dropped_after_the_send_timeout() {
    let (fx, mut agent) = SessionFixture::with_agent(&["--send-timeout", "2"]).await;
    let _stalled = stalled_viewer(&fx).await;
    let mut watcher = fx.joined_viewer().await;
    eventually("both viewers to join", DEADLINE, async || {
        fx.relay.metric("tether_relay_viewers").await == 2
    })
    .await;
    // Far more output than the stalled viewer's socket buffers hold; the
    // other viewer reads it all meanwhile.
    const TOTAL: u64 = 16 << 20;
    let reader = tokio::spawn(async move {
        let mut at = 0u64;
        while at < TOTAL {
            match watcher.socket.next_event().await {
                Event::Frame(Frame::Output(data)) => at += data.len() as u64,
                Event::Frame(Frame::Control(Control::Gap { to, .. })) => at = to,
                Event::Frame(_) => {}
                other => panic!("the watching viewer got {other:?} at {at}"),
            }
        }
        watcher
    });
    let chunk = vec![b'x'; 64 << 10];
    for _ in 0..TOTAL / chunk.len() as u64 {
        agent.send_output(&chunk).await;
    }
    agent.wait_ack(TOTAL).await;
    let mut watcher = reader.await.unwrap();
    let stalled_at = Instant::now();
    eventually("the stalled viewer to be dropped", DEADLINE, async || {
        fx.relay.metric("tether_relay_viewers").await == 1
    })
    .await;
    assert!(stalled_at.elapsed() < Duration::from_secs(8));
    assert_eq!(fx.relay.metric("tether_relay_links_stalled_total").await, 1);
    // The agent and the other viewer carry on.
    agent.send_output(b"still streaming").await;
    watcher.read_output_until(b"still streaming").await;
}

/// The kernel's keepalive timer on the relay's end of the TCP connection
/// from `client` (seconds until the next probe), from `/proc/net/tcp`:
/// `None` when no keepalive timer runs on it.
fn relay_keepalive_timer(relay: SocketAddr, client: SocketAddr) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let ends = (
        format!(":{:04X}", relay.port()),
        format!(":{:04X}", client.port()),
    );
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, remote, timer) = (fields.get(1)?, fields.get(2)?, fields.get(5)?);
        if !(local.ends_with(&ends.0) && remote.ends_with(&ends.1)) {
            return None;
        }
        // `timer_active:expires`, in clock ticks (USER_HZ, 100 on Linux);
        // timer 2 is keepalive.
        let (active, expires) = timer.split_once(':')?;
        (active == "02").then(|| u64::from_str_radix(expires, 16).ok().map(|t| t / 100))?
    })
}

#[tokio::test]
async fn legacy_viewers_are_pinged_and_dropped_when_silent_legacy_agents_get_tcp_keepalive() {
    let fx = SessionFixture::start(&["--ping-secs", "1"]);
    let mut agent = fx.connect_legacy_agent().await;
    // A legacy viewer too: it reads (and so answers pings) but sends nothing.
    let viewer_how = Connect {
        subprotocol_key: Some(fx.key.clone()),
        ..Default::default()
    };
    let viewer_url = format!("{}/terminal/{}", fx.relay.ws_url(), fx.session);
    let (ws, _) = ws_connect(&viewer_url, &viewer_how).await.unwrap();
    let mut viewer = FrameSocket::new(ws);
    let deadline = Instant::now() + DEADLINE;
    while viewer.pings < 4 && Instant::now() < deadline {
        for socket in [&mut agent, &mut viewer] {
            if let Some(event) = socket.next_event_within(Duration::from_millis(50)).await {
                panic!("a legacy peer got {event:?}");
            }
        }
    }
    assert!(viewer.pings >= 3, "pinged for 3 s");
    // The real Omnara client takes a ping for a broken link (interop.sh):
    // a legacy agent is not pinged, nor dropped for its silence.
    assert_eq!(agent.pings, 0, "a legacy agent is never pinged");
    // The kernel watches its connection instead: a probe after 30 s of
    // silence (then every 10 s, three unanswered and it is reset).
    let client = agent.local_addr().unwrap();
    let timer = relay_keepalive_timer(fx.relay.addr(), client);
    assert!(
        timer.is_some_and(|left| left <= 30),
        "keepalive timer {timer:?}"
    );
    // Both are still there.
    assert_eq!(fx.relay.metric("tether_relay_agents").await, 1);
    assert_eq!(fx.relay.metric("tether_relay_viewers").await, 1);
    // A legacy peer that stops reading answers no ping, and is dropped.
    let _silent = viewer;
    eventually(
        "the silent legacy viewer to be dropped",
        DEADLINE,
        async || {
            while agent
                .next_event_within(Duration::from_millis(10))
                .await
                .is_some()
            {}
            fx.relay.metric("tether_relay_viewers").await == 0
        },
    )
    .await;
    assert_eq!(fx.relay.metric("tether_relay_agents").await, 1);
}

/// Connects a viewer with `credential`: `Ok` once it has its role, `Err`
/// with the close reason if it is refused.
async fn join(fx: &SessionFixture, credential: &str) -> Result<FrameSocket, (u16, String)> {
    let mut viewer = fx.relay.connect_viewer(&fx.session, credential, None).await;
    match viewer.socket.next_event().await {
        Event::Frame(Frame::Control(Control::Role { .. })) => Ok(viewer.socket),
        Event::Closed(code, reason) => Err((code, reason)),
        other => panic!("joining, got {other:?}"),
    }
}

#[tokio::test]
async fn share_viewers_leave_room_for_the_owner_and_each_link_has_a_cap() {
    // The defaults: 32 viewers, 4 of them kept for the owner, 8 per link.
    let (fx, _agent) = SessionFixture::with_agent(&[]).await;
    let mut links = Vec::new();
    for _ in 0..5 {
        let share = fx
            .relay
            .share(&fx.key, &fx.session, Role::ReadOnly, 600)
            .await;
        links.push(share.token);
    }
    let mut watching = Vec::new();
    for _ in 0..8 {
        watching.push(join(&fx, &links[0]).await.expect("within the link's cap"));
    }
    assert_eq!(
        join(&fx, &links[0]).await.err(),
        Some((1008, "too many viewers through this share link".into()))
    );
    let mut refused = Vec::new();
    for link in &links[1..] {
        for _ in 0..8 {
            match join(&fx, link).await {
                Ok(viewer) => watching.push(viewer),
                Err(refusal) => refused.push(refusal),
            }
        }
    }
    assert_eq!((watching.len(), refused.len()), (28, 12));
    assert_eq!(
        refused[0],
        (
            1008,
            "the session has no room for more shared viewers (places are kept for its owner)"
                .into()
        )
    );
    // The owner still gets in, up to the session's limit.
    for _ in 0..4 {
        watching.push(join(&fx, &fx.key).await.expect("the owner's place"));
    }
    assert_eq!(
        join(&fx, &fx.key).await.err(),
        Some((1008, "the session has too many viewers".into()))
    );
}
