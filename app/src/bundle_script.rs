//! The script that starts the browser bundle, in place of Leptos' `HydrationScripts`.
//!
//! That component preloads the wasm from the `<head>`, so on a phone its download (1 MB at
//! Lighthouse's 1.6 Mbit/s) started before the first paint and was counted in front of the
//! page's largest paint (5.9 s, "render delay"), though every page is complete without it. This
//! script asks for nothing until the page has loaded and the browser is idle. It also names the
//! files from the runtime options: `HydrationScripts` decides at compile time whether the wasm is
//! called `NAME_bg.wasm`, from a variable cargo-leptos sets, so a server built by plain cargo
//! named a file that does not exist.

use leptos::{config::LeptosOptions, prelude::*};

/// The bundle's two files, `/PKG_DIR/NAME.js` and `/PKG_DIR/NAME.wasm` (Leptos.toml does not
/// hash file names).
fn bundle_urls(options: &LeptosOptions) -> (String, String) {
    let base = format!("/{}/{}", options.site_pkg_dir, options.output_name);
    (format!("{base}.js"), format!("{base}.wasm"))
}

/// The module script. The URLs, from Leptos.toml or `LEPTOS_*` (the operator's), are written
/// as Rust's quoted strings, which are JavaScript string literals for such names.
fn script(js: &str, wasm: &str) -> String {
    format!(
        "const start = () => import({js:?}).then(m => m.default({{ module_or_path: {wasm:?} }}).then(() => m.hydrate()));\n\
         // After the load (the page has painted), when the browser is idle; the timeout starts\n\
         // it on a page that never is.\n\
         const idle = () => \"requestIdleCallback\" in window ? requestIdleCallback(start, {{ timeout: 2000 }}) : setTimeout(start);\n\
         if (document.readyState === \"complete\") idle(); else addEventListener(\"load\", idle, {{ once: true }});"
    )
}

/// `<script type="module">` with this response's nonce, which the Content-Security-Policy asks
/// of inline scripts.
#[component]
pub fn BundleScript(options: LeptosOptions) -> impl IntoView {
    let (js, wasm) = bundle_urls(&options);
    view! { <script type="module" nonce=leptos::nonce::use_nonce()>{script(&js, &wasm)}</script> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_come_from_the_runtime_options() {
        let options = LeptosOptions::builder()
            .output_name("flightdeck")
            .site_pkg_dir("pkg")
            .build();
        assert_eq!(
            bundle_urls(&options),
            (
                "/pkg/flightdeck.js".to_owned(),
                "/pkg/flightdeck.wasm".to_owned()
            )
        );
    }

    #[test]
    fn the_script_loads_nothing_before_the_page_has_loaded() {
        let script = script("/pkg/a.js", "/pkg/a.wasm");
        assert!(script.contains("import(\"/pkg/a.js\")"), "{script}");
        assert!(
            script.contains("module_or_path: \"/pkg/a.wasm\""),
            "{script}"
        );
        // The only import is inside `start`, which only the load event (or a complete
        // document) schedules.
        assert_eq!(script.matches("import(").count(), 1);
        assert!(
            script.contains("addEventListener(\"load\", idle"),
            "{script}"
        );
    }
}
