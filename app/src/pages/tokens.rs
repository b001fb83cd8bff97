//! API tokens (admins only): create one bound to a role (its secret shown once), revoke.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{CreateToken, RevokeToken, load_tokens},
    components::{ErrorPanel, FormResult},
    model::{Role, TokenView},
    pages::users::RoleSelect,
    time_format,
};

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| load_tokens(),
    );
    let created = move || {
        create.value().get().and_then(Result::ok).map(|t| {
            view! {
                <div class="panel success" role="status">
                    <p>
                        {format!("Token {} ({}) created. Copy it now: it is never shown again.", t.name, t.role)}
                    </p>
                    <pre class="secret"><code>{t.secret}</code></pre>
                </div>
            }
        })
    };

    view! {
        <Title text="API tokens" />
        <section aria-labelledby="tokens-heading">
            <h1 id="tokens-heading">"API tokens"</h1>
            <p class="muted">
                "For CI and scripts: send " <code>"Authorization: Bearer TOKEN"</code>
                " to the JSON API under /api/v1/ and to /metrics."
            </p>
            {created}
            <FormResult value=revoke.value() success="Token revoked." />
            <Transition fallback=|| view! { <p class="muted">"Loading tokens…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) => view! { <TokenTable tokens=list revoke /> }.into_any(),
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section aria-labelledby="create-token-heading">
            <h2 id="create-token-heading">"Create a token"</h2>
            <ActionForm action=create attr:class="stacked-form">
                <label for="token-name">"Name (what uses it, e.g. ci-deploy)"</label>
                <input id="token-name" name="name" type="text" autocomplete="off" required />
                <label for="token-role">"Role"</label>
                <RoleSelect id="token-role" selected=Role::Viewer />
                <button type="submit">"Create token"</button>
                {move || {
                    create
                        .value()
                        .get()
                        .and_then(Result::err)
                        .map(|e| view! { <p class="form-note error" role="alert">{e.to_string()}</p> })
                }}
            </ActionForm>
        </section>
    }
}

#[component]
fn TokenTable(tokens: Vec<TokenView>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    if tokens.is_empty() {
        return view! { <p>"No tokens yet."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="list">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {tokens
                        .into_iter()
                        .map(|t| {
                            let status = match t.revoked_at {
                                Some(at) => {
                                    view! { <span>{format!("revoked {}", time_format::utc(at))}</span> }
                                        .into_any()
                                }
                                None => {
                                    view! {
                                        <ActionForm action=revoke attr:class="inline-form">
                                            <input type="hidden" name="id" value=t.id.to_string() />
                                            <button type="submit">"Revoke"</button>
                                        </ActionForm>
                                    }
                                        .into_any()
                                }
                            };
                            view! {
                                <tr>
                                    <th scope="row">{t.name}</th>
                                    <td>{t.role.as_str()}</td>
                                    <td>
                                        {format!("{} by {}", time_format::utc(t.created_at), t.created_by)}
                                    </td>
                                    <td>
                                        {t.last_used_at.map(time_format::utc).unwrap_or_else(|| "never".to_owned())}
                                    </td>
                                    <td>{status}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
