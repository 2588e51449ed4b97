//! Test helpers: relay (filled in by its issue).
