//! The report's tables as the page reads them: the run's own frames, or frames read back from
//! Parquet (typed) or CSV (every cell a string, formula escapes undone). A column is checked
//! once when it is opened, so that a damaged table is named with its file and column.

use std::borrow::Cow;

use anyhow::bail;
use polars::prelude::*;

/// One table: its frame, the file errors name and the file the page names.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file as errors name it (a path, for a table read back).
    pub file: String,
    /// The file in the report directory that holds every row (`denied_calls.parquet`).
    pub name: String,
    pub df: DataFrame,
    /// Read back from CSV: every column is text.
    pub csv: bool,
}

/// A text column; a null is the empty string.
pub struct Texts<'a> {
    ca: &'a StringChunked,
    csv: bool,
}

impl<'a> Texts<'a> {
    pub fn get(&self, row: usize) -> Cow<'a, str> {
        self.text(self.ca.get(row))
    }

    /// Every row's text, in order: reading a whole column, this is much cheaper than `get`
    /// row by row (which finds the chunk and the view of each row).
    pub fn all(&self) -> Vec<Cow<'a, str>> {
        self.ca.iter().map(|s| self.text(s)).collect()
    }

    fn text(&self, s: Option<&'a str>) -> Cow<'a, str> {
        let s = s.unwrap_or("");
        if self.csv {
            unescape_formula(s)
        } else {
            Cow::Borrowed(s)
        }
    }
}

/// Undoes the CSV writer's formula escape (`'=x` was `=x`): a leading `'` followed by one of
/// the characters the writer escapes.
pub fn unescape_formula(s: &str) -> Cow<'_, str> {
    match s.as_bytes() {
        [b'\'', b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r', ..] => Cow::Borrowed(&s[1..]),
        _ => Cow::Borrowed(s),
    }
}

impl Table {
    pub fn new(
        file: impl Into<String>,
        name: impl Into<String>,
        df: DataFrame,
        csv: bool,
    ) -> Table {
        Table {
            file: file.into(),
            name: name.into(),
            df,
            csv,
        }
    }

    pub fn len(&self) -> usize {
        self.df.height()
    }

    pub fn is_empty(&self) -> bool {
        self.df.height() == 0
    }

    fn column(&self, name: &str) -> anyhow::Result<&Column> {
        match self.df.column(name) {
            Ok(c) => Ok(c),
            Err(_) => bail!(
                "{}: no column {name:?}: expected the columns permlens writes in this table",
                self.file
            ),
        }
    }

    fn wrong(&self, name: &str, what: &str, got: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{}: column {name:?}: expected {what}, got {got}", self.file)
    }

