//! Alerts: `notify` fan-out, idempotency, reachability, quiet hours, skips.
