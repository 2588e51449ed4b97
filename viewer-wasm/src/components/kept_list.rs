//! The dashboard's list of kept recordings (relay `--keep-recordings`):
//! each ended session's recording with its size, played at
//! `/s/{id}/replay`. Shown only when there are some.

use yew::platform::spawn_local;
use yew::prelude::*;

use protocol::api::RecordingInfo;

use crate::api::list_recordings;
use crate::link::encode_path_segment;

/// Props of [`KeptList`].
#[derive(Properties, PartialEq)]
pub struct KeptListProps {
    /// The API key.
    pub api_key: AttrValue,
}

/// The kept recordings, loaded once.
#[function_component(KeptList)]
pub fn kept_list(props: &KeptListProps) -> Html {
    let kept = use_state(Vec::<RecordingInfo>::new);
    {
        let kept = kept.clone();
        use_effect_with(props.api_key.clone(), move |key: &AttrValue| {
            let key = key.to_string();
            spawn_local(async move {
                if let Ok(list) = list_recordings(&key).await {
                    kept.set(list);
                }
            });
        });
    }
    if kept.is_empty() {
        return html! {};
    }
    html! {
        <section class="kept-recordings">
            <h2>{ "Kept recordings" }</h2>
            <ul class="session-list">
                { for kept.iter().map(|recording| {
                    let href = format!("/s/{}/replay", encode_path_segment(&recording.session_id));
                    let name = recording.name.clone().unwrap_or_else(|| recording.agent_type.clone());
                    html! {
                        <li class="session kept" data-session-id={recording.session_id.clone()}>
                            <a {href}>
                                <span class="name">{ name }</span>
                                <span class="badge">{ "recording" }</span>
                                <span class="meta">{ format!("ended {} · {}", recording.ended_at, size(recording.bytes)) }</span>
                            </a>
                        </li>
                    }
                }) }
            </ul>
        </section>
    }
}

/// A size in bytes as people read it.
fn size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::size(999), "999 B");
        assert_eq!(super::size(12_345), "12.3 kB");
        assert_eq!(super::size(4_200_000), "4.2 MB");
    }
}
