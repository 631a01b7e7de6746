//! Keyset pages: fetch one row more than a page shows, and hand out a cursor only when
//! that extra row proves another page follows.

use crate::domain::PageSize;

/// The rows a page shows and the cursor of the next page (`None` on the last page).
/// `rows` were fetched with `size.with_lookahead()`; `cursor_of` names the position
/// after a row.
pub fn split_page<T>(
    mut rows: Vec<T>,
    size: PageSize,
    cursor_of: impl FnOnce(&T) -> Option<String>,
) -> (Vec<T>, Option<String>) {
    let shown = usize::try_from(size.get()).unwrap_or(usize::MAX);
    let has_more = rows.len() > shown;
    rows.truncate(shown);
    let next_cursor = rows.last().filter(|_| has_more).and_then(cursor_of);
    (rows, next_cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_only_when_a_row_beyond_the_page_was_fetched() {
        let size = PageSize::parse(Some(2)).unwrap();
        let cursor = |n: &i32| Some(n.to_string());
        assert_eq!(
            split_page(vec![1, 2, 3], size, cursor),
            (vec![1, 2], Some("2".into()))
        );
        assert_eq!(split_page(vec![1, 2], size, cursor), (vec![1, 2], None));
        assert_eq!(split_page(Vec::new(), size, cursor), (vec![], None));
    }
}
