//! Image references (`registry:5000/shop/api:1.4.2@sha256:…`): the repository, the tag, the
//! version they stand for and pinning one to a registry digest. Every adapter reads references
//! the same way, so these live here and nowhere else.

use std::collections::HashMap;

use crate::store::Release;

/// The version a container runs: its `org.opencontainers.image.version` label, else the tag of
/// the image it was created from.
pub fn version_of(labels: Option<&HashMap<String, String>>, image: &str) -> String {
    labels
        .and_then(|l| l.get("org.opencontainers.image.version"))
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| image_tag(image).to_owned())
}

/// `registry:5000/shop/api:1.4.2` → `1.4.2`; `shop/api` → `latest`; `shop/api@sha256:…` → the
/// digest.
pub fn image_tag(image: &str) -> &str {
    if let Some((_, digest)) = image.split_once('@') {
        return digest;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').map_or("latest", |(_, tag)| tag)
}

/// `shop/api:1.4.2` → `shop/api`; a registry port stays (`host:5000/api:2` → `host:5000/api`).
pub fn repository(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => without_digest,
    }
}

/// `image` pinned to the registry digest of the same repository among an image's
/// `RepoDigests` (`shop/api@sha256:…`): `shop/api:1.4.2@sha256:…`. A digest under another
/// repository name is the same content but may not be in the registry `image` is pulled from.
pub fn pinned_reference(image: &str, repo_digests: &[String]) -> Option<String> {
    if image.contains('@') {
        return Some(image.to_owned());
    }
    let repo = repository(image);
    repo_digests.iter().find_map(|d| {
        let (from, digest) = d.split_once('@')?;
        (from == repo).then(|| format!("{image}@{digest}"))
    })
}

/// The release an image reference names: the tag as the version (the digest when there is no
/// tag), and the digest when the reference pins one (`repo:tag@sha256:…`).
pub fn release_of(image: &str) -> Release {
    let (named, digest) = match image.split_once('@') {
        Some((named, digest)) => (named, Some(digest.to_owned())),
        None => (image, None),
    };
    let version = match (image_tag(named), &digest) {
        ("latest", Some(d)) if !named.rsplit('/').next().unwrap_or(named).contains(':') => {
            d.clone()
        }
        (tag, _) => tag.to_owned(),
    };
    Release {
        version,
        image: image.to_owned(),
        digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_is_read_from_the_last_path_segment() {
        assert_eq!(image_tag("registry:5000/shop/api:1.4.2"), "1.4.2");
        assert_eq!(image_tag("registry:5000/shop/api"), "latest");
        assert_eq!(image_tag("api"), "latest");
        assert_eq!(image_tag("api@sha256:abc"), "sha256:abc");
    }

    #[test]
    fn a_release_is_pinned_to_the_digest_of_its_own_repository() {
        let digests = [
            "mirror.example/shop/api@sha256:aaa".to_owned(),
            "registry.example:5000/shop/api@sha256:bbb".to_owned(),
        ];
        assert_eq!(
            pinned_reference("registry.example:5000/shop/api:1.4.2", &digests).as_deref(),
            Some("registry.example:5000/shop/api:1.4.2@sha256:bbb")
        );
        assert_eq!(pinned_reference("other/api:1", &digests), None);
        assert_eq!(pinned_reference("built/here:1", &[]), None);
        assert_eq!(
            pinned_reference("shop/api:1@sha256:ccc", &[]).as_deref(),
            Some("shop/api:1@sha256:ccc")
        );
    }

    #[test]
    fn the_repository_drops_tag_and_digest_but_keeps_a_registry_port() {
        assert_eq!(repository("shop/api:1.4.2"), "shop/api");
        assert_eq!(
            repository("registry:5000/shop/api:2"),
            "registry:5000/shop/api"
        );
        assert_eq!(
            repository("registry:5000/shop/api"),
            "registry:5000/shop/api"
        );
        assert_eq!(repository("api@sha256:abc"), "api");
    }
}
