//! A small builder for statements with a variable WHERE clause, numbering `$n` placeholders
//! the same way on both backends.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Transaction};

use super::StoreError;

#[derive(Clone)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// Binds `binds` in order.
pub(crate) fn bind_values<'q>(query: Query<'q, Any, AnyArguments<'q>>, binds: Vec<Bind>) -> Query<'q, Any, AnyArguments<'q>> {
    binds.into_iter().fold(query, super::tickets::bind_one)
}

#[derive(Default)]
pub(crate) struct Conditions {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Conditions {
    /// Adds a clause; `{}` in it stands for the next placeholder.
    pub fn push(&mut self, clause: &str, bind: Bind) {
        self.binds.push(bind);
        self.clauses.push(clause.replace("{}", &format!("${}", self.binds.len())));
    }

    /// Adds a clause that binds nothing.
    pub fn and(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    /// Binds a value without a clause of its own (e.g. LIMIT) and returns its placeholder.
    pub fn placeholder(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        format!("${}", self.binds.len())
    }

    pub fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    pub fn bind_all<'q>(self, mut query: Query<'q, Any, AnyArguments<'q>>) -> Query<'q, Any, AnyArguments<'q>> {
        for bind in self.binds {
            query = match bind {
                Bind::Text(s) => query.bind(s),
                Bind::Int(i) => query.bind(i),
                Bind::Bool(b) => query.bind(b),
            };
        }
        query
    }
}

/// `$first, $first+1, …` for an IN list of `n` values.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// One value of a row written by [`insert_rows`].
#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Self {
        Cell::OptText(s)
    }
}

impl From<bool> for Cell {
    fn from(b: bool) -> Self {
        Cell::Bool(b)
    }
}

impl From<i64> for Cell {
    fn from(i: i64) -> Self {
        Cell::Int(i)
    }
}

impl From<Option<i64>> for Cell {
    fn from(i: Option<i64>) -> Self {
        Cell::OptInt(i)
    }
}

pub(crate) fn bind_cells<'q>(mut query: Query<'q, Any, AnyArguments<'q>>, cells: Vec<Cell>) -> Query<'q, Any, AnyArguments<'q>> {
    for cell in cells {
        query = match cell {
            Cell::Text(s) => query.bind(s),
            Cell::OptText(s) => query.bind(s),
            Cell::Int(i) => query.bind(i),
            Cell::OptInt(i) => query.bind(i),
            Cell::Bool(b) => query.bind(b),
        };
    }
    query
}

/// Parameters per statement. sqlx's SQLite driver looks each parameter's name up among all of
/// the statement's, so binding costs grow with the square of the count: keep SQLite
/// statements short. PostgreSQL binds by position; its limit is 65 535.
const MAX_PARAMETERS_SQLITE: usize = 150;
const MAX_PARAMETERS_POSTGRES: usize = 20_000;
/// Rows per statement, however narrow: longer statements stop paying off.
const MAX_ROWS: usize = 1_000;

/// `VALUES ($1, $2), ($3, $4), …` for `rows` rows of `columns` values.
fn values_list(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 6);
    sql.push_str("VALUES ");
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * columns + c + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// Inserts `rows` (each with one value per column) with multi-row VALUES lists: one round trip
/// per few hundred rows instead of one per row. `suffix` follows the VALUES list (e.g. an
/// `ON CONFLICT` clause). Returns the rows affected.
pub(crate) async fn insert_rows(
    tx: &mut Transaction<'static, Any>,
    table: &str,
    columns: &str,
    rows: Vec<Vec<Cell>>,
    suffix: &str,
) -> Result<u64, StoreError> {
    let Some(width) = rows.first().map(Vec::len) else { return Ok(0) };
    let max_parameters = match tx.backend_name() {
        "PostgreSQL" => MAX_PARAMETERS_POSTGRES,
        _ => MAX_PARAMETERS_SQLITE,
    };
    let per_statement = (max_parameters / width).clamp(1, MAX_ROWS);
    let mut affected = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Cell>> = rows.by_ref().take(per_statement).collect();
        let sql = format!("INSERT INTO {table} ({columns}) {}{suffix}", values_list(chunk.len(), width));
        let query = bind_cells(sqlx::query(&sql), chunk.into_iter().flatten().collect());
        affected += query.execute(&mut **tx).await?.rows_affected();
    }
    Ok(affected)
}

/// Escapes LIKE wildcards so user text matches literally (with `ESCAPE '\'`).
pub(crate) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_lists_number_rows_after_each_other() {
        assert_eq!(values_list(1, 2), "VALUES ($1, $2)");
        assert_eq!(values_list(2, 3), "VALUES ($1, $2, $3), ($4, $5, $6)");
    }

    #[test]
    fn placeholders_number_in_order() {
        let mut c = Conditions::default();
        c.push("status = {}", Bind::Text("open".into()));
        c.push("id < {}", Bind::Text("x".into()));
        let limit = c.placeholder(Bind::Int(5));
        assert_eq!(c.where_sql(), "WHERE status = $1 AND id < $2");
        assert_eq!(limit, "$3");
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
    }
}
