//! Lists of names in log lines and messages: the first few and a count, so a
//! lock annotation with 50,000 holders (or a node with 5,000 blocking pods)
//! makes a short line, not a 600 KB one.

/// How many names a list shows before "and N more".
pub const SHOWN: usize = 5;

/// `a, b, c` or `a, b, c, d, e and 49995 more (50000 in all)`.
pub fn summary<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<&str> = names.iter().take(SHOWN).map(AsRef::as_ref).collect();
    let mut text = shown.join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more ({} in all)", names.len() - SHOWN, names.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn short_lists_in_full_long_ones_counted() {
        assert_eq!(summary::<&str>(&[]), "");
        assert_eq!(summary(&["a"]), "a");
        assert_eq!(summary(&["a", "b", "c", "d", "e"]), "a, b, c, d, e");
        let many: Vec<String> = (0..50_000).map(|i| format!("node-{i}")).collect();
        assert_eq!(summary(&many), "node-0, node-1, node-2, node-3, node-4 and 49995 more (50000 in all)");
    }
}
