//! `POST /v1/team/{id}/notify`, `POST /v1/customer/{id}/notify` and
//! `GET /v1/{team,customer}/{id}/reachability`: alerts fanned out to channels.
//!
//! A notify call judges every channel of the owner (and, for a team when
//! asked, its members' personal channels), records the alert with one
//! delivery per channel (queued, held for quiet hours, or skipped with the
//! reason) in one transaction, and answers 202 with the delivery ids. When no
//! channel would hear of it, the answer is a 409 `UNREACHABLE` problem, never
//! a quiet success. An idempotency key replays the first answer for 24 hours.

use crate::app::alerts::{event_label, plan, transport_of, ChannelRef, Verdict};
use crate::app::rate_limit;
use crate::http::extract::act::{AlertSend, ChannelRead};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth, ClientIp, RequestId};
use crate::http::problem::{ApiResult, Problem};
use crate::http::routes::customer::actor;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_core::alert::{SkipReason, Urgency};
use roster_core::channel::Event;
use roster_core::ids::{CustomerId, ServiceId, TeamId};
use roster_core::policy;
use roster_core::validation::{bounded_text, FieldErrors};
use roster_core::Error;
use roster_store::alerts::{AlertAudience, NewAlert, NewDelivery, Recorded};
use roster_store::channels::ChannelOwner;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::IpAddr;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(notify_team))
        .routes(routes!(notify_customer))
        .routes(routes!(team_reachability))
        .routes(routes!(customer_reachability))
}

const MAX_TITLE: usize = 200;
const MAX_MESSAGE: usize = 4000;
const MAX_KEY: usize = 255;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyRequest {
    /// `down`, `up`, `first` (a new check's first result) or `diagnostic`.
    #[schema(example = "down")]
    pub event: Option<String>,
    /// `high` goes out at once; `low` waits out people's quiet hours. Defaults to `high` for `down`, `low` otherwise.
    #[schema(example = "high")]
    pub urgency: Option<String>,
    /// The service the event is about; one of the organization's.
    pub service_id: Option<Uuid>,
    /// One line, up to 200 characters.
    #[schema(example = "checkout.example.com is down")]
    pub title: Option<String>,
    /// Details, up to 4000 characters.
    #[schema(example = "HTTP 503 from 3 of 3 locations")]
    pub message: Option<String>,
    /// The same key within 24 hours answers the first call's answer and sends nothing again.
    #[schema(example = "check-42-down-2026-11-22T03:00:00Z")]
    pub idempotency_key: Option<String>,
    /// Teams only: also alert the team's members through their personal channels.
    pub include_members: Option<bool>,
}

/// A delivery an alert queued.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertDelivery {
    pub delivery_id: Uuid,
    pub channel: ChannelRef,
    /// `queued` (sent now) or `held` (waiting for the owner's quiet hours to end).
    #[schema(example = "queued")]
    pub status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub held_until: Option<OffsetDateTime>,
}

/// A channel an alert did not go to, and why; recorded as a skipped delivery.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertSkip {
    pub delivery_id: Uuid,
    pub channel: ChannelRef,
    pub reason: SkipReason,
}

/// The answer to a notify call that reached someone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertAccepted {
    pub alert_id: Uuid,
    /// Always `queued` here; an alert nobody would hear of is a 409 `UNREACHABLE`.
    #[schema(example = "queued")]
    pub status: String,
    pub event: Event,
    pub urgency: Urgency,
    pub service_id: Option<Uuid>,
    /// How many channels will hear of it (now or after quiet hours).
    pub reached: usize,
    /// How many of those wait for quiet hours to end.
    pub held: usize,
    /// In priority order: the owner's channels, then members' personal channels.
    pub deliveries: Vec<AlertDelivery>,
    pub skipped: Vec<AlertSkip>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The 409 answer when no channel would hear of an alert: a problem with the alert's id and the skipped channels.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UnreachableProblem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Always `UNREACHABLE`.
    #[schema(example = "UNREACHABLE")]
    pub code: String,
    pub alert_id: Uuid,
    pub skipped: Vec<AlertSkip>,
}

