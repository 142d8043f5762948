//! Everything Roster holds about one customer, for `GET /v1/customer/export`.
