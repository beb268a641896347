//! The role matrix of SPEC §4 in one table. Every route asks `Actor::require(Permission)`;
//! nothing else in the code compares roles.

use crate::error::{Error, Result};
use crate::ids::{UserId, WorkspaceId};
use crate::tickets::status::Role;

/// Something a request may want to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ViewTickets,
    CreateTicket,
    PublicReply,
    InternalNote,
    ChangeStatus,
    /// Assign any ticket to anyone.
    AssignAny,
    /// Take an unassigned ticket for oneself (agents); `AssignAny` implies it.
    AssignSelf,
    ChangePriority,
    Merge,
    Escalate,
    DeleteTicket,
    ManageCustomers,
    ViewCustomers,
    ReadUsers,
    ManageUsers,
    ReadGroups,
    ManageGroups,
    ReadSettings,
    ManageSettings,
    /// Set `status` and `created_at` on a new ticket (imports).
    ImportTickets,
    /// Edit or delete another user's comment.
    ModerateComments,
    ReadCategories,
    /// Use canned responses and manage one's own personal ones.
    UseCanned,
    /// Manage shared canned responses and everyone's personal ones.
    ManageCanned,
    /// Read knowledge-base articles, drafts included.
    ReadKb,
    /// Write, publish and delete knowledge-base articles.
    ManageKb,
    /// Read every ticket's changes in bulk (the change feed, exports).
    ExportTickets,
    /// Analytics of one's own tickets.
    ViewOwnAnalytics,
    /// Analytics of the whole team, the daily queue report and its settings.
    ViewTeamAnalytics,
    /// Export or erase everything held about a customer (data subject requests).
    CustomerDataRights,
}

/// Whether `role` may do `perm`.
#[must_use]
pub fn allows(role: Role, perm: Permission) -> bool {
    use Permission as P;
    use Role::{Admin, Agent, Supervisor};
    match perm {
        P::ViewTickets
        | P::InternalNote
        | P::ViewCustomers
        | P::ReadUsers
        | P::ReadCategories
        | P::ReadKb => true,
        P::CreateTicket
        | P::PublicReply
        | P::ChangeStatus
        | P::Merge
        | P::Escalate
        | P::AssignSelf
        | P::UseCanned
        | P::ViewOwnAnalytics
        | P::ManageCustomers => {
            matches!(role, Admin | Supervisor | Agent)
        }
        P::AssignAny
        | P::ChangePriority
        | P::ReadSettings
        | P::ManageCanned
        | P::ManageKb
        | P::ViewTeamAnalytics
        | P::ExportTickets => {
            matches!(role, Admin | Supervisor)
        }
        P::ReadGroups => matches!(role, Admin | Supervisor | Agent),
        P::DeleteTicket
        | P::ManageUsers
        | P::ManageGroups
        | P::ManageSettings
        | P::ImportTickets
        | P::ModerateComments
        | P::CustomerDataRights => role == Admin,
    }
}

/// The authenticated staff user behind a request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub role: Role,
    pub is_owner: bool,
    pub name: String,
    pub email: String,
    /// The client's address for the audit log (set by the HTTP edge on each request; `None`
    /// for commands and jobs).
    pub address: Option<String>,
}

impl Actor {
    /// Fails with 403 unless the role allows `perm`.
    pub fn require(&self, perm: Permission) -> Result<&Self> {
        if allows(self.role, perm) {
            Ok(self)
        } else {
            Err(Error::forbidden(format!(
                "the {} role may not do this",
                self.role
            )))
        }
    }

    #[must_use]
    pub fn can(&self, perm: Permission) -> bool {
        allows(self.role, perm)
    }

    /// Only the instance owner may create workspaces.
    pub fn require_owner(&self) -> Result<&Self> {
        if self.is_owner {
            Ok(self)
        } else {
            Err(Error::forbidden(
                "only the instance owner may create workspaces",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Permission as P, allows};
    use crate::tickets::status::Role::{Admin, Agent, Engineer, Supervisor};

    #[test]
    fn matrix_matches_spec_section_4() {
        // (permission, admin, supervisor, agent, engineer)
        let rows = [
            (P::ViewTickets, true, true, true, true),
            (P::CreateTicket, true, true, true, false),
            (P::PublicReply, true, true, true, false),
            (P::InternalNote, true, true, true, true),
            (P::ChangeStatus, true, true, true, false),
            (P::AssignAny, true, true, false, false),
            (P::AssignSelf, true, true, true, false),
            (P::ChangePriority, true, true, false, false),
            (P::Merge, true, true, true, false),
            (P::Escalate, true, true, true, false),
            (P::DeleteTicket, true, false, false, false),
            (P::ManageUsers, true, false, false, false),
            (P::ManageGroups, true, false, false, false),
            (P::ReadGroups, true, true, true, false),
            (P::ReadSettings, true, true, false, false),
            (P::ManageSettings, true, false, false, false),
            (P::ImportTickets, true, false, false, false),
            (P::ModerateComments, true, false, false, false),
            (P::ReadCategories, true, true, true, true),
            (P::UseCanned, true, true, true, false),
            (P::ManageCanned, true, true, false, false),
            (P::ReadKb, true, true, true, true),
            (P::ManageKb, true, true, false, false),
            (P::ExportTickets, true, true, false, false),
            (P::ViewOwnAnalytics, true, true, true, false),
            (P::ViewTeamAnalytics, true, true, false, false),
            (P::CustomerDataRights, true, false, false, false),
        ];
        for (p, a, s, g, e) in rows {
            assert_eq!(
                [
                    allows(Admin, p),
                    allows(Supervisor, p),
                    allows(Agent, p),
                    allows(Engineer, p)
                ],
                [a, s, g, e],
                "{p:?}"
            );
        }
    }
}
