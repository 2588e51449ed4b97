//! Tether's browser viewer. Built by `trunk` from the top-level `index.html`.

fn main() {}
