//! The URLs of the API's own routes, spelt in one place at the edge. The domain names what a
//! link points to (an attachment, a ticket); this module says where that lives.

use serde::{Serialize, Serializer};

use crate::ids::TicketId;
use crate::tickets::model::AttachmentLink;

/// `/api/tickets/{id}`: the `Location` of a new ticket.
#[must_use]
pub fn ticket(id: TicketId) -> String {
    format!("/api/tickets/{id}")
}

impl std::fmt::Display for AttachmentLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttachmentLink::Staff(id) => write!(f, "/api/attachments/{id}"),
            AttachmentLink::Public(ticket, id) => {
                write!(f, "/api/public/tickets/{ticket}/attachments/{id}")
            }
        }
    }
}

impl Serialize for AttachmentLink {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_spell_the_routes() {
        let id = uuid::Uuid::nil();
        let t = TicketId(uuid::Uuid::from_u128(1));
        assert_eq!(
            AttachmentLink::Staff(id).to_string(),
            format!("/api/attachments/{id}")
        );
        assert_eq!(
            serde_json::to_value(AttachmentLink::Public(t, id)).expect("json"),
            serde_json::json!(format!("/api/public/tickets/{t}/attachments/{id}"))
        );
        assert_eq!(ticket(t), format!("/api/tickets/{t}"));
    }
}