/// Raise an alert for a team: every channel that should hear of it is sent it, in priority order.
#[utoipa::path(
    post, path = "/v1/team/{id}/notify", tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The team's id")),
    request_body = NotifyRequest,
    responses(
        (status = 202, body = AlertAccepted, description = "Queued; the header `Idempotent-Replayed: true` marks a replayed answer"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `notify`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team in your organization"),
        (status = 409, body = UnreachableProblem, content_type = "application/problem+json", description = "`UNREACHABLE`: no channel would hear of it"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid fields, an unknown service, or an idempotency key reused for a different request"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many notify calls for the organization"),
    )
)]
pub async fn notify_team(
    State(state): State<AppState>,
    auth: Auth<AlertSend>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<TeamId>,
    ApiJson(body): ApiJson<NotifyRequest>,
) -> ApiResult<Response> {
    Ok(notify(&state, &auth, (request_id, ip), ChannelOwner::Team(id), body).await?)
}

/// Raise an alert for a person: their own personal channels, in priority order.
#[utoipa::path(
    post, path = "/v1/customer/{id}/notify", tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The customer's id")),
    request_body = NotifyRequest,
    responses(
        (status = 202, body = AlertAccepted, description = "Queued; the header `Idempotent-Replayed: true` marks a replayed answer"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `notify`, or alerts someone else below manager"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such customer in your organization"),
        (status = 409, body = UnreachableProblem, content_type = "application/problem+json", description = "`UNREACHABLE`: no channel would hear of it"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid fields, an unknown service, or an idempotency key reused for a different request"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many notify calls for the organization"),
    )
)]
pub async fn notify_customer(
    State(state): State<AppState>,
    auth: Auth<AlertSend>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CustomerId>,
    ApiJson(body): ApiJson<NotifyRequest>,
) -> ApiResult<Response> {
    if !policy::can_alert_customer(auth.role, id == auth.customer_id) {
        // Someone outside the organization is a 404, decided by the audience lookup below.
        if state.store().customer(auth.organization_id, id).await?.is_some() {
            return Err(Error::Forbidden("only managers, admins and owners alert other people".into()).into());
        }
    }
    Ok(notify(&state, &auth, (request_id, ip), ChannelOwner::Customer(id), body).await?)
}

/// A checked notify request.
struct Checked {
    event: Event,
    urgency: Urgency,
    service: Option<(ServiceId, String)>,
    title: String,
    message: String,
    idempotency_key: Option<String>,
    include_members: bool,
}

async fn check(
    state: &AppState,
    auth: &Auth<AlertSend>,
    owner: ChannelOwner,
    body: NotifyRequest,
) -> Result<Checked, Error> {
    let mut errors = FieldErrors::default();
    let event = match body.event.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push("event", "required", "must be one of down, up, first, diagnostic");
            None
        }
        Some(raw) => {
            let found = Event::ALL.into_iter().find(|e| e.as_str() == raw);
            if found.is_none() {
                errors.push("event", "invalid_event", format!("`{raw}` is not down, up, first or diagnostic"));
            }
            found
        }
    };
    let urgency = match body.urgency.as_deref().map(str::trim) {
        None => None,
        Some(raw) => {
            let u = Urgency::parse(raw);
            if u.is_none() {
                errors.push("urgency", "invalid_urgency", format!("`{raw}` is not high or low"));
            }
            u
        }
    };
    let title = errors.check("title", bounded_text(body.title.as_deref().unwrap_or(""), 1, MAX_TITLE));
    let message = errors.check("message", bounded_text(body.message.as_deref().unwrap_or(""), 0, MAX_MESSAGE));
    let idempotency_key = match body.idempotency_key.as_deref() {
        None => None,
        Some(k) if k.is_empty() || k.len() > MAX_KEY || !k.chars().all(|c| c.is_ascii_graphic()) => {
            errors.push(
                "idempotency_key",
                "invalid_idempotency_key",
                format!("must be 1 to {MAX_KEY} printable ASCII characters without spaces"),
            );
            None
        }
        Some(k) => Some(k.to_owned()),
    };
    if body.include_members.is_some() && owner.customer().is_some() {
        errors.push("include_members", "not_applicable", "only a team has members to include");
    }
    let service = match body.service_id {
        None => None,
        Some(id) => {
            let id = ServiceId(id);
            match state.store().service_name(auth.organization_id, id).await? {
                Some(name) => Some((id, name)),
                None => {
                    errors.push("service_id", "unknown_service", "no such service in your organization");
                    None
                }
            }
        }
    };
    errors.finish()?;
    let (Some(event), Some(title), Some(message)) = (event, title, message) else {
        return Err(Error::internal("validated fields missing"));
    };
    Ok(Checked {
        event,
        urgency: urgency.unwrap_or(Urgency::default_for(event)),
        service,
        title,
        message,
        idempotency_key,
        include_members: body.include_members.unwrap_or(false),
    })
}

