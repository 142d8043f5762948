//! The HTTP handlers, generated once per owner kind: `/v1/customer/{id}/…`
//! and `/v1/team/{id}/…` share every line but their paths, names and id type.

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    customer::router().merge(team::router())
}

macro_rules! owner_handlers {
    (
        mod $module:ident, $id_ty:ty, $variant:path, $who:tt,
        paths: [$one:tt, $many:tt, $verification:tt, $resend:tt, $test:tt, $enabled:tt, $order:tt, $signing:tt],
        names: [$create:ident, $list:ident, $change:ident, $update:ident, $delete:ident,
                $verify:ident, $resend_fn:ident, $test_fn:ident, $enable:ident, $reorder:ident, $rotate:ident]
    ) => {
        pub mod $module {
            use crate::http::extract::act::{ChannelManage, ChannelRead};
            use super::super::manage::{self, *};
            use super::super::verify::{self, *};
            use super::super::signing::{self, SigningSecretRotated};
            use super::super::view::CreatedChannel;
            use super::super::ChannelView;
            use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth, ClientIp, RequestId};
            use crate::http::pagination::{PageParams, Paged};
            use crate::http::problem::{ApiResult, Problem};
            use crate::state::AppState;
            use axum::extract::{RawQuery, State};
            use axum::http::StatusCode;
            use axum::Json;
            use utoipa_axum::router::OpenApiRouter;
            use utoipa_axum::routes;

            pub fn router() -> OpenApiRouter<AppState> {
                OpenApiRouter::new()
                    .routes(routes!($create, $change, $update, $delete))
                    .routes(routes!($list))
                    .routes(routes!($verify))
                    .routes(routes!($resend_fn))
                    .routes(routes!($test_fn))
                    .routes(routes!($enable))
                    .routes(routes!($reorder))
                    .routes(routes!($rotate))
            }

            /// Add a notification channel; it is sent a verification code and gets the next priority.
            /// A webhook's answer carries its signing secret, shown this once.
            #[utoipa::path(
                post, path = $one, tag = "channels",
                security(("bearer" = [])),
                params(("id" = String, Path, format = Uuid, description = $who)),
                request_body = CreateChannelRequest,
                responses(
                    (status = 201, body = CreatedChannel),
                    (status = 400, body = Problem, content_type = "application/problem+json"),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json", description = "Not allowed to manage these channels, or the plan's channel limit is reached"),
                    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such owner in your organization"),
                    (status = 409, body = Problem, content_type = "application/problem+json", description = "A channel of this type with this value exists"),
                    (status = 415, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json", description = "Unknown type, invalid value, mute or webhook"),
                )
            )]
            pub async fn $create(
                State(state): State<AppState>,
                auth: Auth<ChannelManage>,
                RequestId(request_id): RequestId,
                ClientIp(ip): ClientIp,
                ApiPath(id): ApiPath<$id_ty>,
                ApiJson(body): ApiJson<CreateChannelRequest>,
            ) -> ApiResult<(StatusCode, Json<CreatedChannel>)> {
                let view = manage::create(&state, &auth, (request_id, ip), $variant(id), body).await?;
                Ok((StatusCode::CREATED, Json(view)))
            }

            /// List the notification channels by priority, optionally of some types only.
            #[utoipa::path(
                get, path = $many, tag = "channels",
                security(("bearer" = [])),
                params(("id" = String, Path, format = Uuid, description = $who), PageParams, TypeParams),
                responses(
                    (status = 200, body = Paged<ChannelView>),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json", description = "Not allowed to read these channels"),
                    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such owner in your organization"),
                    (status = 422, body = Problem, content_type = "application/problem+json", description = "Unknown type in a filter, or paging out of range"),
                )
            )]
            pub async fn $list(
                State(state): State<AppState>,
                auth: Auth<ChannelRead>,
                ApiPath(id): ApiPath<$id_ty>,
                ApiQuery(page): ApiQuery<PageParams>,
                ApiQuery(types): ApiQuery<TypeParams>,
            ) -> ApiResult<Json<Paged<ChannelView>>> {
                Ok(Json(manage::list(&state, &auth, $variant(id), page, types).await?))
            }

            /// Change a channel's value; a verified channel keeps its old value until the new one is verified.
            #[utoipa::path(
                put, path = $one, tag = "channels",
                security(("bearer" = [])),
                params(("id" = String, Path, format = Uuid, description = $who)),
                request_body = ChangeValueRequest,
                responses(
                    (status = 200, body = ChannelView),
                    (status = 400, body = Problem, content_type = "application/problem+json"),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json", description = "Not allowed to manage these channels"),
                    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such owner, or no channel of that priority"),
                    (status = 409, body = Problem, content_type = "application/problem+json", description = "Another channel has this value"),
                    (status = 415, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid or unchanged value"),
                )
            )]
            pub async fn $change(
                State(state): State<AppState>,
                auth: Auth<ChannelManage>,
                RequestId(request_id): RequestId,
                ClientIp(ip): ClientIp,
                ApiPath(id): ApiPath<$id_ty>,
                ApiJson(body): ApiJson<ChangeValueRequest>,
            ) -> ApiResult<Json<ChannelView>> {
                Ok(Json(manage::change_value(&state, &auth, (request_id, ip), $variant(id), body).await?))
            }

            /// Change a channel's suppression, mute, quiet-hours bypass, webhook configuration or fallback channel.
            #[utoipa::path(
                patch, path = $one, tag = "channels",
                security(("bearer" = [])),
                params(("id" = String, Path, format = Uuid, description = $who)),
                request_body = UpdateChannelRequest,
                responses(
                    (status = 200, body = ChannelView),
                    (status = 400, body = Problem, content_type = "application/problem+json"),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json", description = "Not allowed to manage these channels"),
                    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such owner, or no channel of that priority"),
                    (status = 415, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json", description = "Nothing to change, a mute in the past, an invalid webhook configuration, or a fallback that is not another channel of the owner"),
                )
            )]
            pub async fn $update(
                State(state): State<AppState>,
                auth: Auth<ChannelManage>,
                RequestId(request_id): RequestId,
                ClientIp(ip): ClientIp,
                ApiPath(id): ApiPath<$id_ty>,
                ApiJson(body): ApiJson<UpdateChannelRequest>,
            ) -> ApiResult<Json<ChannelView>> {
                Ok(Json(manage::update(&state, &auth, (request_id, ip), $variant(id), body).await?))
            }

            /// Delete channels by priority (`priority=3,4`): all of them, or none when one is unknown.
            #[utoipa::path(
                delete, path = $one, tag = "channels",
                security(("bearer" = [])),
                params(
                    ("id" = String, Path, format = Uuid, description = $who),
                    ("priority" = String, Query, description = "Comma-separated priorities; may repeat", example = "3,4"),
                ),
                responses(
                    (status = 200, body = Deleted),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json", description = "Not allowed to manage these channels"),
                    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such owner, or a priority without a channel (nothing deleted)"),
                    (status = 422, body = Problem, content_type = "application/problem+json", description = "No priorities, or one that is not a positive integer"),
                )
            )]
            pub async fn $delete(
                State(state): State<AppState>,
                auth: Auth<ChannelManage>,
                RequestId(request_id): RequestId,
                ClientIp(ip): ClientIp,
                ApiPath(id): ApiPath<$id_ty>,
                RawQuery(query): RawQuery,
            ) -> ApiResult<Json<Deleted>> {
                Ok(Json(manage::delete(&state, &auth, (request_id, ip), $variant(id), query).await?))
            }

            /// Verify a channel (or its pending new value) with the code it received.
            #[utoipa::path(
                patch, path = $verification, tag = "channels",
                security(("bearer" = [])),
                params(("id" = String, Path, format = Uuid, description = $who)),
                request_body = VerifyChannelRequest,
                responses(
                    (status = 200, body = ChannelView),
                    (status = 400, body = Problem, content_type = "application/problem+json"),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json", description = "Not allowed to manage these channels"),
                    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such owner, or no channel of that priority"),
                    (status = 409, body = Problem, content_type = "application/problem+json", description = "Already verified, or no code pending"),
                    (status = 415, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json", description = "Malformed, wrong or expired code, or too many attempts"),
                )
            )]
            pub async fn $verify(
                State(state): State<AppState>,
                auth: Auth<ChannelManage>,
                RequestId(request_id): RequestId,
                ClientIp(ip): ClientIp,
                ApiPath(id): ApiPath<$id_ty>,
                ApiJson(body): ApiJson<VerifyChannelRequest>,
            ) -> ApiResult<Json<ChannelView>> {
                Ok(Json(verify::verify(&state, &auth, (request_id, ip), $variant(id), body).await?))
            }

            /// Send a new verification code through an unverified channel (or to its pending value).
            #[utoipa::path(
                post, path = $resend, tag = "channels",
                security(("bearer" = [])),
                params(("id" = String, Path, format = Uuid, description = $who)),
                request_body = PriorityRequest,
                responses(
                    (status = 202, body = CodeSent),
                    (status = 400, body = Problem, content_type = "application/problem+json"),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json", description = "Not allowed to manage these channels"),
                    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such owner, or no channel of that priority"),
                    (status = 409, body = Problem, content_type = "application/problem+json", description = "The channel is verified and has no pending value"),
                    (status = 415, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json", description = "Missing or invalid priority"),
                    (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many codes sent to this channel this hour"),
                )
            )]
            pub async fn $resend_fn(
                State(state): State<AppState>,
                auth: Auth<ChannelManage>,
                RequestId(request_id): RequestId,
                ClientIp(ip): ClientIp,
                ApiPath(id): ApiPath<$id_ty>,
                ApiJson(body): ApiJson<PriorityRequest>,
            ) -> ApiResult<(StatusCode, Json<CodeSent>)> {
                let sent = verify::resend(&state, &auth, (request_id, ip), $variant(id), body).await?;
                Ok((StatusCode::ACCEPTED, Json(sent)))
            }

            /// Send a clearly marked test message through a verified, enabled channel.
            #[utoipa::path(
                post, path = $test, tag = "channels",
                security(("bearer" = [])),
                params(("id" = String, Path, format = Uuid, description = $who)),
                request_body = PriorityRequest,
                responses(
                    (status = 202, body = TestQueued),
                    (status = 400, body = Problem, content_type = "application/problem+json"),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json", description = "Not allowed to manage these channels"),
                    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such owner, or no channel of that priority"),
                    (status = 409, body = Problem, content_type = "application/problem+json", description = "The channel is not verified, disabled or muted"),
                    (status = 415, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json", description = "Missing or invalid priority"),
                    (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many tests of this channel this hour"),
                )
            )]
            pub async fn $test_fn(
                State(state): State<AppState>,
                auth: Auth<ChannelManage>,
                RequestId(request_id): RequestId,
                ClientIp(ip): ClientIp,
                ApiPath(id): ApiPath<$id_ty>,
                ApiJson(body): ApiJson<PriorityRequest>,
            ) -> ApiResult<(StatusCode, Json<TestQueued>)> {
                let queued = verify::test(&state, &auth, (request_id, ip), $variant(id), body).await?;
                Ok((StatusCode::ACCEPTED, Json(queued)))
            }

            /// Switch a channel on or off; a disabled channel receives nothing but its own codes.
            /// Switching it on also clears a disable by the system (`disabled_by_system`).
            #[utoipa::path(
                put, path = $enabled, tag = "channels",
                security(("bearer" = [])),
                params(("id" = String, Path, format = Uuid, description = $who)),
                request_body = EnableChannelRequest,
                responses(
                    (status = 200, body = ChannelView),
                    (status = 400, body = Problem, content_type = "application/problem+json"),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json", description = "Not allowed to manage these channels"),
                    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such owner, or no channel of that priority"),
                    (status = 415, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json", description = "Missing priority or enabled"),
                )
            )]
            pub async fn $enable(
                State(state): State<AppState>,
                auth: Auth<ChannelManage>,
                RequestId(request_id): RequestId,
                ClientIp(ip): ClientIp,
                ApiPath(id): ApiPath<$id_ty>,
                ApiJson(body): ApiJson<EnableChannelRequest>,
            ) -> ApiResult<Json<ChannelView>> {
                Ok(Json(manage::set_enabled(&state, &auth, (request_id, ip), $variant(id), body).await?))
            }

            /// Reorder the channels: give every current priority once; they become 1..n in that order.
            #[utoipa::path(
                put, path = $order, tag = "channels",
                security(("bearer" = [])),
                params(("id" = String, Path, format = Uuid, description = $who)),
                request_body = ReorderRequest,
                responses(
                    (status = 200, body = ChannelList),
                    (status = 400, body = Problem, content_type = "application/problem+json"),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json", description = "Not allowed to manage these channels"),
                    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such owner in your organization"),
                    (status = 415, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json", description = "Not a permutation of the current priorities"),
                )
            )]
            pub async fn $reorder(
                State(state): State<AppState>,
                auth: Auth<ChannelManage>,
                RequestId(request_id): RequestId,
                ClientIp(ip): ClientIp,
                ApiPath(id): ApiPath<$id_ty>,
                ApiJson(body): ApiJson<ReorderRequest>,
            ) -> ApiResult<Json<ChannelList>> {
                Ok(Json(manage::reorder(&state, &auth, (request_id, ip), $variant(id), body).await?))
            }

            /// Give a webhook channel a new signing secret, shown this once; the old one keeps
            /// signing beside it until `previous_secret_expires_at`.
            #[utoipa::path(
                post, path = $signing, tag = "channels",
                security(("bearer" = [])),
                params(("id" = String, Path, format = Uuid, description = $who)),
                request_body = PriorityRequest,
                responses(
                    (status = 200, body = SigningSecretRotated),
                    (status = 400, body = Problem, content_type = "application/problem+json"),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json", description = "Not allowed to manage these channels"),
                    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such owner, or no channel of that priority"),
                    (status = 415, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json", description = "Missing priority, or not a webhook channel"),
                )
            )]
            pub async fn $rotate(
                State(state): State<AppState>,
                auth: Auth<ChannelManage>,
                RequestId(request_id): RequestId,
                ClientIp(ip): ClientIp,
                ApiPath(id): ApiPath<$id_ty>,
                ApiJson(body): ApiJson<PriorityRequest>,
            ) -> ApiResult<Json<SigningSecretRotated>> {
                Ok(Json(signing::rotate(&state, &auth, (request_id, ip), $variant(id), body).await?))
            }
        }
    };
}

