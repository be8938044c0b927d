//! What differs between SQL dialects: quoting, types, literals and a few functions.

use std::fmt::Write;

/// A SQL dialect churncal writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Apache Spark SQL (and Databricks).
    Spark,
    /// DuckDB.
    DuckDb,
    /// PostgreSQL.
    Postgres,
    /// Google BigQuery (GoogleSQL).
    BigQuery,
    /// Snowflake.
    Snowflake,
}

impl Dialect {
    /// Every dialect, in the order of `--help`.
    pub const ALL: [Dialect; 5] = [
        Dialect::Spark,
        Dialect::DuckDb,
        Dialect::Postgres,
        Dialect::BigQuery,
        Dialect::Snowflake,
    ];

    /// The dialect's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Spark => "spark",
            Dialect::DuckDb => "duckdb",
            Dialect::Postgres => "postgres",
            Dialect::BigQuery => "bigquery",
            Dialect::Snowflake => "snowflake",
        }
    }

    /// The dialect named `s` (case-insensitive; `databricks` is Spark, `postgresql` and
    /// `pg` are PostgreSQL).
    pub fn parse(s: &str) -> Option<Dialect> {
        Some(match s.to_ascii_lowercase().as_str() {
            "spark" | "databricks" | "sparksql" => Dialect::Spark,
            "duckdb" => Dialect::DuckDb,
            "postgres" | "postgresql" | "pg" => Dialect::Postgres,
            "bigquery" | "bq" => Dialect::BigQuery,
            "snowflake" => Dialect::Snowflake,
            _ => return None,
        })
    }

    /// A quoted identifier; a dotted name (`schema.table`) is quoted part by part.
    pub fn ident(self, name: &str) -> String {
        let (open, close) = match self {
            Dialect::Spark | Dialect::BigQuery => ('`', '`'),
            _ => ('"', '"'),
        };
        let mut out = String::with_capacity(name.len() + 2);
        out.push(open);
        for c in name.chars() {
            if c == close {
                out.push(close);
            }
            out.push(c);
        }
        out.push(close);
        out
    }

    /// A table name as given: each dot-separated part quoted; a Jinja expression
    /// (`{{ ref('snapshots') }}`, for a dbt model) is left for its renderer, as written.
    pub fn table(self, name: &str) -> String {
        let t = name.trim();
        if t.starts_with("{{") && t.ends_with("}}") {
            return t.to_string();
        }
        name.split('.')
            .map(|p| self.ident(p.trim()))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A string literal. Spark, BigQuery and Snowflake read backslash escapes inside
    /// quotes, so a backslash is doubled there; a quote is doubled everywhere.
    pub fn string(self, s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('\'');
        for c in s.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\\' if self.backslash_escapes() => out.push_str("\\\\"),
                _ => out.push(c),
            }
        }
        out.push('\'');
        out
    }

    fn backslash_escapes(self) -> bool {
        matches!(
            self,
            Dialect::Spark | Dialect::BigQuery | Dialect::Snowflake
        )
    }

    /// The double-precision type.
    pub fn double(self) -> &'static str {
        match self {
            Dialect::Postgres => "DOUBLE PRECISION",
            Dialect::BigQuery => "FLOAT64",
            _ => "DOUBLE",
        }
    }

    /// The text type.
    pub fn text(self) -> &'static str {
        match self {
            Dialect::Spark | Dialect::BigQuery => "STRING",
            Dialect::Postgres => "TEXT",
            _ => "VARCHAR",
        }
    }

    /// A double literal with exactly `x`'s bits: integers below 2^53 as written (every
    /// engine widens them exactly), anything else as the shortest decimal that reads back
    /// to `x`, cast from text (a bare `0.1` is an exact decimal in most engines, and a
    /// decimal cast to double is not correctly rounded in all of them).
    pub fn num(self, x: f64) -> String {
        if x == x.trunc() && x.abs() < 9.0e15 && !(x == 0.0 && x.is_sign_negative()) {
            // In parentheses when negative: `x - -1` must not become a `--` comment.
            return if x < 0.0 {
                format!("({})", x as i64)
            } else {
                format!("{}", x as i64)
            };
        }
        format!("CAST('{x:?}' AS {})", self.double())
    }

    /// `ln(1 + x)`: Spark's `log1p` is the accurate one; the others have only `ln`.
    pub fn ln_1p(self, x: &str) -> String {
        match self {
            Dialect::Spark => format!("LOG1P({x})"),
            _ => format!("LN(1 + {x})"),
        }
    }

    /// `x` as text, trimmed of blanks, NULL when empty.
    pub fn trimmed_text(self, x: &str) -> String {
        format!("NULLIF(TRIM(CAST({x} AS {})), '')", self.text())
    }

    /// Hex SHA-256 of a text expression, lower case.
    pub fn sha256_hex(self, x: &str) -> String {
        match self {
            Dialect::Spark => format!("sha2({x}, 256)"),
            Dialect::DuckDb => format!("sha256({x})"),
            Dialect::Postgres => format!("encode(sha256(convert_to({x}, 'UTF8')), 'hex')"),
            Dialect::BigQuery => format!("TO_HEX(SHA256({x}))"),
            Dialect::Snowflake => format!("SHA2({x}, 256)"),
        }
    }

    /// Text concatenation of the parts.
    pub fn concat(self, parts: &[String]) -> String {
        match self {
            Dialect::BigQuery | Dialect::Spark => format!("CONCAT({})", parts.join(", ")),
            _ => parts.join(" || "),
        }
    }

    /// A comparison of two texts in byte order.
    pub fn bytes_less(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Postgres => format!("{a} COLLATE \"C\" < {b}"),
            _ => format!("{a} < {b}"),
        }
    }

    /// The aggregate `p`-quantile of `x` by linear interpolation between order statistics
    /// (numpy's default), over the rows of `from`. BigQuery has it only as a window
    /// function, so its form is a subquery.
    pub fn quantile(self, x: &str, p: f64, from: &str) -> String {
        let p = self.num(p);
        match self {
            Dialect::BigQuery => format!(
                "(SELECT ANY_VALUE(q) FROM (SELECT PERCENTILE_CONT({x}, {p}) OVER () AS q FROM {from} WHERE {x} IS NOT NULL))"
            ),
            Dialect::Spark => format!(
                "(SELECT percentile({x}, {p}) FROM {from} WHERE {x} IS NOT NULL)"
            ),
            _ => format!(
                "(SELECT PERCENTILE_CONT({p}) WITHIN GROUP (ORDER BY {x}) FROM {from} WHERE {x} IS NOT NULL)"
            ),
        }
    }
}

/// `items` joined into a left-nested sum `((a + b) + c)`: every engine then adds in the
/// order churncal does.
pub(super) fn sum(items: &[String]) -> String {
    let mut out = String::new();
    for (i, it) in items.iter().enumerate() {
        if i == 0 {
            out.push_str(it);
        } else {
            let prev = std::mem::take(&mut out);
            let _ = write!(out, "({prev} + {it})");
        }
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}
