//! `GET /v1/audit-events`.
