use leptos::prelude::*;

/// The value of a `data-live` attribute: absent in the server's HTML, `"true"` once this part
/// of the page runs in the browser, so its forms submit through the bundle (and stay on the
/// page) from then on. Browser tests wait for it rather than race the bundle; a form clicked
/// earlier still works, as a plain HTML form with a full page load.
pub fn live_marker() -> impl Fn() -> Option<&'static str> + Send + Sync + Copy + 'static {
    let live = RwSignal::new(false);
    // Effects run only in the browser, after this component has been hydrated.
    Effect::new(move |_| live.set(true));
    move || live.get().then_some("true")
}
