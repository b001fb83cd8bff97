//! Following the console's changes from the browser without polling: the dashboard's revision
//! stream (`GET /api/v1/dashboard/events`), open only while the tab is visible.

/// Calls `on_revision` with each revision the console announces: the one current when the
/// stream opens, then one per change of what the dashboard shows. The stream is closed while
/// the tab is hidden (a background tab costs nothing) and opened again when it is shown, whose
/// first event says whether anything changed meanwhile. It is closed for good when the calling
/// component goes away. EventSource itself reconnects after a dropped link.
#[cfg(feature = "hydrate")]
pub fn follow_dashboard(on_revision: impl Fn(u64) + 'static) {
    use std::{cell::RefCell, rc::Rc};

    use leptos::prelude::{StoredValue, UpdateValue, document, on_cleanup};
    use wasm_bindgen::{JsCast, closure::Closure};

    let on_message = Rc::new(Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
        move |event: web_sys::MessageEvent| {
            if let Some(revision) = event.data().as_string().and_then(|t| t.parse().ok()) {
                on_revision(revision);
            }
        },
    ));
    let source: Rc<RefCell<Option<web_sys::EventSource>>> = Rc::default();
    // Closes the open stream, if any, and opens a new one when the tab is visible.
    let reopen = {
        let source = source.clone();
        move || {
            if let Some(old) = source.borrow_mut().take() {
                old.close();
            }
            if document().hidden() {
                return;
            }
            if let Ok(fresh) = web_sys::EventSource::new("/api/v1/dashboard/events") {
                let _ = fresh.add_event_listener_with_callback(
                    "revision",
                    on_message.as_ref().as_ref().unchecked_ref(),
                );
                *source.borrow_mut() = Some(fresh);
            }
        }
    };
    reopen();
    let on_visibility = Closure::<dyn FnMut()>::new(reopen);
    let _ = document().add_event_listener_with_callback(
        "visibilitychange",
        on_visibility.as_ref().unchecked_ref(),
    );
    let kept = StoredValue::new_local(Some((on_visibility, source)));
    on_cleanup(move || {
        kept.try_update_value(|kept| {
            if let Some((on_visibility, source)) = kept.take() {
                let _ = document().remove_event_listener_with_callback(
                    "visibilitychange",
                    on_visibility.as_ref().unchecked_ref(),
                );
                if let Some(open) = source.borrow_mut().take() {
                    open.close();
                }
            }
        });
    });
}

/// On the server there is nothing to follow: pages are rendered as of now.
#[cfg(not(feature = "hydrate"))]
pub fn follow_dashboard(_on_revision: impl Fn(u64) + 'static) {}
