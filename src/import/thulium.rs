//! `ferrodesk import thulium --url URL --login LOGIN`: backfill from Thulium's ticket API
//! through the bridge's own mapping ([`crate::integrations::thulium::record`]). Tickets are
//! keyed on their Thulium id in the bridge's `thulium` refs and their messages in its
//! `thulium_msg` refs: a ticket the live webhook already brought is skipped (the bridge keeps
//! it current), and a webhook for a ticket the backfill wrote adds only messages it does not
//! have. Ids already known are skipped before their tickets are fetched, so a second run costs
//! one list request a page.

use std::collections::HashSet;

use futures_util::StreamExt;

use super::{BATCH, Importer};
use crate::integrations::thulium::record;
use crate::integrations::thulium_api::{Api, Mapping, PAGE};
use crate::tickets::status::Channel;

/// Ticket requests in flight at once.
const PARALLEL: usize = 4;

/// Pages through the API (tickets changed on or after `since`, when given) into the importer.
pub async fn import(
    importer: &mut Importer<'_>,
    api: &Api,
    mapping: &Mapping,
    since: Option<&str>,
    progress: &mut dyn FnMut(usize),
) -> anyhow::Result<()> {
    importer.keyed_like_bridge("thulium", "thulium_msg", Channel::Thulium);
    let mut seen = HashSet::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut offset = 0;
    let mut files = 0;
    loop {
        let ids = match api.page(offset, since).await {
            Ok(ids) => ids,
            // Nothing read yet (a refused login, a wrong address): the run fails as a whole.
            Err(e) if offset == 0 => return Err(e),
            // Later, what was read is kept and reported; the next run carries on from it.
            Err(e) => {
                importer.fail(
                    format!("list at offset {offset}"),
                    format!("{e}; the tickets after it were not read (run again to carry on)"),
                );
                break;
            }
        };
        let listed = ids.len();
        offset += listed;
        // A ticket changed while the run pages moves up the list and may be listed twice.
        let ids: Vec<String> = ids.into_iter().filter(|i| seen.insert(i.clone())).collect();
        let fresh = importer.unseen(ids).await?;
        let mut fetched = futures_util::stream::iter(fresh)
            .map(|id| async move {
                let t = api.ticket(&id).await;
                (id, t)
            })
            .buffered(PARALLEL);
        while let Some((id, t)) = fetched.next().await {
            let origin = format!("ticket {id}");
            let converted = t.and_then(|t| mapping.convert(t)).and_then(|(t, h)| {
                files += h.files.values().map(Vec::len).sum::<usize>();
                record(&t, &h, origin.clone())
            });
            match converted {
                Ok(r) => batch.push(r),
                Err(reason) => importer.fail(origin, reason),
            }
        }
        if batch.len() >= BATCH {
            importer.write(std::mem::take(&mut batch)).await?;
        }
        progress(seen.len());
        if listed < PAGE {
            break;
        }
    }
    importer.write(batch).await?;
    progress(seen.len());
    if files > 0 {
        importer.report.notes.push(format!(
            "{files} attachments are listed under `attachments` with their Thulium links, not fetched"
        ));
    }
    Ok(())
}
