use leptos::prelude::*;

use crate::model::LatencyPoint;

const WIDTH: f64 = 300.0;
const HEIGHT: f64 = 48.0;

/// Latency over time as an inline SVG line (no script, no style attribute: the page's CSP
/// allows neither inline), with a text alternative giving the figures.
#[component]
pub fn Sparkline(points: Vec<LatencyPoint>, label: String) -> impl IntoView {
    if points.len() < 2 {
        return view! { <p class="muted">"Not enough probes yet for a latency chart."</p> }
            .into_any();
    }
    let avg: Vec<f64> = points.iter().map(|p| p.avg_ms).collect();
    let max = points.iter().map(|p| p.max_ms).fold(0.0_f64, f64::max);
    let min = avg.iter().copied().fold(f64::INFINITY, f64::min);
    let last = avg.last().copied().unwrap_or_default();
    let summary = format!(
        "{label}: latest {} ms, lowest {} ms, highest {} ms over {} minutes",
        round(last),
        round(min),
        round(max),
        points.len()
    );
    view! {
        <figure class="sparkline">
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=summary.clone()
                preserveAspectRatio="none"
            >
                <polyline class="sparkline-line" fill="none" points=polyline(&avg, max) />
            </svg>
            <figcaption>{summary}</figcaption>
        </figure>
    }
    .into_any()
}

fn round(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// SVG `points` for `values`, spread over the width, scaled so `top` is the top edge.
pub fn polyline(values: &[f64], top: f64) -> String {
    let top = if top > 0.0 { top } else { 1.0 };
    let steps = (values.len().max(2) - 1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = i as f64 * WIDTH / steps;
            let y = HEIGHT - (v / top).clamp(0.0, 1.0) * (HEIGHT - 2.0) - 1.0;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::polyline;

    #[test]
    fn points_span_the_width_and_scale_to_the_top() {
        assert_eq!(
            polyline(&[0.0, 5.0, 10.0], 10.0),
            "0.0,47.0 150.0,24.0 300.0,1.0"
        );
        // A flat line of zeros does not divide by zero.
        assert_eq!(polyline(&[0.0, 0.0], 0.0), "0.0,47.0 300.0,47.0");
    }
}
