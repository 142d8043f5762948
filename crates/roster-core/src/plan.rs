//! Plans and the limits they set.

use serde::{Deserialize, Serialize};

/// What an organization on a plan may have at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLimits {
    pub teams: u32,
    pub members: u32,
    pub services: u32,
    /// Notification channels per owner (a customer or a team).
    pub channels_per_owner: u32,
}

/// Current usage beside the limits, as reported to customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub teams: u32,
    pub members: u32,
    pub services: u32,
}
