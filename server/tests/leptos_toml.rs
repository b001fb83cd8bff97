//! Leptos.toml (read by the release binary) and Cargo.toml's [workspace.metadata.leptos] (read by
//! cargo-leptos) must agree wherever they share a key, or the binary would look for its wasm and
//! CSS where cargo-leptos did not put them.

use std::path::Path;

use toml_edit::{Document, Item};

fn read(path: &str) -> Document<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text = std::fs::read_to_string(root.join(path)).unwrap();
    Document::parse(text).unwrap()
}

fn table<'a>(doc: &'a Document<String>, path: &[&str]) -> &'a dyn toml_edit::TableLike {
    let mut item: &Item = doc.as_item();
    for key in path {
        item = item
            .get(key)
            .unwrap_or_else(|| panic!("missing [{}]", path.join(".")));
    }
    // cargo-leptos 0.3 wants `[[workspace.metadata.leptos]]` (one entry per site): take the
    // first, which is ours.
    match item.as_array_of_tables() {
        Some(array) => array
            .get(0)
            .unwrap_or_else(|| panic!("[[{}]] is empty", path.join("."))),
        None => item
            .as_table_like()
            .unwrap_or_else(|| panic!("[{}] is not a table", path.join("."))),
    }
}

/// A scalar as text, so values of different types never compare equal by accident.
fn scalar(item: &Item) -> String {
    let value = item.as_value().expect("a plain value");
    if let Some(s) = value.as_str() {
        format!("string {s:?}")
    } else if let Some(i) = value.as_integer() {
        format!("integer {i}")
    } else if let Some(b) = value.as_bool() {
        format!("bool {b}")
    } else {
        format!("other {}", value.type_name())
    }
}

#[test]
fn shared_keys_have_equal_values() {
    let leptos_doc = read("Leptos.toml");
    let cargo_doc = read("Cargo.toml");
    let leptos = table(&leptos_doc, &["package", "metadata", "leptos"]);
    let cargo = table(&cargo_doc, &["workspace", "metadata", "leptos"]);

    let mut shared = 0;
    for (key, value) in leptos.iter() {
        if let Some(other) = cargo.get(key) {
            shared += 1;
            assert_eq!(
                scalar(value),
                scalar(other),
                "`{key}` differs between Leptos.toml and Cargo.toml"
            );
        }
    }
    // The keys the binary needs to find the site must be among them.
    for key in ["output-name", "site-root", "site-pkg-dir", "reload-port"] {
        assert!(
            leptos.contains_key(key) && cargo.contains_key(key),
            "`{key}` must be in both"
        );
    }
    assert!(shared >= 4);
}

#[test]
fn the_binary_loads_the_embedded_leptos_toml() {
    // SAFETY of the test: cargo-leptos variables would override the file; none are set by cargo test.
    assert!(std::env::var("LEPTOS_OUTPUT_NAME").is_err());
    let options = flightdeck::leptos_options::load("127.0.0.1:4321".parse().unwrap()).unwrap();
    assert_eq!(&*options.output_name, "flightdeck");
    assert_eq!(&*options.site_root, "target/site");
    assert_eq!(&*options.site_pkg_dir, "pkg");
    assert_eq!(
        options.site_addr.port(),
        4321,
        "the --addr wins over any file value"
    );
}
