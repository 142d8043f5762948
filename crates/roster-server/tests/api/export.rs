//! `GET /v1/customer/export`, and account deletion leaving no personal data.
