//! The page a session's terminal or recording shows without a credential:
//! it asks for the API key, keeps it, and hands it to the page.

use yew::prelude::*;

use crate::auth::{self, Credential};
use crate::components::ApiKeyForm;

/// The sign-in page: the entered key is stored and set in `credential`.
pub fn sign_in_page(credential: &UseStateHandle<Option<Credential>>) -> Html {
    let on_submit = {
        let credential = credential.clone();
        Callback::from(move |key: String| {
            auth::store_key(&key);
            credential.set(Some(Credential::ApiKey(key)));
        })
    };
    html! {
        <main class="page sessions">
            <h1>{ "Tether" }</h1>
            <ApiKeyForm {on_submit} />
        </main>
    }
}
