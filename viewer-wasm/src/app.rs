//! Routing: the path picks the page. Pages are reached by full page loads,
//! so no router crate is needed.

use yew::prelude::*;

use crate::pages::{ReplayPage, SessionList, TerminalPage};

/// A page of the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/`: the session list.
    Sessions,
    /// `/s/{id}`: a session's terminal.
    Terminal(String),
    /// `/s/{id}/replay`: a session's recording.
    Replay(String),
    /// Anything else.
    NotFound,
}

impl Route {
    /// The route for a URL path.
    pub fn from_path(path: &str) -> Self {
        match path.trim_end_matches('/') {
            "" | "/index.html" => Route::Sessions,
            other => match other.strip_prefix("/s/") {
                Some(id) if !id.is_empty() && !id.contains('/') => Route::Terminal(id.to_owned()),
                Some(rest) => match rest.strip_suffix("/replay") {
                    Some(id) if !id.is_empty() && !id.contains('/') => Route::Replay(id.to_owned()),
                    _ => Route::NotFound,
                },
                None => Route::NotFound,
            },
        }
    }
}

/// The whole viewer.
#[function_component(App)]
pub fn app() -> Html {
    // A new `#key=` or `#token=` on the same page (a second share link, say)
    // does not reload it: start over with the new credential.
    use_effect_with((), |_| {
        let listener = web_sys::window().map(|window| {
            gloo::events::EventListener::new(&window, "hashchange", |_| {
                let Some(location) = web_sys::window().map(|w| w.location()) else {
                    return;
                };
                let secrets = crate::auth::parse_fragment(&location.hash().unwrap_or_default());
                if secrets.key.is_some() || secrets.token.is_some() {
                    let _ = location.reload();
                }
            })
        });
        move || drop(listener)
    });
    let path = web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_default();
    match Route::from_path(&path) {
        Route::Sessions => html! { <SessionList /> },
        Route::Terminal(id) => html! { <TerminalPage id={id} /> },
        Route::Replay(id) => html! { <ReplayPage id={id} /> },
        Route::NotFound => html! {
            <main class="page"><h1>{ "Not found" }</h1><a href="/">{ "All sessions" }</a></main>
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::from_path("/"), Route::Sessions);
        assert_eq!(Route::from_path(""), Route::Sessions);
        assert_eq!(Route::from_path("/s/abc"), Route::Terminal("abc".into()));
        assert_eq!(Route::from_path("/s/abc/"), Route::Terminal("abc".into()));
        assert_eq!(Route::from_path("/s/"), Route::NotFound);
        assert_eq!(
            Route::from_path("/s/abc/replay"),
            Route::Replay("abc".into())
        );
        assert_eq!(Route::from_path("/s//replay"), Route::NotFound);
        assert_eq!(Route::from_path("/s/a/b/replay"), Route::NotFound);
        assert_eq!(Route::from_path("/x"), Route::NotFound);
    }
}
