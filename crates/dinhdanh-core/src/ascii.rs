//! A small inline buffer of ASCII text, so that identifiers are `Copy` and allocation-free.
//!
//! Owns the single invariant the identifier types rely on to hand out `&str`: the used
//! bytes are ASCII. Nothing outside this module can write into the buffer.

/// Up to `N` ASCII bytes stored inline.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct AsciiBuf<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> AsciiBuf<N> {
    /// Copies `text` into a buffer; `None` if it is longer than `N` bytes or not ASCII.
    pub(crate) fn new(text: &str) -> Option<Self> {
        let len = u8::try_from(text.len()).ok()?;
        if text.len() > N || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0; N];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Some(Self { bytes, len })
    }

    /// Builds a buffer from ASCII digits given as values `0..=9`.
    ///
    /// Digits beyond `N` are ignored; callers pass exactly as many as they need.
    pub(crate) fn from_digits(prefix: &str, digits: impl IntoIterator<Item = u8>) -> Self {
        let mut bytes = [0; N];
        let mut len = 0;
        for byte in prefix
            .bytes()
            .filter(u8::is_ascii)
            .chain(digits.into_iter().map(|d| b'0' + d % 10))
            .take(N)
        {
            bytes[len] = byte;
            len += 1;
        }
        Self {
            bytes,
            // `len <= N`, and every `N` used in this crate is below 256.
            len: u8::try_from(len).unwrap_or(u8::MAX),
        }
    }

    /// The stored text.
    pub(crate) fn as_str(&self) -> &str {
        match std::str::from_utf8(&self.bytes[..usize::from(self.len)]) {
            Ok(text) => text,
            // Invariant: `new` and `from_digits` only ever store ASCII bytes, and ASCII is
            // valid UTF-8, so this arm cannot run.
            Err(_) => unreachable!("AsciiBuf holds only ASCII"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AsciiBuf;

    #[test]
    fn stores_ascii_and_refuses_the_rest() {
        assert_eq!(
            AsciiBuf::<4>::new("ab1").map(|b| b.as_str().to_owned()),
            Some("ab1".into())
        );
        assert!(AsciiBuf::<4>::new("abcde").is_none());
        assert!(AsciiBuf::<8>::new("đ").is_none());
    }

    #[test]
    fn builds_from_digit_values() {
        let buf = AsciiBuf::<6>::from_digits("+8", [4, 9, 1, 2, 3]);
        assert_eq!(buf.as_str(), "+84912");
    }
}
