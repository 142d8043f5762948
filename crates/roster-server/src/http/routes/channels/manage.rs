//! Creating, listing, changing, reordering and deleting an owner's channels;
//! the same for customers and teams.

use super::view::{stored_mute, webhook_config, CreatedChannel};
use super::{channel_at, judge, new_code, owner_target, priority, resolve, verification_message, ChannelView};
use crate::http::extract::act::{ChannelManage, ChannelRead};
use crate::http::extract::Auth;
use crate::http::pagination::{PageParams, Paged};
use crate::http::routes::customer::actor;
use crate::http::routes::organization::plan_limits;
use crate::state::AppState;
use roster_core::channel::{ChannelType, ChannelValue, Mute, Suppress, WebhookConfig};
use roster_core::validation::FieldErrors;
use roster_core::Error;
use roster_delivery::transports::standard_webhooks::generate_secret;
use roster_store::channels::{ChannelControls, ChannelOwner, NewChannel, TypeFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;
use std::net::IpAddr;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

// Required fields are `Option` so that a missing one is a field-level 422 rather than a
// serde error; `required = true` keeps the document honest about them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannelRequest {
    /// email, sms, voice, webhook, slack, discord, msteams, pagerduty or push-notification.
    #[serde(rename = "type")]
    #[schema(value_type = ChannelType, required = true, example = "email")]
    pub channel_type: Option<String>,
    /// The address, number, URL, key or token, as the type wants it.
    #[schema(value_type = String, required = true, example = "oncall@example.com")]
    pub value: Option<String>,
    pub suppress: Option<Suppress>,
    /// `true`, `false` or an RFC 3339 time to unmute at.
    #[schema(value_type = Option<Mute>)]
    pub mute: Option<serde_json::Value>,
    pub bypass_quiet_hours: Option<bool>,
    /// Webhooks only.
    pub webhook: Option<WebhookConfig>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeValueRequest {
    #[schema(value_type = i64, required = true, minimum = 1)]
    pub priority: Option<i64>,
    #[schema(value_type = String, required = true)]
    pub value: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChannelRequest {
    #[schema(value_type = i64, required = true, minimum = 1)]
    pub priority: Option<i64>,
    pub suppress: Option<Suppress>,
    #[schema(value_type = Option<Mute>)]
    pub mute: Option<serde_json::Value>,
    pub bypass_quiet_hours: Option<bool>,
    pub webhook: Option<WebhookConfig>,
    /// Another channel of the same owner (its `id`, which survives reordering)
    /// to try when a delivery through this one fails for good; `null` for none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub fallback_channel_id: Option<Option<Uuid>>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableChannelRequest {
    #[schema(value_type = i64, required = true, minimum = 1)]
    pub priority: Option<i64>,
    #[schema(value_type = bool, required = true)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderRequest {
    /// Every current priority once, in the new order.
    #[schema(value_type = Vec<i64>, required = true, example = json!([3, 1, 2]))]
    pub priorities: Option<Vec<i64>>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TypeParams {
    /// Only these types, comma-separated (`sms,email`).
    pub include_types: Option<String>,
    /// Not these types, comma-separated.
    pub exclude_types: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    pub data: Vec<ChannelView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub message: String,
    pub deleted: u64,
}

fn mute_field(errors: &mut FieldErrors, raw: Option<&serde_json::Value>) -> Option<Mute> {
    raw.and_then(|v| errors.check("mute", Mute::parse_json(v, roster_core::clock::now())))
}

fn webhook_field(errors: &mut FieldErrors, ty: Option<ChannelType>, w: Option<&WebhookConfig>) {
    if let Some(w) = w {
        if ty.is_some_and(|t| t != ChannelType::Webhook) {
            errors.push("webhook", "not_allowed", "only webhook channels take a webhook configuration");
        }
        w.check_into(errors, "webhook.");
    }
}

pub(super) async fn create(
    state: &AppState,
    auth: &Auth<ChannelManage>,
    (request_id, ip): (Option<String>, IpAddr),
    owner: ChannelOwner,
    body: CreateChannelRequest,
) -> Result<CreatedChannel, Error> {
    let facts = resolve(state, auth, owner).await?;
    let mut errors = FieldErrors::default();
    let ty = match &body.channel_type {
        None => {
            errors.push("type", "required", "give the channel's type");
            None
        }
        Some(raw) => errors.check("type", ChannelType::parse(raw)),
    };
    let rules = state.config().channels.value_rules();
    let value = match (&body.value, ty) {
        (None, _) => {
            errors.push("value", "required", "give the channel's value");
            None
        }
        (Some(raw), Some(ty)) => errors.check("value", ChannelValue::parse(ty, raw, &rules)),
        (Some(_), None) => None,
    };
    let mute = mute_field(&mut errors, body.mute.as_ref()).unwrap_or_default();
    webhook_field(&mut errors, ty, body.webhook.as_ref());
    errors.finish()?;
    let value = value.expect("checked");
    let ty = value.channel_type();
    // A webhook always has a configuration, so delivery never guesses.
    let webhook = (ty == ChannelType::Webhook).then(|| body.webhook.clone().unwrap_or_default());
    let webhook_json = webhook.as_ref().map(|w| serde_json::to_value(w).expect("serializable"));
    let signing_secret = (ty == ChannelType::Webhook).then(generate_secret);
    let now = roster_core::clock::now();
    let id = Uuid::now_v7();
    let (code, code_row) = new_code(state, id, value.as_str(), now);
    let message = verification_message(state, id, &value, &facts.name, webhook_json.as_ref(), code);
    let max = plan_limits(state, &facts.plan)?.channels_per_owner;
    let audit = actor(auth, request_id, ip).event(
        "channel.created",
        "notification_channel",
        Some(id),
        json!({ "type": ty, "owner": owner_target(owner), "owner_id": owner.id() }),
    );
    let row = state
        .store()
        .create_channel(&NewChannel {
            id,
            organization_id: auth.organization_id,
            owner,
            channel_type: ty.as_str(),
            value: value.as_str().to_owned(),
            suppress: body.suppress.unwrap_or_default(),
            mute: mute.to_stored(),
            bypass_quiet_hours: body.bypass_quiet_hours.unwrap_or(false),
            webhook: webhook_json,
            signing_secret: signing_secret.clone(),
            code: code_row,
            message,
            max,
            audit,
            now,
        })
        .await?;
    state.message_queued();
    Ok(CreatedChannel { channel: ChannelView::from_row(&row, now)?, signing_secret })
}

pub(super) async fn list(
    state: &AppState,
    auth: &Auth<ChannelRead>,
    owner: ChannelOwner,
    page: PageParams,
    types: TypeParams,
) -> Result<Paged<ChannelView>, Error> {
    let paging = page.resolve();
    let mut errors = FieldErrors::default();
    let mut list = |field: &str, raw: &Option<String>| {
        let parsed = raw.as_deref().map(|r| errors.check(field, ChannelType::parse_list(r)).unwrap_or_default());
        parsed.unwrap_or_default().into_iter().map(ChannelType::as_str).collect::<Vec<_>>()
    };
    let include = list("include_types", &types.include_types);
    let exclude = list("exclude_types", &types.exclude_types);
    let filtering = errors.finish();
    let (Ok((limit, offset)), Ok(())) = (&paging, &filtering) else {
        // The owner's 404 and 403 come before a bad query's 422.
        resolve(state, auth, owner).await?;
        paging?;
        return Err(filtering.expect_err("one of the two failed"));
    };
    let (limit, offset) = (*limit, *offset);
    let filter = TypeFilter { include, exclude };
    let found =
        state.store().owner_and_channels(auth.organization_id, owner, auth.customer_id, &filter, limit, offset).await?;
    let (facts, rows, total) = match found {
        Some((facts, rows, total)) => (Some(facts), rows, total),
        None => (None, Vec::new(), 0),
    };
    judge::<ChannelRead>(owner, facts)?;
    let now = roster_core::clock::now();
    let data = rows.iter().map(|r| ChannelView::from_row(r, now)).collect::<Result<_, _>>()?;
    Ok(Paged::new(data, offset, total))
}

pub(super) async fn change_value(
    state: &AppState,
    auth: &Auth<ChannelManage>,
    (request_id, ip): (Option<String>, IpAddr),
    owner: ChannelOwner,
    body: ChangeValueRequest,
) -> Result<ChannelView, Error> {
    let facts = resolve(state, auth, owner).await?;
    let mut errors = FieldErrors::default();
    let p = priority(&mut errors, body.priority);
    if body.value.is_none() {
        errors.push("value", "required", "give the new value");
    }
    errors.finish()?;
    let row = channel_at(state, owner, p.expect("checked")).await?;
    let ty = ChannelType::parse(&row.channel_type).map_err(|e| Error::internal(e.message))?;
    let rules = state.config().channels.value_rules();
    let value =
        ChannelValue::parse(ty, body.value.as_deref().unwrap_or_default(), &rules).map_err(|e| e.at("value"))?;
    if value.as_str() == row.value {
        return Err(Error::invalid("value", "unchanged", "is the channel's current value"));
    }
    let now = roster_core::clock::now();
    let webhook = row.webhook_config.as_ref().map(|j| j.0.clone());
    let (code, code_row) = new_code(state, row.id, value.as_str(), now);
    let message = verification_message(state, row.id, &value, &facts.name, webhook.as_ref(), code);
    let audit = actor(auth, request_id, ip).event(
        "channel.value_changed",
        "notification_channel",
        Some(row.id),
        json!({ "type": ty, "priority": row.priority, "pending": row.verified_at.is_some() }),
    );
    let org = auth.organization_id;
    let row = state
        .store()
        .change_channel_value(org, owner, row.id, value.as_str(), &code_row, &message, &audit, now)
        .await?;
    state.message_queued();
    ChannelView::from_row(&row, now)
}

pub(super) async fn update(
    state: &AppState,
    auth: &Auth<ChannelManage>,
    (request_id, ip): (Option<String>, IpAddr),
    owner: ChannelOwner,
    body: UpdateChannelRequest,
) -> Result<ChannelView, Error> {
    resolve(state, auth, owner).await?;
    let mut errors = FieldErrors::default();
    let p = priority(&mut errors, body.priority);
    let mute = mute_field(&mut errors, body.mute.as_ref());
    webhook_field(&mut errors, None, body.webhook.as_ref());
    if body.suppress.is_none()
        && body.mute.is_none()
        && body.bypass_quiet_hours.is_none()
        && body.webhook.is_none()
        && body.fallback_channel_id.is_none()
    {
        errors.push(
            "suppress",
            "required",
            "give at least one of suppress, mute, bypass_quiet_hours, webhook, fallback_channel_id",
        );
    }
    errors.finish()?;
    let row = channel_at(state, owner, p.expect("checked")).await?;
    if body.webhook.is_some() && row.channel_type != ChannelType::Webhook.as_str() {
        return Err(Error::invalid("webhook", "not_allowed", "only webhook channels take a webhook configuration"));
    }
    let suppress = body.suppress.unwrap_or(Suppress {
        up: row.suppress_up,
        down: row.suppress_down,
        first: row.suppress_first,
        diagnostic: row.suppress_diagnostic,
        all: row.suppress_all,
    });
    let mute = match mute {
        Some(m) => m,
        None => stored_mute(&row.mute)?,
    };
    let webhook = match &body.webhook {
        Some(w) => Some(w.clone()),
        None => webhook_config(&row)?,
    };
    let webhook = webhook.map(|w| serde_json::to_value(w).expect("serializable"));
    let now = roster_core::clock::now();
    let audit = actor(auth, request_id, ip).event(
        "channel.updated",
        "notification_channel",
        Some(row.id),
        json!({ "type": row.channel_type, "priority": row.priority, "fallback_channel_id": body.fallback_channel_id }),
    );
    let controls = ChannelControls {
        suppress,
        mute: mute.to_stored(),
        bypass_quiet_hours: body.bypass_quiet_hours.unwrap_or(row.bypass_quiet_hours),
        webhook,
        fallback_channel_id: body.fallback_channel_id.unwrap_or(row.fallback_channel_id),
    };
    let row = state.store().update_channel_controls(owner, row.id, &controls, &audit, now).await?;
    ChannelView::from_row(&row, now)
}

pub(super) async fn set_enabled(
    state: &AppState,
    auth: &Auth<ChannelManage>,
    (request_id, ip): (Option<String>, IpAddr),
    owner: ChannelOwner,
    body: EnableChannelRequest,
) -> Result<ChannelView, Error> {
    resolve(state, auth, owner).await?;
    let mut errors = FieldErrors::default();
    let p = priority(&mut errors, body.priority);
    if body.enabled.is_none() {
        errors.push("enabled", "required", "give true or false");
    }
    errors.finish()?;
    let enabled = body.enabled.expect("checked");
    let row = channel_at(state, owner, p.expect("checked")).await?;
    let now = roster_core::clock::now();
    let audit = actor(auth, request_id, ip).event(
        if enabled { "channel.enabled" } else { "channel.disabled" },
        "notification_channel",
        Some(row.id),
        json!({
            "type": row.channel_type,
            "priority": row.priority,
            "cleared_system_disable": enabled && row.disabled_by_system_at.is_some(),
        }),
    );
    let row = state.store().set_channel_enabled(row.id, enabled, &audit, now).await?;
    ChannelView::from_row(&row, now)
}

/// Priorities from `priority=3,4` and/or `priority=3&priority=4`.
fn parse_priorities(raw: Option<&str>) -> Result<BTreeSet<i64>, Error> {
    let mut out = BTreeSet::new();
    let pairs = raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect::<Vec<_>>());
    for (name, value) in pairs.unwrap_or_default() {
        if name != "priority" {
            return Err(Error::invalid(&name, "unknown_parameter", "only `priority` is accepted"));
        }
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.parse::<i64>() {
                Ok(p) if p >= 1 => {
                    out.insert(p);
                }
                _ => {
                    return Err(Error::invalid(
                        "priority",
                        "invalid_priority",
                        format!("`{item}` is not a priority (1 or more)"),
                    ))
                }
            }
        }
    }
    if out.is_empty() {
        return Err(Error::invalid("priority", "required", "give the priorities to delete, as priority=3,4"));
    }
    Ok(out)
}

pub(super) async fn delete(
    state: &AppState,
    auth: &Auth<ChannelManage>,
    (request_id, ip): (Option<String>, IpAddr),
    owner: ChannelOwner,
    query: Option<String>,
) -> Result<Deleted, Error> {
    resolve(state, auth, owner).await?;
    let priorities = parse_priorities(query.as_deref())?;
    let audit = actor(auth, request_id, ip).event("channel.deleted", "notification_channel", None, json!({}));
    let deleted = state.store().delete_channels(owner, &priorities, &audit).await?;
    Ok(Deleted { message: format!("{deleted} notification channel(s) deleted"), deleted })
}

pub(super) async fn reorder(
    state: &AppState,
    auth: &Auth<ChannelManage>,
    (request_id, ip): (Option<String>, IpAddr),
    owner: ChannelOwner,
    body: ReorderRequest,
) -> Result<ChannelList, Error> {
    resolve(state, auth, owner).await?;
    let Some(priorities) = body.priorities else {
        return Err(Error::invalid("priorities", "required", "give every priority once, in the new order"));
    };
    let now = roster_core::clock::now();
    let audit = actor(auth, request_id, ip).event(
        "channels.reordered",
        owner_target(owner),
        Some(owner.id()),
        json!({ "order": priorities }),
    );
    let rows = state.store().reorder_channels(owner, &priorities, &audit, now).await?;
    let data = rows.iter().map(|r| ChannelView::from_row(r, now)).collect::<Result<_, _>>()?;
    Ok(ChannelList { data })
}

#[cfg(test)]
mod tests {
    use super::parse_priorities;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn reads_both_forms_and_refuses_the_rest() {
        let set = |v: &[i64]| v.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(parse_priorities(Some("priority=3,4")).unwrap(), set(&[3, 4]));
        assert_eq!(parse_priorities(Some("priority=3&priority=4&priority=3")).unwrap(), set(&[3, 4]));
        assert_eq!(parse_priorities(Some("priority=%203%2C4")).unwrap(), set(&[3, 4]));
        for bad in [
            None,
            Some(""),
            Some("priority="),
            Some("priority=0"),
            Some("priority=-1"),
            Some("priority=x"),
            Some("p=1"),
        ] {
            assert!(parse_priorities(bad).is_err(), "{bad:?} was accepted");
        }
    }

    proptest! {
        /// Untrusted query strings never panic the parser.
        #[test]
        fn never_panics(raw in any::<String>(), tail in "[0-9,&=%a-z ]{0,40}") {
            let _ = parse_priorities(Some(&raw));
            let _ = parse_priorities(Some(&format!("priority={tail}")));
        }

        /// Any set of priorities, written either way, reads back as itself.
        #[test]
        fn round_trips(priorities in prop::collection::btree_set(1i64..=i64::MAX, 1..8)) {
            let items: Vec<String> = priorities.iter().map(i64::to_string).collect();
            let commas = format!("priority={}", items.join(","));
            let repeated = items.iter().map(|p| format!("priority={p}")).collect::<Vec<_>>().join("&");
            prop_assert_eq!(parse_priorities(Some(&commas)).unwrap(), priorities.clone());
            prop_assert_eq!(parse_priorities(Some(&repeated)).unwrap(), priorities);
        }

        /// A zero, a negative number or a non-number anywhere refuses the whole request.
        #[test]
        fn one_bad_item_refuses_all(good in prop::collection::vec(1i64..1000, 0..4), bad in "(0|-[0-9]{1,4}|[a-z]{1,4}|[1-9][0-9]{19})") {
            let mut items: Vec<String> = good.iter().map(i64::to_string).collect();
            items.push(bad);
            let query = format!("priority={}", items.join(","));
            prop_assert!(parse_priorities(Some(&query)).is_err(), "{} was accepted", query);
        }
    }
}
