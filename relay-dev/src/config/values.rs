//! The relay's flag values that need more than clap's parsers: byte
//! counts with suffixes, PostgreSQL URLs (kept out of logs), node ids and
//! node URLs.

/// A `--node-id`.
pub(super) fn parse_node_id(text: &str) -> Result<String, String> {
    if valid_node_id(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{text:?} is not a node id (1 to 64 letters, digits, '.', '_' or '-')"
        ))
    }
}

/// A `--node-url`: `http://HOST:PORT`, without a path.
pub(super) fn parse_node_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("http://")
        .ok_or_else(|| format!("{text:?} must start with http:// (e.g. http://10.0.0.5:8080)"))?;
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ']) {
        return Err(format!("{text:?} must be http://HOST:PORT with no path"));
    }
    Ok(format!("http://{authority}"))
}

/// Whether `id` can name a node: 1 to 64 ASCII letters, digits, `.`, `_`
/// or `-` (it is a word in keys' values and in events).
pub(crate) fn valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A PostgreSQL connection URL; its `Debug` form hides it (it may hold a password).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL itself, for connecting (never for logs).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(..)")
    }
}

/// `--database-url`, taken as given: it is checked when the store opens it
/// (`store::PgStore::connect`), because a flag refused here is echoed in
/// clap's message, password and all.
pub(super) fn parse_database_url(text: &str) -> Result<DatabaseUrl, String> {
    Ok(DatabaseUrl(text.to_owned()))
}

/// [`parse_bytes`] for sizes held in memory.
pub(super) fn parse_size(text: &str) -> Result<usize, String> {
    parse_bytes(text)?
        .try_into()
        .map_err(|_| format!("{text:?} is too large"))
}

/// A byte count: digits with an optional K, M or G (powers of 1024),
/// optionally followed by `iB` or `B` (`64K`, `256MiB`, `8388608`).
pub(super) fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let number = lower.trim_end_matches("ib").trim_end_matches('b');
    let (digits, shift) = match number.as_bytes().last() {
        Some(b'k') => (&number[..number.len() - 1], 10),
        Some(b'm') => (&number[..number.len() - 1], 20),
        Some(b'g') => (&number[..number.len() - 1], 30),
        _ => (number, 0),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{text:?} is not a byte count (e.g. 1048576, 64K, 256M, 1G)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_urls_are_http_authorities() {
        assert_eq!(
            parse_node_url("http://10.0.0.5:8080/"),
            Ok("http://10.0.0.5:8080".to_string())
        );
        assert!(parse_node_url("ws://10.0.0.5:8080").is_err());
        assert!(parse_node_url("http://host:1/path").is_err());
        assert!(parse_node_url("http://").is_err());
    }

    #[test]
    fn database_urls_are_never_shown() {
        let url = parse_database_url("postgres://ann:s3cret@db.example:5433/tether").unwrap();
        assert_eq!(url.expose(), "postgres://ann:s3cret@db.example:5433/tether");
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn byte_counts_take_binary_suffixes() {
        assert_eq!(parse_bytes("8388608"), Ok(8 << 20));
        assert_eq!(parse_bytes("64K"), Ok(64 << 10));
        assert_eq!(parse_bytes("256MiB"), Ok(256 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("2GB"), Ok(2 << 30));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("99999999999G").is_err());
    }
}
