//! Building audit records from a request's context.

use roster_core::ids::{AuditEventId, CustomerId, OrganizationId};
use roster_store::NewAuditEvent;

/// Who acted, and from where: attached to every audit record of a request.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub organization_id: Option<OrganizationId>,
    pub customer_id: Option<CustomerId>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
}

impl Actor {
    /// A request's actor: the organization and customer acting (when known) and where the request came from.
    pub fn new(
        organization_id: OrganizationId,
        customer_id: Option<CustomerId>,
        request_id: Option<String>,
        ip: std::net::IpAddr,
    ) -> Actor {
        Actor { organization_id: Some(organization_id), customer_id, request_id, ip: Some(ip.to_string()) }
    }

    /// An audit record of `action` on a target, with details that hold no personal data.
    pub fn event(
        &self,
        action: &'static str,
        target_type: &'static str,
        target_id: Option<uuid::Uuid>,
        data: serde_json::Value,
    ) -> NewAuditEvent {
        NewAuditEvent {
            id: AuditEventId::new(),
            organization_id: self.organization_id,
            actor_id: self.customer_id,
            action,
            target_type,
            target_id,
            data,
            request_id: self.request_id.clone(),
            ip: self.ip.clone(),
            at: roster_core::clock::now(),
        }
    }
}
