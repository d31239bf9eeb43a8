//! Names of organisations and relying parties as people read them on pages: one rule for
//! every registration that takes such a name.

/// The longest display name, in characters.
pub const DISPLAY_NAME_MAX_CHARS: usize = 200;

/// A display name with its whitespace collapsed (runs of spaces, tabs and line breaks become
/// one space, none at either end), or `None` if the result is empty, longer than
/// [`DISPLAY_NAME_MAX_CHARS`] or holds a control character.
pub fn display_name(raw: &str) -> Option<String> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let fits = !name.is_empty()
        && name.chars().count() <= DISPLAY_NAME_MAX_CHARS
        && !name.chars().any(char::is_control);
    fits.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_collapses_and_bad_names_are_refused() {
        assert_eq!(
            display_name("  Mạng   Xã Hội\tMẫu \n").as_deref(),
            Some("Mạng Xã Hội Mẫu")
        );
        assert_eq!(display_name("   "), None);
        assert_eq!(display_name("a\u{0007}b"), None);
        assert!(display_name(&"x".repeat(DISPLAY_NAME_MAX_CHARS)).is_some());
        assert_eq!(display_name(&"x".repeat(DISPLAY_NAME_MAX_CHARS + 1)), None);
    }
}
