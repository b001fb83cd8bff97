use leptos::prelude::*;

use crate::error::ConsoleError;

/// What a form's server action answered: nothing yet, a success note, or the error with the
/// field it concerns named. Announced to screen readers.
#[component]
pub fn FormResult<T>(
    #[prop(into)] value: Signal<Option<Result<T, ConsoleError>>>,
    #[prop(into)] success: String,
) -> impl IntoView
where
    T: Send + Sync + 'static,
{
    move || {
        value.with(|v| match v {
            None => ().into_any(),
            Some(Ok(_)) => view! {
                <p class="form-note success" role="status">{success.clone()}</p>
            }
            .into_any(),
            Some(Err(e)) => view! {
                <p class="form-note error" role="alert">{e.to_string()}</p>
            }
            .into_any(),
        })
    }
}