async fn notify(
    state: &AppState,
    auth: &Auth<AlertSend>,
    (request_id, ip): (Option<String>, IpAddr),
    owner: ChannelOwner,
    body: NotifyRequest,
) -> Result<Response, Error> {
    let req = check(state, auth, owner, body).await?;
    let audience = audience(state, auth.organization_id, owner, req.include_members).await?;
    rate_limit::hit(
        state,
        &format!("notify:{}", auth.organization_id),
        state.config().notify_per_minute,
        time::Duration::MINUTE,
    )
    .await?;

    let now = roster_core::clock::now();
    let alert_id = Uuid::now_v7();
    let raised_at = now.format(&Rfc3339).map_err(Error::internal)?;
    let team_name = owner.team().map(|_| audience.name.clone()).unwrap_or_default();
    // PagerDuty pairs a trigger with its resolve by this key: per service when there is one.
    let dedup_key = match &req.service {
        Some((id, _)) => format!("roster-service-{id}"),
        None => format!("roster-{}", owner.id()),
    };
    let (mut deliveries, mut accepted, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for p in plan(&audience, req.event, req.urgency, now) {
        let delivery_id = Uuid::now_v7();
        let c = p.candidate;
        let (held_until, skip_reason) = match p.verdict {
            Verdict::Send => (None, None),
            Verdict::Hold(until) => (Some(until), None),
            Verdict::Skip(reason) => (None, Some(reason)),
        };
        deliveries.push(NewDelivery {
            id: delivery_id,
            channel_id: c.id,
            customer_id: c.customer_id,
            transport: transport_of(c)?,
            recipient: c.value.clone(),
            data: json!({
                "event": req.event,
                "event_label": event_label(req.event),
                "urgency": req.urgency,
                "title": req.title,
                "message": req.message,
                "service_id": req.service.as_ref().map(|(id, _)| id.0),
                "service_name": req.service.as_ref().map(|(_, name)| name.as_str()).unwrap_or_default(),
                "team_name": team_name,
                "owner_name": c.owner_name,
                "raised_at": raised_at,
                "alert_id": alert_id,
                "channel_id": c.id,
                "dedup_key": dedup_key,
                "webhook": c.webhook_config.as_ref().map(|j| &j.0),
            }),
            held_until,
            skip_reason: skip_reason.map(SkipReason::as_str),
        });
        match skip_reason {
            Some(reason) => skipped.push(AlertSkip { delivery_id, channel: p.channel, reason }),
            None => accepted.push(AlertDelivery {
                delivery_id,
                channel: p.channel,
                status: if held_until.is_some() { "held" } else { "queued" }.to_owned(),
                held_until,
            }),
        }
    }

    let reached = accepted.len();
    let (status, response) = if reached == 0 {
        let detail = match skipped.len() {
            0 => format!("{} has no notification channels: nobody would hear of this alert", audience.name),
            n => format!("none of the {n} channels of {} would hear of this alert; see `skipped`", audience.name),
        };
        let body = UnreachableProblem {
            kind: "about:blank".into(),
            title: "Conflict".into(),
            status: 409,
            detail,
            code: "UNREACHABLE".into(),
            alert_id,
            skipped,
        };
        ("unreachable", serde_json::to_value(body).map_err(Error::internal)?)
    } else {
        let held = accepted.iter().filter(|d| d.held_until.is_some()).count();
        let body = AlertAccepted {
            alert_id,
            status: "queued".into(),
            event: req.event,
            urgency: req.urgency,
            service_id: req.service.as_ref().map(|(id, _)| id.0),
            reached,
            held,
            deliveries: accepted,
            skipped,
            created_at: now,
        };
        ("queued", serde_json::to_value(body).map_err(Error::internal)?)
    };

    let digest = request_digest(state, owner, &req);
    let audit = actor(auth, request_id, ip).event(
        "alert.raised",
        "alert",
        Some(alert_id),
        json!({
            "owner_type": if owner.team().is_some() { "team" } else { "customer" },
            "owner_id": owner.id(),
            "event": req.event,
            "urgency": req.urgency,
            "status": status,
            "reached": reached,
        }),
    );
    let alert = NewAlert {
        id: alert_id,
        organization_id: auth.organization_id,
        owner,
        event: req.event.as_str(),
        urgency: req.urgency.as_str(),
        service_id: req.service.as_ref().map(|(id, _)| *id),
        title: req.title,
        message: req.message,
        idempotency_key: req.idempotency_key,
        request_digest: digest,
        status,
        response,
        created_by: Some(auth.customer_id.0),
        deliveries,
        audit,
        now,
    };
    match state.store().record_alert(&alert).await? {
        Recorded::New => {
            if reached > 0 {
                state.message_queued();
            }
            Ok(answer(status, alert.response, false))
        }
        Recorded::Replayed { status, response } => Ok(answer(&status, response, true)),
        Recorded::KeyReused => Err(Error::invalid(
            "idempotency_key",
            "idempotency_key_reused",
            "this key was used in the last 24 hours for a different request; use a new key",
        )),
    }
}

async fn audience(
    state: &AppState,
    org: roster_core::ids::OrganizationId,
    owner: ChannelOwner,
    include_members: bool,
) -> Result<AlertAudience, Error> {
    let what = if owner.team().is_some() { "team" } else { "customer" };
    state.store().alert_audience(org, owner, include_members).await?.ok_or(Error::NotFound(what))
}

/// The response for a stored status and body.
fn answer(status: &str, body: serde_json::Value, replayed: bool) -> Response {
    let (code, content_type) = match status {
        "unreachable" => (StatusCode::CONFLICT, "application/problem+json"),
        _ => (StatusCode::ACCEPTED, "application/json"),
    };
    let mut res = (code, Json(body)).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if replayed {
        res.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    res
}

/// A keyed digest of what the request asks, so a key reused for another request is told apart from a retry.
fn request_digest(state: &AppState, owner: ChannelOwner, r: &Checked) -> String {
    let canonical = json!([
        owner.id(),
        r.event,
        r.urgency,
        r.service.as_ref().map(|(id, _)| id.0),
        r.title,
        r.message,
        r.include_members,
    ]);
    state.key().hash("alert-request", &[canonical.to_string().as_bytes()]).iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReachabilityParams {
    /// Teams only: include the members' personal channels, as `notify` with `include_members` would.
    pub include_members: Option<bool>,
}

/// One channel's verdict for one event.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelVerdict {
    pub channel: ChannelRef,
    /// `reached` (sent at once), `held` (after quiet hours) or `skipped`.
    #[schema(example = "reached")]
    pub status: String,
    pub reason: Option<SkipReason>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub held_until: Option<OffsetDateTime>,
}

/// Who would hear of one event now.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventReach {
    pub event: Event,
    /// The urgency `notify` uses for this event unless told otherwise.
    pub urgency: Urgency,
    /// Whether at least one channel would hear of it: `false` means `notify` would answer `UNREACHABLE`.
    pub reachable: bool,
    pub reached: usize,
    pub channels: Vec<ChannelVerdict>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reachability {
    pub owner_id: Uuid,
    pub include_members: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub evaluated_at: OffsetDateTime,
    /// One entry per event: down, up, first, diagnostic.
    pub events: Vec<EventReach>,
}

/// Who a team's alert would reach right now, for each event, and why each other channel would be skipped.
#[utoipa::path(
    get, path = "/v1/team/{id}/reachability", tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The team's id"), ReachabilityParams),
    responses(
        (status = 200, body = Reachability),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `channels:read`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team in your organization"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid id or parameter"),
    )
)]
pub async fn team_reachability(
    State(state): State<AppState>,
    auth: Auth<ChannelRead>,
    ApiPath(id): ApiPath<TeamId>,
    ApiQuery(params): ApiQuery<ReachabilityParams>,
) -> ApiResult<Json<Reachability>> {
    // No values are shown, only types and priorities: anyone who sees the team may ask.
    let include = params.include_members.unwrap_or(false);
    Ok(Json(reachability(&state, &auth, ChannelOwner::Team(id), include).await?))
}

