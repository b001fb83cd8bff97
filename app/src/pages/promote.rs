//! Before a promotion: what runs in the target now and what would run after, how far behind the
//! target is, the settings that differ between the two environments as the backend sees them,
//! and the source's health over the last minutes. Confirming sends the digest that was shown,
//! so the server refuses if the source changed in the meantime.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::{Deploy, load_promotion_preview},
    components::{ErrorPanel, FormResult, HealthBadge, live_marker},
    model::{Lag, PromotionPreview, RecentHealth, RunningRelease, SettingDifference, Timestamp},
    pages::deploy_panel::hidden,
    time_format,
};

#[component]
pub fn PromotePage() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        params.with(|p| {
            (
                p.get("name").unwrap_or_default(),
                p.get("env").unwrap_or_default(),
            )
        })
    };
    let preview = Resource::new(key, |(service, target)| {
        load_promotion_preview(service, target)
    });
    view! {
        <Transition fallback=|| view! { <p class="muted">"Comparing the environments…"</p> }>
            {move || Suspend::new(async move {
                match preview.await {
                    Ok(p) => view! { <Preview preview=p /> }.into_any(),
                    Err(e) => {
                        view! {
                            <Title text="Promotion" />
                            <ErrorPanel error=e />
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn Preview(preview: PromotionPreview) -> impl IntoView {
    let sections = view! { <PreviewSections preview=preview.clone() /> };
    let PromotionPreview {
        service,
        source,
        target,
        target_protected,
        approvals,
        after,
        refusal,
        frozen_by,
        form_key,
        ..
    } = preview;
    let heading = format!("Promote {service} from {source} to {target}");
    let confirm = match (refusal, after) {
        (None, Some(after)) => view! {
            <Confirm
                service=service.clone()
                source=source.clone()
                target=target.clone()
                form_key
                after
                frozen_by
                approvals
            />
        }
        .into_any(),
        (Some(reason), _) => view! {
            <p class="form-note error" role="alert">{reason}</p>
        }
        .into_any(),
        (None, None) => ().into_any(),
    };
    view! {
        <Title text=heading.clone() />
        <article class="promotion" aria-labelledby="promotion-heading">
            <p>
                <a href=format!("/services/{service}")>"← " {service.clone()}</a>
            </p>
            <h1 id="promotion-heading">
                {heading}
                {target_protected
                    .then(|| view! { " " <span class="badge protected">"protected"</span> })}
            </h1>
            {sections}
            {confirm}
        </article>
    }
}

/// What a promotion changes, the settings that differ and the source's health: the preview
/// itself, also shown to whoever approves a promotion.
#[component]
pub fn PreviewSections(preview: PromotionPreview) -> impl IntoView {
    let PromotionPreview {
        source,
        target,
        after,
        before,
        lag,
        differences,
        settings_error,
        source_health,
        source_recent,
        generated_at: now,
        ..
    } = preview;
    // Each section is type-erased: the page as one nested view type is too deep to compile.
    let changes = view! {
        <section class="panel" aria-labelledby="changes-heading">
            <h2 id="changes-heading">"What changes"</h2>
            <Releases source=source.clone() target=target.clone() before after now />
            <p class="lag">{lag_text(&lag, &source, &target)}</p>
        </section>
    }
    .into_any();
    let settings = view! {
        <section class="panel" aria-labelledby="settings-heading">
            <h2 id="settings-heading">"Settings that differ"</h2>
            <Differences source=source.clone() target=target.clone() differences settings_error />
        </section>
    }
    .into_any();
    let health = view! {
        <section class="panel" aria-labelledby="source-health-heading">
            <h2 id="source-health-heading">{format!("Health in {source}")}</h2>
            <HealthBadge health=source_health now />
            <Recent recent=source_recent now />
        </section>
    }
    .into_any();
    view! {
        {changes}
        {settings}
        {health}
    }
}

#[component]
fn Releases(
    source: String,
    target: String,
    before: Option<RunningRelease>,
    after: Option<RunningRelease>,
    now: Timestamp,
) -> impl IntoView {
    // Label, then the text for one release.
    type Row = (&'static str, fn(&RunningRelease) -> String);
    let rows: [Row; 3] = [
        ("Version", |r| r.version.clone()),
        ("Image", |r| r.image.clone()),
        ("Digest", |r| {
            r.digest
                .clone()
                .unwrap_or_else(|| "not reported".to_owned())
        }),
    ];
    let cell = |r: &Option<RunningRelease>, pick: fn(&RunningRelease) -> String| {
        r.as_ref().map_or_else(|| "nothing".to_owned(), pick)
    };
    let since = move |r: &RunningRelease| {
        let started = r
            .started_at
            .map(|t| format!("{} ago", time_format::span(t, now)));
        match (r.running, started) {
            (false, _) => "stopped".to_owned(),
            (true, Some(s)) => s,
            (true, None) => "running".to_owned(),
        }
    };
    // Each value says which column it is in, for when the table stacks on a phone.
    let now_label = format!("{target} now");
    let after_label = format!("After (as in {source})");
    let body = rows
        .into_iter()
        .map(|(label, pick)| {
            let (now_text, after_text) = (cell(&before, pick), cell(&after, pick));
            let changes = now_text != after_text;
            view! {
                <tr class:changes=changes>
                    <th scope="row">{label}</th>
                    <td data-label=now_label.clone()>
                        <code class="digest-full">{now_text}</code>
                    </td>
                    <td data-label=after_label.clone()>
                        <code class="digest-full">{after_text}</code>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let started = (
        before.as_ref().map_or_else(|| "—".to_owned(), since),
        after.as_ref().map_or_else(|| "—".to_owned(), since),
    );
    view! {
        <div class="table-wrap">
            <table class="list compare">
                <caption class="visually-hidden">
                    {format!("What runs in {target} now and after the promotion")}
                </caption>
                <thead>
                    <tr>
                        <td></td>
                        <th scope="col">{now_label.clone()}</th>
                        <th scope="col">{after_label.clone()}</th>
                    </tr>
                </thead>
                <tbody>
                    {body}
                    <tr>
                        <th scope="row">"Started"</th>
                        <td data-label=now_label.clone()>{started.0}</td>
                        <td data-label=after_label.clone()>{started.1}</td>
                    </tr>
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

fn lag_text(lag: &Lag, source: &str, target: &str) -> String {
    match lag {
        Lag::Same => format!("{target} already runs exactly what runs in {source}."),
        Lag::Behind { versions } => format!(
            "{target} is {} behind {source}: {}.",
            count(versions.len(), "release"),
            versions.join(", ")
        ),
        Lag::Ahead { versions } => format!(
            "{target} is ahead of {source}: it runs {}, newer than {source}'s release. \
             Promoting goes back.",
            versions.join(", ")
        ),
        Lag::Unknown { reason } => format!("How far {target} is behind is not known: {reason}."),
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[component]
fn Differences(
    source: String,
    target: String,
    differences: Vec<SettingDifference>,
    settings_error: Option<String>,
) -> impl IntoView {
    if let Some(error) = settings_error {
        return view! { <p class="muted">{format!("Not compared: {error}.")}</p> }.into_any();
    }
    if differences.is_empty() {
        return view! {
            <p>
                "None: the same environment variable names, ports and resource limits in both, \
                 as far as the backend shows them."
            </p>
        }
        .into_any();
    }
    let shown = |v: Option<String>| v.unwrap_or_else(|| "not set".to_owned());
    let (in_source, in_target) = (format!("In {source}"), format!("In {target}"));
    let rows = differences
        .into_iter()
        .map(|d| {
            view! {
                <tr>
                    <td data-label="Kind">{d.kind}</td>
                    <td data-label="Name">
                        <code>{d.name}</code>
                    </td>
                    <td data-label=in_source.clone()>{shown(d.source)}</td>
                    <td data-label=in_target.clone()>{shown(d.target)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted">
            "The promoted release keeps the target's own settings. Environment variables are \
             compared by name only."
        </p>
        <div class="table-wrap">
            <table class="list differences">
                <caption class="visually-hidden">"Settings that differ"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">{in_source.clone()}</th>
                        <th scope="col">{in_target.clone()}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Recent(recent: RecentHealth, now: Timestamp) -> impl IntoView {
    let RecentHealth {
        minutes,
        checks,
        up,
        changes,
    } = recent;
    let summary = if checks == 0 {
        format!("Not probed in the last {minutes} minutes.")
    } else {
        // Counts stay far below 2^52, so the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        let percent = up as f64 * 100.0 / checks as f64;
        format!("Up {percent:.1}% of {checks} checks over the last {minutes} minutes.")
    };
    let changes = if changes.is_empty() {
        view! { <p>{format!("No changes of state in the last {minutes} minutes.")}</p> }.into_any()
    } else {
        let items = changes
            .into_iter()
            .map(|c| {
                view! {
                    <li>
                        <time datetime=time_format::iso8601(c.at)>
                            {time_format::ago(c.at, now)}
                        </time>
                        " "
                        {format!("{} → {}", c.from.label(), c.to.label())}
                        {(!c.reason.is_empty()).then(|| format!(": {}", c.reason))}
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="changes">{items}</ul> }.into_any()
    };
    view! {
        <p>{summary}</p>
        {changes}
    }
    .into_any()
}

#[component]
fn Confirm(
    service: String,
    source: String,
    target: String,
    form_key: String,
    after: RunningRelease,
    frozen_by: Option<String>,
    approvals: u32,
) -> impl IntoView {
    let action = ServerAction::<Deploy>::new();
    // With approvals the click asks; a releaser other than the caller lets it run.
    let (label, success) = if approvals > 0 {
        (
            format!("Request promotion of {} to {target}", after.version),
            "Promotion requested: it waits for approval.",
        )
    } else {
        (
            format!("Promote {} to {target}", after.version),
            "Promotion queued.",
        )
    };
    let reviewed = after.exact().to_owned();
    // Frozen (the server let the preview through: this caller may override): ask why.
    let reason = frozen_by.map(|frozen| {
        view! {
            <p class="panel warning" role="status">
                {format!("{target} is {frozen}. Say why this promotion goes through it.")}
            </p>
            <label for="override-reason">"Reason to promote through the freeze"</label>
            <input id="override-reason" name="override_reason" required autocomplete="off" />
        }
    });
    view! {
        <ActionForm action attr:class="confirm-form" attr:data-live=live_marker()>
            {hidden(&target, &service, &form_key, "promote")}
            <input type="hidden" name="promote_from" value=source />
            <input type="hidden" name="reviewed" value=reviewed />
            {reason}
            <button type="submit">{label}</button>
        </ActionForm>
        <FormResult value=action.value() success=success />
    }
}