    pub fn texts(&self, name: &str) -> anyhow::Result<Texts<'_>> {
        let c = self.column(name)?;
        let ca = c.str().map_err(|_| self.wrong(name, "text", c.dtype()))?;
        Ok(Texts { ca, csv: self.csv })
    }

    /// A text column that reports of earlier versions may lack.
    pub fn texts_if(&self, name: &str) -> anyhow::Result<Option<Texts<'_>>> {
        if self.df.column(name).is_err() {
            return Ok(None);
        }
        self.texts(name).map(Some)
    }

    /// Whole numbers (counts); a null is 0.
    pub fn counts(&self, name: &str) -> anyhow::Result<Vec<u64>> {
        let c = self.column(name)?;
        if self.csv {
            return self
                .parsed(name, "a whole number", |s| s.parse::<u64>().ok())
                .map(|v| v.into_iter().map(Option::unwrap_or_default).collect());
        }
        if !c.dtype().is_integer() {
            return Err(self.wrong(name, "whole numbers", c.dtype()));
        }
        let cast = c
            .cast(&DataType::UInt64)
            .map_err(|e| anyhow::anyhow!("{}: column {name:?}: {e}", self.file))?;
        Ok(cast
            .u64()
            .map_err(|_| self.wrong(name, "whole numbers", c.dtype()))?
            .iter()
            .map(Option::unwrap_or_default)
            .collect())
    }

    /// Numbers with a fraction (ratios).
    pub fn floats(&self, name: &str) -> anyhow::Result<Vec<Option<f64>>> {
        let c = self.column(name)?;
        if self.csv {
            return self.parsed(name, "a number", |s| s.parse::<f64>().ok());
        }
        if !c.dtype().is_primitive_numeric() {
            return Err(self.wrong(name, "numbers", c.dtype()));
        }
        let cast = c
            .cast(&DataType::Float64)
            .map_err(|e| anyhow::anyhow!("{}: column {name:?}: {e}", self.file))?;
        Ok(cast
            .f64()
            .map_err(|_| self.wrong(name, "numbers", c.dtype()))?
            .iter()
            .collect())
    }

    pub fn bools(&self, name: &str) -> anyhow::Result<Vec<bool>> {
        let c = self.column(name)?;
        if self.csv {
            return self
                .parsed(name, "true or false", |s| s.parse::<bool>().ok())
                .map(|v| v.into_iter().map(Option::unwrap_or_default).collect());
        }
        Ok(c.bool()
            .map_err(|_| self.wrong(name, "true or false", c.dtype()))?
            .iter()
            .map(Option::unwrap_or_default)
            .collect())
    }

    /// UTC times in microseconds since the epoch.
    pub fn times(&self, name: &str) -> anyhow::Result<Vec<Option<i64>>> {
        let c = self.column(name)?;
        if self.csv {
            return self.parsed(name, "an RFC 3339 time", |s| {
                s.parse::<jiff::Timestamp>()
                    .ok()
                    .map(|t| t.as_microsecond())
            });
        }
        let DataType::Datetime(unit, _) = c.dtype() else {
            return Err(self.wrong(name, "UTC timestamps", c.dtype()));
        };
        let per_micro = match unit {
            TimeUnit::Nanoseconds => |v: i64| v.div_euclid(1000),
            TimeUnit::Microseconds => |v: i64| v,
            TimeUnit::Milliseconds => |v: i64| v * 1000,
        };
        let cast = c
            .cast(&DataType::Int64)
            .map_err(|e| anyhow::anyhow!("{}: column {name:?}: {e}", self.file))?;
        Ok(cast
            .i64()
            .map_err(|_| self.wrong(name, "UTC timestamps", c.dtype()))?
            .iter()
            .map(|v| v.map(per_micro))
            .collect())
    }

    /// A text column parsed cell by cell; an empty cell is `None`, an unreadable one an error
    /// naming its row (1-based, after the header).
    fn parsed<T>(
        &self,
        name: &str,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> anyhow::Result<Vec<Option<T>>> {
        let texts = self.texts(name)?;
        (0..self.len())
            .map(|i| {
                let s = texts.get(i);
                if s.is_empty() {
                    return Ok(None);
                }
                match parse(&s) {
                    Some(v) => Ok(Some(v)),
                    None => bail!(
                        "{}: row {}, column {name:?}: expected {what}, got {s:?}",
                        self.file,
                        i + 1
                    ),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_parsed_and_named_when_damaged() {
        let df = DataFrame::new(
            2,
            vec![
                Column::new("n".into(), ["3", ""]),
                Column::new("t".into(), ["2026-11-25T00:00:00.000000Z", "x"]),
                Column::new("s".into(), ["'=1+1", "'plain"]),
            ],
        )
        .unwrap();
        let t = Table::new("x.csv", "x.csv", df, true);
        assert_eq!(t.counts("n").unwrap(), [3, 0]);
        let err = t.times("t").unwrap_err().to_string();
        assert!(err.contains("x.csv: row 2, column \"t\""), "{err}");
        let s = t.texts("s").unwrap();
        assert_eq!(s.get(0), "=1+1");
        assert_eq!(s.get(1), "'plain");
        let err = t.texts("nope").err().unwrap().to_string();
        assert!(err.contains("x.csv: no column \"nope\""), "{err}");
    }
}
