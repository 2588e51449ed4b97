//! Test helpers: browser (filled in by its issue).
