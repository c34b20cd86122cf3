//! Schema parity: the SQLite and PostgreSQL migrations must build the same schema. Both are
//! migrated, read back from their catalogs, normalised to one plain structure and compared;
//! on failure the facts found on one backend only are listed.
//!
//! The normalisation is explicit and small:
//! - types: SQLite's INTEGER/BIGINT and PostgreSQL's BIGINT are `integer`; a SQLite INTEGER
//!   column with `CHECK (c IN (0, 1))` is PostgreSQL's BOOLEAN (the check is how SQLite spells
//!   the type, so it is not compared as a check); TEXT is `text`; SQLite's BLOB and
//!   PostgreSQL's BYTEA are `bytes`;
//! - SQLite reports a PRIMARY KEY column without NOT NULL as nullable; it counts as NOT NULL, as
//!   on PostgreSQL (the store never writes a NULL key);
//! - expressions (checks, index keys and predicates) are compared with case, whitespace,
//!   parentheses and PostgreSQL's `::type` casts removed, and `= ANY (ARRAY[…])` read as `IN (…)`;
//! - unique constraints are compared by their columns (SQLite does not keep their names; the
//!   PostgreSQL names the store relies on are checked against `steward_storage::unique`);
//! - collations are not compared (SQLite compares text bytewise, as PostgreSQL's `C`).
//! - ticket numbers come from a counter table on SQLite and a sequence on PostgreSQL.

use crate::helpers::{Backend, TestDb};
use sqlx::{Connection, Row};
use std::collections::{BTreeMap, BTreeSet};
use steward_storage::{unique, DatabaseConfig, Store};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Table {
    /// name → (type, NOT NULL, default)
    columns: BTreeMap<String, (String, bool, Option<String>)>,
    primary_key: Vec<String>,
    uniques: BTreeSet<Vec<String>>,
    /// (columns, referenced table, referenced columns, ON DELETE)
    foreign_keys: BTreeSet<(Vec<String>, String, Vec<String>, String)>,
    checks: BTreeSet<String>,
    /// name → (unique, keys, predicate)
    indexes: BTreeMap<String, (bool, Vec<String>, Option<String>)>,
}

type Schema = BTreeMap<String, Table>;

/// One line per fact, for a readable difference.
fn facts(schema: &Schema) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (name, t) in schema {
        out.insert(format!("table {name}"));
        for (column, (ty, not_null, default)) in &t.columns {
            let null = if *not_null { "NOT NULL" } else { "NULL" };
            let default = default.as_ref().map(|d| format!(" DEFAULT {d}")).unwrap_or_default();
            out.insert(format!("{name}.{column}: {ty} {null}{default}"));
        }
        out.insert(format!("{name}: PRIMARY KEY ({})", t.primary_key.join(", ")));
        for columns in &t.uniques {
            out.insert(format!("{name}: UNIQUE ({})", columns.join(", ")));
        }
        for (columns, table, to, on_delete) in &t.foreign_keys {
            out.insert(format!(
                "{name}: FOREIGN KEY ({}) REFERENCES {table} ({}) ON DELETE {on_delete}",
                columns.join(", "),
                to.join(", ")
            ));
        }
        for check in &t.checks {
            out.insert(format!("{name}: CHECK {check}"));
        }
        for (index, (is_unique, keys, predicate)) in &t.indexes {
            let unique = if *is_unique { "UNIQUE " } else { "" };
            let predicate = predicate.as_ref().map(|p| format!(" WHERE {p}")).unwrap_or_default();
            out.insert(format!("{name}: {unique}INDEX {index} ({}){predicate}", keys.join(", ")));
        }
    }
    out
}

/// An expression as both engines agree to spell it (see the module comment).
fn expression(text: &str) -> String {
    let mut s = text.replace("= ANY (ARRAY[", " IN (").replace("])", ")");
    // Drop PostgreSQL's casts: `'pending'::text` → `'pending'`.
    while let Some(at) = s.find("::") {
        let rest = &s[at + 2..];
        let len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        s.replace_range(at..at + 2 + len, "");
    }
    s.chars().filter(|c| !c.is_whitespace() && *c != '(' && *c != ')').collect::<String>().to_lowercase()
}

