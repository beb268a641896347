//! Statements rendered once per backend and kept. The hottest reads (a ticket by id, the
//! ticket a reply locks) bind their values to the kept SQL instead of building a sea-query
//! statement of some fifty column expressions and rendering it on every request, which was
//! 6 % of the server's time on `GET /api/tickets/{id}`.
//!
//! The caller passes the values in the order of the statement's placeholders. Debug builds
//! (every test) build and render the statement on each call as well and check that its text
//! and values are the kept text and the given values, so a statement changed without its
//! values fails the tests that use it.

use std::sync::OnceLock;

use sea_query::{PostgresQueryBuilder, SelectStatement, SqliteQueryBuilder, Value, Values};
use sea_query_sqlx::{SqlxBinder, SqlxValues};
use sqlx::AssertSqlSafe;

use super::{Backend, Conn, Row};
use crate::error::Result;

/// Renders a statement for one backend: its SQL and its values.
type Render = fn(&SelectStatement) -> (String, SqlxValues);

/// The SQL of one statement on each backend, rendered the first time it is run.
pub struct Built {
    sqlite: OnceLock<String>,
    postgres: OnceLock<String>,
}

impl Built {
    #[must_use]
    pub const fn new() -> Self {
        Built {
            sqlite: OnceLock::new(),
            postgres: OnceLock::new(),
        }
    }

    /// The kept SQL for `backend` (rendered from `build` the first time) and the values to
    /// bind to it.
    fn render(
        &self,
        backend: Backend,
        build: impl FnOnce() -> SelectStatement,
        values: Vec<Value>,
    ) -> (String, SqlxValues) {
        let sql = self.text(backend, build, &values).to_owned();
        (sql, SqlxValues(Values(values)))
    }

    /// The kept SQL for `backend`, rendered from `build` the first time; debug builds render
    /// it every time and check it and `values` against the kept text. Also for a read that
    /// binds its own values (`store::inline`).
    pub(super) fn text(
        &self,
        backend: Backend,
        build: impl FnOnce() -> SelectStatement,
        values: &[Value],
    ) -> &str {
        let (cell, render): (_, Render) = match backend {
            Backend::Sqlite => (&self.sqlite, |q| q.build_sqlx(SqliteQueryBuilder)),
            Backend::Postgres => (&self.postgres, |q| q.build_sqlx(PostgresQueryBuilder)),
        };
        #[cfg(debug_assertions)]
        {
            let (sql, built) = render(&build());
            let kept = cell.get_or_init(|| sql.clone());
            assert_eq!(*kept, sql, "a kept statement's text changed between runs");
            assert_eq!(
                built.0.0, values,
                "the values given to a kept statement are not the ones its placeholders take"
            );
            kept
        }
        #[cfg(not(debug_assertions))]
        {
            let _ = values;
            cell.get_or_init(|| render(&build()).0)
        }
    }
}

impl Default for Built {
    fn default() -> Self {
        Self::new()
    }
}

impl Conn {
    /// Fetches at most one row of the kept statement `built` with `values` bound in the order
    /// of its placeholders; `build` makes the statement when it has to be rendered.
    pub async fn fetch_optional_built<T: Row>(
        &mut self,
        built: &'static Built,
        build: impl FnOnce() -> SelectStatement,
        values: Vec<Value>,
    ) -> Result<Option<T>> {
        let (sql, args) = built.render(self.backend(), build, values);
        if self.backend() == Backend::Sqlite {
            let (sql, args) = self.sqlite_command(Some((sql, args)));
            return Ok(sqlx::query_as_with::<_, T, _>(AssertSqlSafe(sql), args)
                .fetch_optional(self.sqlite()?)
                .await?);
        }
        self.flush().await?;
        Ok(sqlx::query_as_with::<_, T, _>(AssertSqlSafe(sql), args)
            .fetch_optional(self.pg()?)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_query::{Alias, Expr, ExprTrait, Query};

    fn by_id(id: i64) -> SelectStatement {
        Query::select()
            .column(Alias::new("name"))
            .from(Alias::new("things"))
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned()
    }

    #[test]
    fn the_text_is_rendered_once_per_backend_and_each_run_binds_its_own_values() {
        static KEPT: Built = Built::new();
        let (sql, values) = KEPT.render(Backend::Sqlite, || by_id(7), vec![7i64.into()]);
        assert_eq!(sql, r#"SELECT "name" FROM "things" WHERE "id" = ?"#);
        assert_eq!(values.0.0, vec![Value::from(7i64)]);
        let (again, values) = KEPT.render(Backend::Sqlite, || by_id(8), vec![8i64.into()]);
        assert_eq!(again, sql);
        assert_eq!(values.0.0, vec![Value::from(8i64)]);
        let (pg, _) = KEPT.render(Backend::Postgres, || by_id(9), vec![9i64.into()]);
        assert_eq!(pg, r#"SELECT "name" FROM "things" WHERE "id" = $1"#);
    }

    #[test]
    #[should_panic(expected = "the values given to a kept statement")]
    fn values_out_of_step_with_the_statement_fail_in_debug_builds() {
        static KEPT: Built = Built::new();
        let _ = KEPT.render(Backend::Sqlite, || by_id(7), vec![8i64.into()]);
    }
}
