//! Real servers the multi-node tests run beside the relay, each started in
//! a temporary directory on a free loopback port and stopped when dropped:
//! [`postgres`] (the shared store), [`redis`] (what spans the nodes) and
//! [`haproxy`] (the load balancer in front of them). A missing server
//! program skips the test, or fails it under `TETHER_REQUIRE_TOOLS=1`
//! ([`crate::tools`]).

pub mod haproxy;
pub mod postgres;
pub mod redis;

use std::net::TcpListener;

/// A loopback port free now (the server may still lose it to another
/// process before it binds: callers retry).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}