fn column_type(declared: &str) -> String {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "integer".into(),
        "text" => "text".into(),
        "boolean" => "boolean".into(),
        "blob" | "bytea" => "bytes".into(),
        other => format!("unmapped {other}"),
    }
}

fn on_delete(action: &str) -> String {
    match action {
        "a" | "NO ACTION" => "NO ACTION",
        "c" | "CASCADE" => "CASCADE",
        "r" | "RESTRICT" => "RESTRICT",
        "n" | "SET NULL" => "SET NULL",
        "d" | "SET DEFAULT" => "SET DEFAULT",
        other => other,
    }
    .to_owned()
}

/// The text between the parenthesis at `open` and its match.
fn balanced(text: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in {text}")
}

/// Splits at the commas outside parentheses.
fn top_level_items(text: &str) -> Vec<String> {
    let (mut items, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current).trim().to_owned());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current.trim().to_owned());
    items
}

fn without_comments(sql: &str) -> String {
    sql.lines().map(|line| line.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("sqlite opens");
    let tables =
        sqlx::query("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let mut schema = Schema::new();
    for row in tables {
        let (name, sql): (String, String) = (row.get("name"), row.get("sql"));
        let sql = without_comments(&sql);
        let mut t = Table::default();
        // Checks: every CHECK (…) of the table's definition, columns' and the table's own.
        let upper = sql.to_uppercase();
        let mut from = 0;
        while let Some(found) = upper[from..].find("CHECK") {
            let at = from + found;
            from = at + "CHECK".len();
            // The keyword, not a part of a name such as next_check_at.
            let word_start = at == 0 || !upper[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
            if word_start && upper[from..].trim_start().starts_with('(') {
                let open = from + upper[from..].find('(').expect("CHECK (");
                t.checks.insert(expression(balanced(&sql, open)));
                from = open;
            }
        }
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in sqlx::query("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)")
            .bind(&name)
            .fetch_all(&mut conn)
            .await
            .unwrap()
        {
            let column: String = c.get("name");
            let mut ty = column_type(c.get::<String, _>("type").as_str());
            let boolean = expression(&format!("{column} IN (0, 1)"));
            if ty == "integer" && t.checks.remove(&boolean) {
                ty = "boolean".into();
            }
            let key: i64 = c.get("pk");
            let not_null = c.get::<i64, _>("notnull") == 1 || key > 0;
            t.columns.insert(column.clone(), (ty, not_null, c.get::<Option<String>, _>("dflt_value").map(|d| expression(&d))));
            if key > 0 {
                pk.push((key, column));
            }
        }
        pk.sort();
        t.primary_key = pk.into_iter().map(|(_, c)| c).collect();
        for i in sqlx::query("SELECT name, \"unique\", origin FROM pragma_index_list(?)").bind(&name).fetch_all(&mut conn).await.unwrap() {
            let (index, origin): (String, String) = (i.get("name"), i.get("origin"));
            match origin.as_str() {
                "pk" => {}
                "u" => {
                    let columns = sqlx::query("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                        .bind(&index)
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                    t.uniques.insert(columns.iter().map(|c| c.get::<String, _>("name")).collect());
                }
                _ => {
                    let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?")
                        .bind(&index)
                        .fetch_one(&mut conn)
                        .await
                        .unwrap();
                    let on = sql.to_uppercase().find(" ON ").expect("CREATE INDEX … ON");
                    let open = on + sql[on..].find('(').expect("the index's keys");
                    let keys = balanced(&sql, open);
                    let rest = &sql[open + keys.len() + 2..];
                    let predicate = rest.to_uppercase().find("WHERE").map(|w| expression(&rest[w + 5..]));
                    t.indexes.insert(
                        index,
                        (i.get::<i64, _>("unique") == 1, top_level_items(keys).iter().map(|k| expression(k)).collect(), predicate),
                    );
                }
            }
        }
        let mut keys: BTreeMap<i64, (Vec<String>, String, Vec<String>, String)> = BTreeMap::new();
        for f in sqlx::query("SELECT id, seq, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq")
            .bind(&name)
            .fetch_all(&mut conn)
            .await
            .unwrap()
        {
            let entry = keys.entry(f.get("id")).or_insert_with(|| (Vec::new(), f.get("table"), Vec::new(), on_delete(f.get("on_delete"))));
            entry.0.push(f.get("from"));
            entry.2.push(f.get("to"));
        }
        t.foreign_keys = keys.into_values().collect();
        schema.insert(name, t);
    }
    conn.close().await.unwrap();
    schema
}

/// The PostgreSQL schema, and the names of its unique keys (constraints and unique indexes).
async fn postgres_schema(url: &str) -> (Schema, BTreeMap<String, Vec<String>>, Vec<String>) {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("postgres connects");
    let tables = sqlx::query(
        "SELECT c.oid::int8 AS oid, c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    let mut named_keys = BTreeMap::new();
    for row in tables {
        let (oid, name): (i64, String) = (row.get("oid"), row.get("name"));
        let mut t = Table::default();
        let mut by_number: BTreeMap<i16, String> = BTreeMap::new();
        for c in sqlx::query(
            "SELECT a.attnum, a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, \
             pg_get_expr(d.adbin, d.adrelid) AS dflt FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped",
        )
        .bind(oid)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        {
            let column: String = c.get("name");
            by_number.insert(c.get("attnum"), column.clone());
            let ty = column_type(c.get::<String, _>("type").as_str());
            t.columns.insert(column, (ty, c.get("attnotnull"), c.get::<Option<String>, _>("dflt").map(|d| expression(&d))));
        }
        let names = |numbers: Vec<i16>| numbers.iter().map(|n| by_number[n].clone()).collect::<Vec<_>>();
        for k in sqlx::query(
            "SELECT conname::text AS name, contype::text AS kind, conkey, confkey, confrelid::regclass::text AS target, confdeltype::text AS on_delete, \
             pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::int8::oid",
        )
        .bind(oid)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        {
            let (constraint, kind): (String, String) = (k.get("name"), k.get("kind"));
            let columns = k.get::<Option<Vec<i16>>, _>("conkey").map(names).unwrap_or_default();
            match kind.as_str() {
                "p" => {
                    named_keys.insert(constraint, columns.clone());
                    t.primary_key = columns;
                }
                "u" => {
                    named_keys.insert(constraint, columns.clone());
                    t.uniques.insert(columns);
                }
                "f" => {
                    let target: String = k.get("target");
                    let referenced: Vec<i16> = k.get("confkey");
                    let to: Vec<String> = sqlx::query_scalar(
                        "SELECT attname::text FROM pg_attribute, unnest($2::int2[]) WITH ORDINALITY AS k(num, pos) \
                         WHERE attrelid = $1::regclass AND attnum = k.num ORDER BY k.pos",
                    )
                    .bind(&target)
                    .bind(&referenced)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                    t.foreign_keys.insert((columns, target, to, on_delete(k.get::<String, _>("on_delete").as_str())));
                }
                "c" => {
                    let def: String = k.get("def");
                    t.checks.insert(expression(def.strip_prefix("CHECK ").unwrap_or(&def)));
                }
                other => panic!("constraint {constraint} of kind {other} is not compared"),
            }
        }
        // Indexes other than those that back a primary key or unique constraint.
        for i in sqlx::query(
            "SELECT c.relname::text AS name, x.indisunique, pg_get_expr(x.indpred, x.indrelid) AS predicate, \
             array(SELECT pg_get_indexdef(x.indexrelid, k, true) FROM generate_series(1, x.indnkeyatts::int) AS k ORDER BY k) AS keys \
             FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = $1::int8::oid \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x'))",
        )
        .bind(oid)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        {
            let (index, is_unique): (String, bool) = (i.get("name"), i.get("indisunique"));
            let keys: Vec<String> = i.get("keys");
            if is_unique {
                named_keys.insert(index.clone(), keys.clone());
            }
            t.indexes.insert(
                index,
                (is_unique, keys.iter().map(|k| expression(k)).collect(), i.get::<Option<String>, _>("predicate").map(|p| expression(&p))),
            );
        }
        schema.insert(name, t);
    }
    let sequences: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'S' \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    (schema, named_keys, sequences)
}

async fn migrated(backend: Backend) -> Option<(TestDb, String)> {
    let (db, url) = TestDb::create(backend).await?;
    let store = Store::connect(&DatabaseConfig { url: url.clone(), max_connections: 2, ..Default::default() }).await.expect("connects");
    store.migrate().await.expect("migrates");
    store.close().await;
    Some((db, url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_migrate_to_the_same_schema() {
    let Some((_pg, pg_url)) = migrated(Backend::Postgres).await else {
        eprintln!("skipped: STEWARD_TEST_POSTGRES_URL is not set");
        return;
    };
    let (_lite, lite_url) = migrated(Backend::Sqlite).await.expect("sqlite is always available");
    let mut sqlite = sqlite_schema(&lite_url).await;
    let (mut postgres, named_keys, sequences) = postgres_schema(&pg_url).await;

    // The one deliberate difference: how ticket numbers are allocated.
    let counter = sqlite.remove("ticket_number_counter").expect("SQLite counts ticket numbers in a table");
    assert_eq!(counter.columns.keys().collect::<Vec<_>>(), ["id", "last_number"]);
    assert_eq!(sequences, ["ticket_number_seq"], "PostgreSQL takes ticket numbers from a sequence");
    // The other: an event's writing transaction, which orders the live feed on PostgreSQL
    // (SQLite's one writer commits in insert order: 0).
    let commit_tx = postgres.get_mut("ticket_events").and_then(|t| t.columns.get_mut("commit_tx")).expect("ticket_events.commit_tx");
    assert!(commit_tx.2.as_deref().is_some_and(|d| d.contains("pg_current_xact_id")), "{commit_tx:?}");
    commit_tx.2 = sqlite["ticket_events"].columns["commit_tx"].2.clone();

    // Sanity: the readers found what the migrations make, so an empty comparison cannot pass.
    assert!(postgres.len() >= 20, "{:?}", postgres.keys());
    assert_eq!(postgres["webhook_deliveries"].checks.len(), 3, "{:#?}", postgres["webhook_deliveries"]);
    assert_eq!(sqlite["staff"].columns["active"].0, "boolean", "a 0/1 INTEGER is SQLite's boolean");

    let (lite_facts, pg_facts) = (facts(&sqlite), facts(&postgres));
    let only_sqlite: Vec<_> = lite_facts.difference(&pg_facts).collect();
    let only_postgres: Vec<_> = pg_facts.difference(&lite_facts).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migrations build different schemas\n  only on SQLite:\n    {}\n  only on PostgreSQL:\n    {}",
        only_sqlite.iter().map(|f| f.as_str()).collect::<Vec<_>>().join("\n    "),
        only_postgres.iter().map(|f| f.as_str()).collect::<Vec<_>>().join("\n    "),
    );
    assert_eq!(sqlite, postgres);

    // Every unique key the store names exists on PostgreSQL under that name.
    for key in [
        unique::STAFF_EMAIL,
        unique::TOKEN_SECRET,
        unique::TICKET_NUMBER,
        unique::EVENT_SEQ,
        unique::IDEMPOTENCY_KEY,
        unique::CALENDAR_KEY,
        unique::POLICY_KEY,
        unique::COURSE_CODE,
        unique::SUPERSEDED_RECORD,
        unique::ACTIVE_DELEGATION,
    ] {
        assert!(named_keys.contains_key(key), "no unique key `{key}` on PostgreSQL; there are {:?}", named_keys.keys());
    }
}
