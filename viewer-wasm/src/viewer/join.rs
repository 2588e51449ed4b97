//! How this viewer joins its session: by snapshot (the relay's default),
//! or by raw replay when the page's address asks for it (`?history=raw`,
//! for comparing the two); and what a refused resume does (join afresh).

/// The `history` parameter for the terminal link, from the page's query
/// string (`?history=raw` → `raw`); `None` keeps the relay's default.
pub(super) fn history_from_query(search: &str) -> Option<&'static str> {
    let query = search.strip_prefix('?').unwrap_or(search);
    query
        .split('&')
        .any(|pair| pair == "history=raw")
        .then_some("raw")
}

/// `url` with the page's history choice added.
pub(super) fn with_history(mut url: String) -> String {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    if let Some(history) = history_from_query(&search) {
        url.push_str("&history=");
        url.push_str(history);
    }
    url
}

/// Whether a close reason says the viewer's resume offset is beyond the
/// stream (the relay never had those bytes): then the viewer forgets its
/// offsets and joins afresh, by snapshot.
pub(super) fn resume_refused(reason: &str) -> bool {
    reason.contains("beyond the end of the stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_raw_is_taken_from_the_page() {
        assert_eq!(history_from_query("?history=raw"), Some("raw"));
        assert_eq!(history_from_query("?a=1&history=raw"), Some("raw"));
        assert_eq!(history_from_query(""), None);
        assert_eq!(history_from_query("?history=rawer"), None);
        assert!(resume_refused(
            "offset 9 is beyond the end of the stream (3)"
        ));
        assert!(!resume_refused("unknown session"));
    }
}
