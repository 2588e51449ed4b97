//! Real servers the multi-node tests run beside the relay, each started in
//! a temporary directory on a free loopback port and stopped when dropped:
//! [`postgres`] (the shared store). A missing server program skips the test,
//! or fails it under `TETHER_REQUIRE_TOOLS=1` ([`crate::tools`]).

pub mod postgres;
