//! Following the console's changes from the browser without polling: the dashboard's revision
//! stream (`GET /api/v1/dashboard/events`), open only while the tab is visible.

/// Calls `on_revision` with each revision the console announces: the one current when the
/// stream opens, then one per change of what the dashboard shows, until the calling component
/// goes away. All followers on a page share one stream. It is closed while the tab is hidden (a
/// background tab costs nothing) and opened again when it is shown, and its first event then
/// says whether anything changed meanwhile. EventSource itself reconnects after a dropped link.
#[cfg(feature = "hydrate")]
pub fn follow_dashboard(on_revision: impl Fn(u64) + 'static) {
    let id = stream::add(std::rc::Rc::new(on_revision));
    leptos::prelude::on_cleanup(move || stream::remove(id));
}

/// The page's one stream and its followers (the browser runs this on one thread).
#[cfg(feature = "hydrate")]
mod stream {
    use std::{cell::RefCell, rc::Rc};

    use leptos::prelude::document;
    use wasm_bindgen::{JsCast, closure::Closure};

    type Follower = Rc<dyn Fn(u64)>;

    #[derive(Default)]
    struct Stream {
        next_id: u64,
        followers: Vec<(u64, Follower)>,
        source: Option<web_sys::EventSource>,
        on_message: Option<Closure<dyn FnMut(web_sys::MessageEvent)>>,
        on_visibility: Option<Closure<dyn FnMut()>>,
    }

    thread_local! {
        static STREAM: RefCell<Stream> = RefCell::default();
    }

    pub fn add(follower: Follower) -> u64 {
        let (id, first) = STREAM.with_borrow_mut(|s| {
            s.next_id += 1;
            s.followers.push((s.next_id, follower));
            (s.next_id, s.followers.len() == 1)
        });
        if first {
            start();
        }
        id
    }

    pub fn remove(id: u64) {
        let last = STREAM.with_borrow_mut(|s| {
            s.followers.retain(|(i, _)| *i != id);
            s.followers.is_empty()
        });
        if last {
            stop();
        }
    }

    fn start() {
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(|event: web_sys::MessageEvent| {
                let Some(revision) = event.data().as_string().and_then(|t| t.parse().ok()) else {
                    return;
                };
                // Called outside the borrow: a follower may add or remove followers.
                let followers: Vec<Follower> =
                    STREAM.with_borrow(|s| s.followers.iter().map(|(_, f)| f.clone()).collect());
                for follower in followers {
                    follower(revision);
                }
            });
        let on_visibility = Closure::<dyn FnMut()>::new(reopen);
        let _ = document().add_event_listener_with_callback(
            "visibilitychange",
            on_visibility.as_ref().unchecked_ref(),
        );
        STREAM.with_borrow_mut(|s| {
            s.on_message = Some(on_message);
            s.on_visibility = Some(on_visibility);
        });
        reopen();
    }

    /// Closes the open stream, if any, and opens a new one when the tab is visible.
    fn reopen() {
        STREAM.with_borrow_mut(|s| {
            if let Some(old) = s.source.take() {
                old.close();
            }
            let Some(on_message) = s.on_message.as_ref() else {
                return;
            };
            if document().hidden() {
                return;
            }
            if let Ok(fresh) = web_sys::EventSource::new("/api/v1/dashboard/events") {
                let _ = fresh.add_event_listener_with_callback(
                    "revision",
                    on_message.as_ref().unchecked_ref(),
                );
                s.source = Some(fresh);
            }
        });
    }

    fn stop() {
        let (source, on_visibility) = STREAM.with_borrow_mut(|s| {
            s.on_message = None;
            (s.source.take(), s.on_visibility.take())
        });
        if let Some(source) = source {
            source.close();
        }
        if let Some(on_visibility) = on_visibility {
            let _ = document().remove_event_listener_with_callback(
                "visibilitychange",
                on_visibility.as_ref().unchecked_ref(),
            );
        }
    }
}

/// On the server there is nothing to follow: pages are rendered as of now.
#[cfg(not(feature = "hydrate"))]
pub fn follow_dashboard(_on_revision: impl Fn(u64) + 'static) {}
