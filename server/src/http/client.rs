//! The first thing every request meets: who is connecting, and may they connect at all.
//!
//! The client address is the TCP peer, unless the peer is one of `[access] trusted_proxies`;
//! then `X-Forwarded-For` is read from the right, skipping trusted proxies, and the first
//! address that is not one is the client. A forged header from an untrusted peer is ignored.
//! Addresses outside `[access] allow` get 403 before any other code runs.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use flightdeck_app::console::Client;

use crate::{config::AccessSettings, tls::ServedOverTls};

/// `::ffff:10.0.0.1` (IPv4 on a dual-stack socket) is 10.0.0.1 for the allow-list.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn client_addr(peer: IpAddr, headers: &HeaderMap, access: &AccessSettings) -> IpAddr {
    if !access.is_trusted_proxy(peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok().map(canonical))
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !access.is_trusted_proxy(**ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

fn forwarded_https(peer: IpAddr, headers: &HeaderMap, access: &AccessSettings) -> bool {
    access.is_trusted_proxy(peer)
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

pub async fn identify(
    State(access): State<Arc<AccessSettings>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(peer) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| canonical(c.0.ip()))
    else {
        // The server is always started with connect info; without it we cannot check.
        tracing::error!("request without a peer address; refusing it");
        return StatusCode::FORBIDDEN.into_response();
    };
    let headers = request.headers();
    let addr = client_addr(peer, headers, &access);
    if !access.allows(addr) {
        tracing::warn!(client = %addr, path = request.uri().path(), "address not in [access] allow; refused");
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Forbidden: this address may not use the console.\n",
        )
            .into_response();
    }
    let client = Client {
        addr,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        https: request.extensions().get::<ServedOverTls>().is_some()
            || forwarded_https(peer, headers, &access),
        presented_session: None,
    };
    let https = client.https;
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    if https {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(trusted: &[&str]) -> AccessSettings {
        AccessSettings {
            trusted_proxies: trusted.iter().map(|t| t.parse().unwrap()).collect(),
            ..AccessSettings::default()
        }
    }

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        let headers = xff("192.168.1.5");
        assert_eq!(client_addr(peer, &headers, &access(&[])), peer);
        assert_eq!(client_addr(peer, &headers, &access(&["10.0.0.0/8"])), peer);
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let a = access(&["10.0.0.0/8"]);
        // The left entry is whatever the client claimed; the proxy appended the real peer.
        let headers = xff("1.2.3.4, 192.168.1.5, 10.0.0.7");
        assert_eq!(
            client_addr(proxy, &headers, &a),
            "192.168.1.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_addr(proxy, &HeaderMap::new(), &a), proxy);
    }

    #[test]
    fn mapped_ipv4_is_plain_ipv4() {
        assert_eq!(
            canonical("::ffff:192.168.1.5".parse().unwrap()),
            "192.168.1.5".parse::<IpAddr>().unwrap()
        );
    }
}
