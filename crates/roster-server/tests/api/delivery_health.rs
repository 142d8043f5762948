//! Channel health: `disabled_by_system`, owner notice, per-kind caps, quotas, fallback.
