//! Building table columns from rows.

use polars::prelude::{Column, NamedFrom, Series};

/// The column `name` of `value` over `rows`.
pub fn column<'a, T, V>(name: &str, rows: &'a [T], value: impl Fn(&'a T) -> V) -> Column
where
    Series: NamedFrom<Vec<V>, [V]>,
{
    Column::new(name.into(), rows.iter().map(value).collect::<Vec<V>>())
}
