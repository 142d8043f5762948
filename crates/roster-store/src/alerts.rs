//! Alerts: a notify call, its fan-out to channels as outbox messages, and its idempotency key.
