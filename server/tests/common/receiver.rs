//! A webhook receiver on loopback for notification tests: records every POST, answers with
//! the statuses queued (then 200), and holds requests while its gate is closed.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing,
};
use tokio::sync::{Notify, Semaphore};

use super::serve_on_loopback;

/// What the receiver got: the path, the headers that matter, the body.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
    pub body: String,
}

impl Received {
    /// The body's top-level `key` as text: `type` of a webhook event, `text` of a chat message.
    pub fn field(&self, key: &str) -> String {
        let body: serde_json::Value = serde_json::from_str(&self.body).expect("a JSON body");
        body[key].as_str().unwrap_or_default().to_owned()
    }
}

/// A loopback HTTP receiver: records every POST, answers with the statuses queued (then
/// 200), and holds requests while its gate is closed.
#[derive(Default)]
pub struct Receiver {
    got: Mutex<Vec<Received>>,
    answers: Mutex<VecDeque<(u16, Option<&'static str>)>>,
    arrived: Notify,
    /// Permits to answer; `None`: answer at once.
    pub gate: Mutex<Option<Arc<Semaphore>>>,
}

impl Receiver {
    pub async fn start() -> (Arc<Self>, String) {
        let receiver = Arc::new(Self::default());
        let router = axum::Router::new()
            .route("/{*path}", routing::post(receive))
            .with_state(receiver.clone());
        (receiver, serve_on_loopback(router).await)
    }

    pub fn answer(&self, status: u16, retry_after: Option<&'static str>) {
        self.answers
            .lock()
            .unwrap()
            .push_back((status, retry_after));
    }

    pub fn got(&self, path: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits (on the receiver's own signal, no sleeping) until `path` has `n` messages.
    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        let waiting = async {
            loop {
                let arrived = self.arrived.notified();
                let got = self.got(path);
                if got.len() >= n {
                    return got;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), waiting)
            .await
            .unwrap_or_else(|_| panic!("{path} got {:?}, not {n}", self.got(path)))
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    axum::extract::Path(path): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    receiver.got.lock().unwrap().push(Received {
        path: format!("/{path}"),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    receiver.arrived.notify_waiters();
    let gate = receiver.gate.lock().unwrap().clone();
    if let Some(gate) = gate {
        let _held = gate.acquire().await;
    }
    let (status, retry_after) = receiver
        .answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, None));
    let mut response = StatusCode::from_u16(status).unwrap().into_response();
    if let Some(after) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", after.parse().unwrap());
    }
    response
}