owner_handlers! {
    mod customer, roster_core::ids::CustomerId, roster_store::channels::ChannelOwner::Customer, "The customer's id",
    paths: [
        "/v1/customer/{id}/notification-channel",
        "/v1/customer/{id}/notification-channels",
        "/v1/customer/{id}/notification-channel/verification",
        "/v1/customer/{id}/notification-channel/verification/resend",
        "/v1/customer/{id}/notification-channel/test",
        "/v1/customer/{id}/notification-channel/enabled",
        "/v1/customer/{id}/notification-channels/order",
        "/v1/customer/{id}/notification-channel/signing-secret"
    ],
    names: [
        create_customer_channel, list_customer_channels, change_customer_channel_value, update_customer_channel,
        delete_customer_channels, verify_customer_channel, resend_customer_channel_code, test_customer_channel,
        enable_customer_channel, reorder_customer_channels, rotate_customer_channel_signing_secret
    ]
}

owner_handlers! {
    mod team, roster_core::ids::TeamId, roster_store::channels::ChannelOwner::Team, "The team's id",
    paths: [
        "/v1/team/{id}/notification-channel",
        "/v1/team/{id}/notification-channels",
        "/v1/team/{id}/notification-channel/verification",
        "/v1/team/{id}/notification-channel/verification/resend",
        "/v1/team/{id}/notification-channel/test",
        "/v1/team/{id}/notification-channel/enabled",
        "/v1/team/{id}/notification-channels/order",
        "/v1/team/{id}/notification-channel/signing-secret"
    ],
    names: [
        create_team_channel, list_team_channels, change_team_channel_value, update_team_channel,
        delete_team_channels, verify_team_channel, resend_team_channel_code, test_team_channel,
        enable_team_channel, reorder_team_channels, rotate_team_channel_signing_secret
    ]
}
