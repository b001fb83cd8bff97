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

/// Follows one logs view's stream (`GET /api/v1/logs/{env}/{service}/events`): calls `on_line`
/// with each new line and `on_status` with what the stream says about itself ("ended: …"),
/// until the calling component goes away. Each view has its own stream. It is closed while the
/// tab is hidden and opened again, from the last line received, when the tab is shown;
/// EventSource itself reconnects from there after a dropped link (`Last-Event-ID`).
#[cfg(feature = "hydrate")]
pub fn follow_logs(
    url: String,
    after: String,
    on_line: impl Fn(crate::model::LogLine) + 'static,
    on_status: impl Fn(String) + 'static,
) {
    let id = log_streams::open(url, after, Box::new(on_line), Box::new(on_status));
    leptos::prelude::on_cleanup(move || log_streams::close(id));
}

/// On the server there is nothing to follow: the page shows the lines read as of now.
#[cfg(not(feature = "hydrate"))]
pub fn follow_logs(
    _url: String,
    _after: String,
    _on_line: impl Fn(crate::model::LogLine) + 'static,
    _on_status: impl Fn(String) + 'static,
) {
}

/// The logs views' streams, by id (the browser runs this on one thread).
#[cfg(feature = "hydrate")]
mod log_streams {
    use std::{cell::RefCell, collections::HashMap, rc::Rc};

    use leptos::prelude::document;
    use wasm_bindgen::{JsCast, closure::Closure};

    use crate::model::LogLine;

    type Listener = Closure<dyn FnMut(web_sys::MessageEvent)>;

    struct View {
        url: String,
        /// The cursor of the last line received: where a reopened stream resumes.
        after: Rc<RefCell<String>>,
        source: Option<web_sys::EventSource>,
        on_line: Listener,
        on_ended: Listener,
        on_visibility: Closure<dyn FnMut()>,
    }

    thread_local! {
        static VIEWS: RefCell<(u64, HashMap<u64, View>)> = RefCell::default();
    }

    pub fn open(
        url: String,
        after: String,
        on_line: Box<dyn Fn(LogLine)>,
        on_status: Box<dyn Fn(String)>,
    ) -> u64 {
        let after = Rc::new(RefCell::new(after));
        let last = after.clone();
        let line_listener = Listener::new(move |event: web_sys::MessageEvent| {
            let Some(line) = event
                .data()
                .as_string()
                .and_then(|t| serde_json::from_str::<LogLine>(&t).ok())
            else {
                return;
            };
            *last.borrow_mut() = event.last_event_id();
            on_line(line);
        });
        let ended_listener = Listener::new(move |event: web_sys::MessageEvent| {
            on_status(event.data().as_string().unwrap_or_default());
        });
        let id = VIEWS.with_borrow_mut(|(next, _)| {
            *next += 1;
            *next
        });
        let on_visibility = Closure::<dyn FnMut()>::new(move || reopen(id));
        let _ = document().add_event_listener_with_callback(
            "visibilitychange",
            on_visibility.as_ref().unchecked_ref(),
        );
        VIEWS.with_borrow_mut(|(_, views)| {
            views.insert(
                id,
                View {
                    url,
                    after,
                    source: None,
                    on_line: line_listener,
                    on_ended: ended_listener,
                    on_visibility,
                },
            );
        });
        reopen(id);
        id
    }

    /// Closes the view's stream, if open, and opens a new one from its last line when the tab
    /// is visible.
    fn reopen(id: u64) {
        VIEWS.with_borrow_mut(|(_, views)| {
            let Some(view) = views.get_mut(&id) else {
                return;
            };
            if let Some(old) = view.source.take() {
                old.close();
            }
            if document().hidden() {
                return;
            }
            let url = format!("{}&after={}", view.url, view.after.borrow());
            if let Ok(fresh) = web_sys::EventSource::new(&url) {
                let _ = fresh.add_event_listener_with_callback(
                    "line",
                    view.on_line.as_ref().unchecked_ref(),
                );
                let _ = fresh.add_event_listener_with_callback(
                    "ended",
                    view.on_ended.as_ref().unchecked_ref(),
                );
                view.source = Some(fresh);
            }
        });
    }

    pub fn close(id: u64) {
        let Some(view) = VIEWS.with_borrow_mut(|(_, views)| views.remove(&id)) else {
            return;
        };
        if let Some(source) = view.source {
            source.close();
        }
        let _ = document().remove_event_listener_with_callback(
            "visibilitychange",
            view.on_visibility.as_ref().unchecked_ref(),
        );
    }
}
