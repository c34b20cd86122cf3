//! A small builder for statements with a variable WHERE clause, numbering `$n` placeholders
//! the same way on both backends.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Bool(bool),
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