/// Who a person's alert would reach right now, for each event.
#[utoipa::path(
    get, path = "/v1/customer/{id}/reachability", tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The customer's id"), ReachabilityParams),
    responses(
        (status = 200, body = Reachability),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `channels:read`, or asks about someone else below admin"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such customer in your organization"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid id, or `include_members` (teams only)"),
    )
)]
pub async fn customer_reachability(
    State(state): State<AppState>,
    auth: Auth<ChannelRead>,
    ApiPath(id): ApiPath<CustomerId>,
    ApiQuery(params): ApiQuery<ReachabilityParams>,
) -> ApiResult<Json<Reachability>> {
    if params.include_members.is_some() {
        return Err(Error::invalid("include_members", "not_applicable", "only a team has members to include").into());
    }
    let owner = ChannelOwner::Customer(id);
    if !policy::can_read_personal_channels(auth.role, id == auth.customer_id)
        && state.store().customer(auth.organization_id, id).await?.is_some()
    {
        return Err(Error::Forbidden("only admins and owners read other people's channels".into()).into());
    }
    Ok(Json(reachability(&state, &auth, owner, false).await?))
}

async fn reachability(
    state: &AppState,
    auth: &Auth<ChannelRead>,
    owner: ChannelOwner,
    include_members: bool,
) -> Result<Reachability, Error> {
    let audience = audience(state, auth.organization_id, owner, include_members).await?;
    let now = roster_core::clock::now();
    let events = Event::ALL
        .into_iter()
        .map(|event| {
            let urgency = Urgency::default_for(event);
            let channels: Vec<ChannelVerdict> = plan(&audience, event, urgency, now)
                .into_iter()
                .map(|p| {
                    let (status, reason, held_until) = match p.verdict {
                        Verdict::Send => ("reached", None, None),
                        Verdict::Hold(until) => ("held", None, Some(until)),
                        Verdict::Skip(reason) => ("skipped", Some(reason), None),
                    };
                    ChannelVerdict { channel: p.channel, status: status.to_owned(), reason, held_until }
                })
                .collect();
            let reached = channels.iter().filter(|c| c.reason.is_none()).count();
            EventReach { event, urgency, reachable: reached > 0, reached, channels }
        })
        .collect();
    Ok(Reachability { owner_id: owner.id(), include_members, evaluated_at: now, events })
}
