//! One-click unsubscribe (RFC 8058) from the `List-Unsubscribe` link in alert emails.
//!
//! The link's token names an email channel and proves, with the server's
//! key, that mail to the channel's current address carried it
//! ([`UnsubscribeToken`]); no login is needed. `POST` switches the channel
//! off, as its owner would (`enabled = false`), once: repeating it changes
//! nothing. `GET` only shows a page with a button that posts: mail scanners
//! and link previews fetch links, and must not unsubscribe anyone.

use crate::app::audit::Actor;
use crate::http::extract::{ClientIp, RequestId};
use crate::http::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use roster_core::channel::{ChannelType, UnsubscribeToken};
use roster_core::Error;
use roster_store::channels::{ChannelOwner, UnsubscribeTarget};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show_unsubscribe, unsubscribe))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unsubscribed {
    /// Always `false`: the channel receives nothing until its owner switches it on again.
    pub enabled: bool,
    /// Whether this request switched it off (`false`: it was off already).
    pub changed: bool,
    pub message: String,
}

/// The page behind an alert email's unsubscribe link: what it would switch off, and a button to do it.
#[utoipa::path(
    get, path = "/v1/unsubscribe/{token}", tag = "channels",
    params(("token" = String, Path, description = "The token from the email's `List-Unsubscribe` link")),
    responses(
        (status = 200, description = "A page with a button that posts to the same address; nothing changes yet", content_type = "text/html", body = String),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "Not a valid link, or the channel is gone or sends elsewhere now"),
    )
)]
pub async fn show_unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> ApiResult<Response> {
    let target = find(&state, &token).await?;
    let product = escape(&state.config().product_name);
    let address = escape(&target.channel.value);
    let whose = match target.owner {
        ChannelOwner::Customer(_) => format!("{}’s personal alerts", escape(&target.owner_name)),
        ChannelOwner::Team(_) => format!("alerts for the team {}", escape(&target.owner_name)),
    };
    let body = if target.channel.enabled {
        format!(
            "<p>Stop sending {whose} to <strong>{address}</strong>?</p>\
             <p>This switches the channel off; its owner can switch it on again in {product}.</p>\
             <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">Unsubscribe</button></form>"
        )
    } else {
        format!("<p><strong>{address}</strong> no longer receives {whose}.</p>")
    };
    Ok(page(&product, &body))
}

/// Unsubscribe (RFC 8058 one-click): switch the email channel off. Idempotent.
#[utoipa::path(
    post, path = "/v1/unsubscribe/{token}", tag = "channels",
    params(("token" = String, Path, description = "The token from the email's `List-Unsubscribe` link")),
    responses(
        (status = 200, description = "The channel is off (a page for browsers, JSON otherwise)", content(
            (Unsubscribed = "application/json"),
            (String = "text/html")
        )),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "Not a valid link, or the channel is gone or sends elsewhere now"),
    )
)]
pub async fn unsubscribe(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let target = find(&state, &token).await?;
    let channel = &target.channel;
    // The owner's choice, made through the link their channel received.
    let actor = Actor::new(target.organization_id, target.owner.customer(), request_id, ip);
    let owner = match target.owner {
        ChannelOwner::Customer(_) => "customer",
        ChannelOwner::Team(_) => "team",
    };
    let audit = actor.event(
        "channel.disabled",
        "notification_channel",
        Some(channel.id),
        json!({ "type": channel.channel_type, "priority": channel.priority, "via": "list_unsubscribe", "owner": owner }),
    );
    let changed = state.store().unsubscribe_channel(channel.id, &audit, roster_core::clock::now()).await?;
    let message = format!("{} receives no more alerts from this channel", channel.value);
    let accepts_html =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"));
    if accepts_html {
        let product = escape(&state.config().product_name);
        return Ok(page(&product, &format!("<p>{}.</p>", escape(&message))));
    }
    Ok(Json(Unsubscribed { enabled: false, changed, message }).into_response())
}

/// The email channel `token` was issued for, while it still sends to the address the token was issued for.
async fn find(state: &AppState, token: &str) -> Result<UnsubscribeTarget, Error> {
    let not_found = || Error::NotFound("unsubscribe link");
    let parsed = UnsubscribeToken::parse(token).ok_or_else(not_found)?;
    let target = state.store().unsubscribe_target(parsed.channel).await?.ok_or_else(not_found)?;
    let is_email = target.channel.channel_type == ChannelType::Email.as_str();
    if !is_email || !parsed.is_valid_for(state.key(), &target.channel.value) {
        return Err(not_found());
    }
    Ok(target)
}

/// A minimal page: no scripts, no outside resources, not indexed, and the
/// token in its address never sent on as a referrer.
fn page(product: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Unsubscribe · {product}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
         button{{font-size:1rem;padding:.5rem 1.25rem}}</style></head>\
         <body><h1>{product} alerts</h1>{body}</body></html>"
    );
    let mut res = Html(html).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
    );
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    res
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_what_html_would_read_as_markup() {
        assert_eq!(escape(r#"<b>"Ops" & 'Co'</b>"#), "&lt;b&gt;&quot;Ops&quot; &amp; &#39;Co&#39;&lt;/b&gt;");
        assert_eq!(escape("Zoë"), "Zoë");
    }
}
