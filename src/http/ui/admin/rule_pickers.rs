//! The rule builder's pickers: the workspace's priorities, statuses, kinds, channels,
//! categories, groups, people and canned responses, grouped by the fields and action types
//! that use them (the page's script shows a row only its own groups).

use std::collections::BTreeSet;

use super::rule_form::{Names, Opt, OptGroup};
use crate::tickets::status::{Channel, Kind, Priority, Status};

pub(super) fn words_of<T: Copy>(all: &[T], word: fn(T) -> &'static str, prefix: &str) -> Vec<Opt> {
    all.iter()
        .map(|x| Opt {
            value: format!("{prefix}:{}", word(*x)),
            label: word(*x).replace('_', " "),
            selected: false,
        })
        .collect()
}

pub(super) fn opts(prefix: &str, pairs: &[(String, String)]) -> Vec<Opt> {
    pairs
        .iter()
        .map(|(id, name)| Opt {
            value: format!("{prefix}:{id}"),
            label: name.clone(),
            selected: false,
        })
        .collect()
}

pub(super) fn select(mut groups: Vec<OptGroup>, chosen: &BTreeSet<String>) -> Vec<OptGroup> {
    for g in &mut groups {
        for o in &mut g.options {
            o.selected = chosen.contains(&o.value);
        }
    }
    groups
}

pub(super) fn condition_picks(n: &Names, chosen: &BTreeSet<String>) -> Vec<OptGroup> {
    let nobody = Opt {
        value: "none".into(),
        label: "(none)".into(),
        selected: false,
    };
    let mut priorities = words_of(Priority::ALL, Priority::as_str, "priority");
    priorities.reverse();
    select(
        vec![
            OptGroup {
                label: "Priorities",
                serves: "priority",
                options: priorities,
            },
            OptGroup {
                label: "Statuses",
                serves: "status",
                options: words_of(Status::ALL, Status::as_str, "status"),
            },
            OptGroup {
                label: "Kinds",
                serves: "kind",
                options: words_of(Kind::ALL, Kind::as_str, "kind"),
            },
            OptGroup {
                label: "Channels",
                serves: "channel",
                options: words_of(Channel::ALL, Channel::as_str, "channel"),
            },
            OptGroup {
                label: "Categories",
                serves: "category_id",
                options: opts("category", &n.categories),
            },
            OptGroup {
                label: "Groups",
                serves: "group_id",
                options: opts("group", &n.groups),
            },
            OptGroup {
                label: "Agents",
                serves: "assignee_id",
                options: opts("user", &n.staff),
            },
            OptGroup {
                label: "Nobody",
                serves: "category_id group_id assignee_id",
                options: vec![nobody],
            },
        ],
        chosen,
    )
}

pub(super) fn action_picks(n: &Names, chosen: &BTreeSet<String>) -> Vec<OptGroup> {
    let mut priorities = words_of(Priority::ALL, Priority::as_str, "priority");
    priorities.reverse();
    let strategy = |prefix: &str, label: &str| -> Vec<Opt> {
        n.groups
            .iter()
            .map(|(id, name)| Opt {
                value: format!("{prefix}:{id}"),
                label: format!("{label} in {name}"),
                selected: false,
            })
            .collect()
    };
    select(
        vec![
            OptGroup {
                label: "Priorities",
                serves: "set_priority",
                options: priorities,
            },
            OptGroup {
                label: "Statuses",
                serves: "set_status",
                options: words_of(Status::ALL, Status::as_str, "status"),
            },
            OptGroup {
                label: "Categories",
                serves: "set_category",
                options: opts("category", &n.categories),
            },
            OptGroup {
                label: "Groups",
                serves: "set_group notify",
                options: opts("group", &n.groups),
            },
            OptGroup {
                label: "People",
                serves: "assign add_watcher notify",
                options: opts("user", &n.staff),
            },
            OptGroup {
                label: "Round robin",
                serves: "assign",
                options: strategy("round_robin", "Round robin"),
            },
            OptGroup {
                label: "Least busy",
                serves: "assign",
                options: strategy("least_busy", "Least busy"),
            },
            OptGroup {
                label: "Canned responses",
                serves: "reply_with_canned",
                options: opts("canned", &n.canned),
            },
        ],
        chosen,
    )
}
