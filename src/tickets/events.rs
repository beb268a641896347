//! The domain events (SPEC §5 Webhooks): what the outbox records, webhooks deliver, the CRM
//! sync and the live console react to. One enum names them, so a misspelt event is a compile
//! error and the webhook catalog is the list below.

use serde::{Serialize, Serializer};

macro_rules! events {
    ($($(#[$doc:meta])* $variant:ident = $name:literal),* $(,)?) => {
        /// A domain event's kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum DomainEvent { $($(#[$doc])* $variant),* }

        impl DomainEvent {
            /// Every event, in catalog order.
            pub const ALL: &'static [DomainEvent] = &[$(DomainEvent::$variant),*];

            /// The event's name on the wire (`ticket.created`).
            #[must_use]
            pub fn name(self) -> &'static str {
                match self { $(DomainEvent::$variant => $name),* }
            }
        }
    };
}

events! {
    TicketCreated = "ticket.created",
    TicketUpdated = "ticket.updated",
    TicketStatusChanged = "ticket.status_changed",
    TicketResolved = "ticket.resolved",
    TicketClosed = "ticket.closed",
    TicketReopened = "ticket.reopened",
    TicketCommentAdded = "ticket.comment.added",
    TicketAssigned = "ticket.assigned",
    TicketMerged = "ticket.merged",
    TicketEscalated = "ticket.escalated",
    TicketSlaAtRisk = "ticket.sla.at_risk",
    TicketSlaBreached = "ticket.sla.breached",
    TicketSatisfactionReceived = "ticket.satisfaction.received",
    /// A rule's `webhook` action (delivered to the rule's own URL).
    AutomationWebhook = "automation.webhook",
    /// A soft delete: in the outbox for the live console, not offered to webhooks.
    TicketDeleted = "ticket.deleted",
}

impl DomainEvent {
    /// The event of this name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.name() == name)
    }

    /// Whether webhooks may subscribe to it.
    #[must_use]
    pub fn subscribable(self) -> bool {
        self != DomainEvent::TicketDeleted
    }

    /// The webhook catalog: the events a subscription may name, in order.
    pub fn catalog() -> impl Iterator<Item = DomainEvent> {
        Self::ALL.iter().copied().filter(|e| e.subscribable())
    }
}

impl std::fmt::Display for DomainEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for DomainEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_catalog_leaves_out_deletes() {
        for e in DomainEvent::ALL {
            assert_eq!(DomainEvent::parse(e.name()), Some(*e));
        }
        assert_eq!(DomainEvent::parse("ticket.create"), None);
        let catalog: Vec<&str> = DomainEvent::catalog().map(DomainEvent::name).collect();
        assert_eq!(catalog.len(), DomainEvent::ALL.len() - 1);
        assert_eq!(catalog.first(), Some(&"ticket.created"));
        assert!(!catalog.contains(&"ticket.deleted"));
        assert!(catalog.contains(&"automation.webhook"));
    }
}
