//! The process's file-descriptor limit: raised to the hard limit at start,
//! and the connection cap that fits below it.

/// Descriptors kept free of connections: the store, the runtime, files
/// being served, and connections being refused.
const RESERVED: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard one (logging both) and
/// returns the soft limit in force afterwards (`None`: unlimited or unknown).
pub(crate) fn raise_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let before = getrlimit(Resource::Nofile);
    let mut after = before;
    if before.current != before.maximum {
        let raised = rustix::process::Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => after = getrlimit(Resource::Nofile),
            Err(e) => tracing::warn!("could not raise the file-descriptor limit: {e}"),
        }
    }
    let show = |limit: Option<u64>| limit.map_or("unlimited".to_string(), |n| n.to_string());
    tracing::info!(
        soft = %show(after.current),
        hard = %show(after.maximum),
        was = %show(before.current),
        "file-descriptor limit"
    );
    after.current
}

/// The connection cap in force: `wanted`, lowered to fit below a
/// descriptor limit of `fd_limit` with room to spare.
pub(crate) fn connection_cap(wanted: usize, fd_limit: Option<u64>) -> usize {
    let Some(limit) = fd_limit else {
        return wanted;
    };
    let room = limit.saturating_sub(RESERVED.max(limit / 8)).max(1);
    wanted.min(usize::try_from(room).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_sits_below_the_descriptor_limit() {
        assert_eq!(connection_cap(16_384, Some(256)), 192);
        assert_eq!(connection_cap(16_384, Some(1 << 20)), 16_384);
        assert_eq!(connection_cap(1000, Some(1024)), 896);
        assert_eq!(connection_cap(500, None), 500);
        assert_eq!(connection_cap(500, Some(10)), 1, "never zero");
    }

    #[test]
    fn raising_keeps_a_limit_at_least_as_high() {
        let before = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let after = raise_limit();
        assert!(after.unwrap_or(u64::MAX) >= before.unwrap_or(u64::MAX));
    }
}
