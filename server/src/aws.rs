//! What every AWS client of the console shares: the SDK configuration (rustls on ring, the
//! standard credential chain or a named profile, retries and time limits, an endpoint override
//! for a local stand-in such as moto) and the wording of the SDK's errors.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_smithy_http_client::{Builder, tls};
use url::Url;

/// Attempts per call, the first included: throttling and 5xx answers are retried with the
/// SDK's exponential backoff and jitter.
const MAX_ATTEMPTS: u32 = 4;
/// An endpoint that does not accept a connection within this is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One call, retries included, never takes longer, so a slow region cannot hold a page.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

/// The SDK configuration for `region`. Nothing is contacted yet: the credential chain is
/// resolved on the first call.
pub async fn sdk_config(region: &str, profile: Option<&str>, endpoint: Option<&Url>) -> SdkConfig {
    // rustls on ring, like the console's own TLS; the SDK's default (aws-lc) needs more than a
    // C compiler to build.
    let http = Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new(region.to_owned()))
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url.as_str().trim_end_matches('/'));
    }
    loader.load().await
}

/// Whether an AWS error code means the credentials themselves were refused (expired, unknown
/// or badly signed), as opposed to a permission the identity lacks.
pub fn credentials_refused(code: &str) -> bool {
    code.contains("Expired")
        || code.contains("InvalidClientToken")
        || code.contains("UnrecognizedClient")
        || code.contains("InvalidSignature")
        || code.contains("SignatureDoesNotMatch")
}
