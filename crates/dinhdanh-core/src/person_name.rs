//! People's names.
//!
//! Owns the canonical form of a name (Unicode NFC, single spaces) and the accent-folded form
//! used to match names typed without diacritics. It does not split names into family, middle
//! and given parts: Vietnamese and foreign names order them differently. A name is personal
//! data: `Debug` masks it and errors never repeat it.

use crate::IdentifierError;
use std::fmt;
use std::str::FromStr;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// Most characters a name may have once normalised.
const MAX_CHARS: usize = 100;
/// Inputs longer than this are refused before normalisation, to bound the work spent on
/// hostile input; a 100-character name fully decomposed (NFD) with two marks per letter
/// needs about 500 bytes.
const MAX_INPUT_BYTES: usize = 1024;

/// A person's full name, in canonical form.
///
/// Parsing normalises to Unicode NFC (UAX #15), trims, collapses every run of whitespace to
/// one space and writes the typographic apostrophe `’` as `'`. The result must have 1 to 100
/// characters, at least one letter, and only letters of any script (with their combining
/// marks), spaces, apostrophes, hyphens and periods.
///
/// Equality is exact on the canonical form: `Nguyễn` and `Nguyen` differ, while `Nguyễn`
/// typed precomposed (NFC) or decomposed (NFD) is the same name. For accent-insensitive
/// matching compare [`PersonName::folded`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonName(String);

impl PersonName {
    /// The name in canonical form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without diacritics, with `đ`/`Đ` as `d`, in lower case: `Nguyễn Thị Đào`
    /// gives `nguyen thi dao`.
    ///
    /// For matching only (search, duplicate detection); never show it as the person's name.
    pub fn folded(&self) -> String {
        self.folded_chars().collect()
    }

    /// The characters of [`PersonName::folded`], without building the string: for hashing
    /// or comparing many names.
    pub fn folded_chars(&self) -> impl Iterator<Item = char> + '_ {
        self.0
            .nfd()
            .filter(|&c| !is_combining_mark(c))
            // Đ/đ (U+0110/U+0111) are letters of their own, not D with a combining mark, so
            // decomposition leaves them; Vietnamese folds them to d.
            .map(|c| match c {
                'đ' | 'Đ' => 'd',
                other => other,
            })
            .flat_map(char::to_lowercase)
    }
}

impl PersonName {
    /// Checks `text` as [`PersonName::from_str`] does and gives each character of its folded
    /// form ([`PersonName::folded`]) to `sink`, in order, without building the name: for
    /// hashing many names (an operator's whole file) where only the folded form is compared.
    ///
    /// Text of ASCII letters, precomposed Latin letters (every Vietnamese one among them),
    /// apostrophes, hyphens, periods and ASCII spaces takes a path of table lookups; anything
    /// else is parsed in full. Either way `sink` sees exactly the folded characters of the name
    /// `text` parses to, and nothing when it does not parse (the error is the same).
    pub fn fold_str(text: &str, mut sink: impl FnMut(char)) -> Result<(), IdentifierError> {
        if let Some(result) = fold_fast(text, &mut sink) {
            return result;
        }
        let name: PersonName = text.parse()?;
        name.folded_chars().for_each(sink);
        Ok(())
    }
}

/// The folded letter of each precomposed Latin letter the fast path takes (U+00C0 to
/// U+024F and U+1E00 to U+1EFF), as an ASCII lower-case letter; 0 for a character it leaves
/// to the full parse. Made once from the Unicode data the full parse uses.
fn fold_table() -> &'static [u8; FOLD_SPAN] {
    static TABLE: std::sync::OnceLock<[u8; FOLD_SPAN]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = [0u8; FOLD_SPAN];
        for (slot, c) in FOLD_RANGES
            .iter()
            .flat_map(|range| range.clone())
            .filter_map(char::from_u32)
            .enumerate()
        {
            // A letter already in NFC whose folded form is one ASCII letter.
            let mut folded = std::iter::once(c)
                .nfd()
                .filter(|&d| !is_combining_mark(d))
                .map(|d| match d {
                    'đ' | 'Đ' => 'd',
                    other => other,
                });
            let base = folded.next().map(|d| d.to_ascii_lowercase());
            if c.is_alphabetic()
                && unicode_normalization::is_nfc(c.encode_utf8(&mut [0; 4]))
                && folded.next().is_none()
                && let Some(base) = base.filter(char::is_ascii_lowercase)
            {
                table[slot] = base as u8;
            }
        }
        table
    })
}

/// The code points [`fold_table`] covers.
const FOLD_RANGES: [std::ops::RangeInclusive<u32>; 2] = [0xC0..=0x24F, 0x1E00..=0x1EFF];
const FOLD_SPAN: usize = (0x24F - 0xC0 + 1) + (0x1EFF - 0x1E00 + 1);

/// The table slot of `c`, if [`fold_table`] covers it.
fn fold_slot(c: char) -> Option<usize> {
    let code = c as u32;
    match code {
        0xC0..=0x24F => Some((code - 0xC0) as usize),
        0x1E00..=0x1EFF => Some((code - 0x1E00) as usize + (0x24F - 0xC0 + 1)),
        _ => None,
    }
}

/// Whether the fast path folds `c` itself.
fn known(table: &[u8; FOLD_SPAN], c: char) -> bool {
    c.is_ascii_alphabetic()
        || c == ' '
        || matches!(c, '\'' | '-' | '.')
        || fold_slot(c).is_some_and(|slot| table[slot] != 0)
}

/// [`PersonName::fold_str`] by table lookups, or `None` (nothing given to `sink`) for text
/// it leaves to the full parse.
fn fold_fast(text: &str, sink: &mut impl FnMut(char)) -> Option<Result<(), IdentifierError>> {
    if text.len() > MAX_INPUT_BYTES {
        return Some(Err(IdentifierError::PersonName));
    }
    let table = fold_table();
    // One pass into a buffer (every folded character here is ASCII); a character the fast
    // path does not know sends the whole text to the full parse.
    let mut folded = [0u8; MAX_CHARS];
    let mut chars = 0;
    let mut has_letter = false;
    let mut space_pending = false;
    for c in text.chars() {
        if c == ' ' {
            space_pending = chars > 0;
            continue;
        }
        let byte = if c.is_ascii_alphabetic() {
            has_letter = true;
            c.to_ascii_lowercase() as u8
        } else if matches!(c, '\'' | '-' | '.') {
            c as u8
        } else {
            match fold_slot(c).map(|slot| table[slot]) {
                Some(byte) if byte != 0 => {
                    has_letter = true;
                    byte
                }
                _ => return None,
            }
        };
        for byte in [b' ', byte].into_iter().skip(usize::from(!space_pending)) {
            let Some(slot) = folded.get_mut(chars) else {
                // Too long, unless a character ahead needs the full parse: it decides.
                return text
                    .chars()
                    .all(|c| known(table, c))
                    .then_some(Err(IdentifierError::PersonName));
            };
            *slot = byte;
            chars += 1;
        }
        space_pending = false;
    }
    if !has_letter {
        return Some(Err(IdentifierError::PersonName));
    }
    folded[..chars]
        .iter()
        .for_each(|byte| sink(char::from(*byte)));
    Some(Ok(()))
}

impl FromStr for PersonName {
    type Err = IdentifierError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() > MAX_INPUT_BYTES {
            return Err(IdentifierError::PersonName);
        }
        // Most input is in NFC already (precomposed Vietnamese letters): the quick check
        // spares normalising it again.
        match is_nfc_quick(text.chars()) {
            IsNormalized::Yes => canonical(text, text.chars()),
            IsNormalized::No | IsNormalized::Maybe => canonical(text, text.nfc()),
        }
    }
}

/// The canonical form of a name from its characters in NFC (see [`PersonName`]).
fn canonical(text: &str, nfc: impl Iterator<Item = char>) -> Result<PersonName, IdentifierError> {
    let mut name = String::with_capacity(text.len());
    let mut chars = 0;
    let mut has_letter = false;
    let mut space_pending = false;
    // Whether the previous character was a letter or mark that a combining mark can
    // attach to.
    let mut after_letter = false;
    for c in nfc {
        if c.is_whitespace() {
            space_pending = !name.is_empty();
            after_letter = false;
            continue;
        }
        if space_pending {
            name.push(' ');
            chars += 1;
            space_pending = false;
        }
        let c = if c == '\u{2019}' { '\'' } else { c };
        if is_combining_mark(c) {
            if !after_letter {
                return Err(IdentifierError::PersonName);
            }
        } else if c.is_alphabetic() {
            has_letter = true;
            after_letter = true;
        } else if matches!(c, '\'' | '-' | '.') {
            after_letter = false;
        } else {
            return Err(IdentifierError::PersonName);
        }
        name.push(c);
        chars += 1;
        if chars > MAX_CHARS {
            return Err(IdentifierError::PersonName);
        }
    }
    if !has_letter {
        return Err(IdentifierError::PersonName);
    }
    Ok(PersonName(name))
}

impl fmt::Display for PersonName {
    /// Writes the canonical name. This is personal data: log [`fmt::Debug`] instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PersonName {
    /// Writes `PersonName(***)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonName(***)")
    }
}

serde_via_str!(PersonName, "a person's name");

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{FOLD_RANGES, PersonName};
    use crate::IdentifierError;
    use proptest::prelude::*;
    use unicode_normalization::{UnicodeNormalization, is_nfc};

    fn name(text: &str) -> PersonName {
        text.parse().unwrap()
    }

    #[test]
    fn normalises_whitespace() {
        assert_eq!(name("  Nguyễn   Văn\tAn \n").as_str(), "Nguyễn Văn An");
        assert_eq!(name("Trần\u{00A0}Thị\u{3000}Bích"), name("Trần Thị Bích"));
    }

    #[test]
    fn nfd_input_equals_nfc_input() {
        let nfd: String = "Nguyễn Thị Đào".nfd().collect();
        assert_ne!(nfd, "Nguyễn Thị Đào");
        assert_eq!(name(&nfd), name("Nguyễn Thị Đào"));
        assert_eq!(name(&nfd).as_str(), "Nguyễn Thị Đào");
    }

    #[test]
    fn equality_keeps_diacritics() {
        assert_ne!(name("Nguyễn"), name("Nguyen"));
        assert_ne!(name("Đào"), name("Dao"));
        assert_ne!(name("Lê"), name("Lễ"));
    }

    #[test]
    fn folded_removes_diacritics_and_case() {
        assert_eq!(name("Nguyễn Thị Đào").folded(), "nguyen thi dao");
        assert_eq!(name("ĐẶNG Ngọc Ánh").folded(), "dang ngoc anh");
        assert_eq!(
            name("Nguyen Thi Dao").folded(),
            name("Nguyễn Thị Đào").folded()
        );
        assert_eq!(
            name("Jean-Luc O'Brien Jr.").folded(),
            "jean-luc o'brien jr."
        );
    }

    #[test]
    fn accepts_names_of_other_scripts_and_punctuation() {
        for text in [
            "王小明",
            "Kim Min-jun",
            "O'Brien",
            "O’Brien",
            "Hồ Chí Minh",
            "Y Ngông Niê Kdăm",
            "अनुष्का शर्मा",
            "Łukasz Żółw",
            "José María Aznar Jr.",
            "A",
        ] {
            assert!(text.parse::<PersonName>().is_ok(), "{text:?}");
        }
        assert_eq!(name("O’Brien"), name("O'Brien"));
    }

    #[test]
    fn refuses_other_characters() {
        for text in [
            "",
            "   ",
            "Nguyễn Văn 2",
            "Nguyễn_Văn",
            "nguyen@example.com",
            "Trần, Thị",
            "Lê 😀",
            "Anh\u{200B}Thư",
            "-",
            "'.-",
            "\u{0301}An",
            "An \u{0301}",
            "<script>",
        ] {
            assert_eq!(
                text.parse::<PersonName>(),
                Err(IdentifierError::PersonName),
                "{text:?}"
            );
        }
    }

    #[test]
    fn length_is_counted_in_characters_after_normalisation() {
        let hundred = "ễ".repeat(100);
        assert!(hundred.parse::<PersonName>().is_ok());
        let hundred_nfd: String = hundred.nfd().collect();
        assert_eq!(name(&hundred_nfd).as_str(), hundred);
        assert_eq!(
            "ễ".repeat(101).parse::<PersonName>(),
            Err(IdentifierError::PersonName)
        );
        assert!(
            format!("  {}  ", "a".repeat(100))
                .parse::<PersonName>()
                .is_ok()
        );
        assert!("a ".repeat(2000).parse::<PersonName>().is_err());
    }

    #[test]
    fn debug_hides_the_name() {
        let n = name("Phạm Minh Chính");
        assert_eq!(format!("{n:?}"), "PersonName(***)");
    }

    #[test]
    fn serde_normalises_and_validates() {
        let json = serde_json::to_string(&"Nguyễn  Văn An".nfd().collect::<String>()).unwrap();
        let parsed: PersonName = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"Nguyễn Văn An\"");
        let error = serde_json::from_str::<PersonName>("\"Agent 007\"").unwrap_err();
        assert!(!error.to_string().contains("007"), "{error}");
    }

    fn fold_text(text: &str) -> Result<String, IdentifierError> {
        let mut folded = String::new();
        PersonName::fold_str(text, |c| folded.push(c)).map(|()| folded)
    }

    #[test]
    fn folding_from_text_agrees_with_the_full_parse_on_every_precomposed_letter() {
        for code in FOLD_RANGES.iter().flat_map(|range| range.clone()) {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            for text in [format!("{c}"), format!(" An {c}{c}  x "), format!("{c}-'.")] {
                assert_eq!(
                    fold_text(&text),
                    text.parse::<PersonName>().map(|n| n.folded()),
                    "U+{code:04X}"
                );
            }
        }
        let composed_at_the_end = format!("{}e\u{301}", "a".repeat(99));
        let too_long = format!("{} {}", "a".repeat(60), "b".repeat(40));
        for text in [
            "",
            "   ",
            "-",
            "a".repeat(101).as_str(),
            "a".repeat(100).as_str(),
            composed_at_the_end.as_str(),
            too_long.as_str(),
            "Nguyễn  Thị\tĐào",
            "Lê’s",
        ] {
            assert_eq!(
                fold_text(text),
                text.parse::<PersonName>().map(|n| n.folded()),
                "{text:?}"
            );
        }
    }

    const VIETNAMESE_LETTERS: &str = "[a-zA-ZàáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵĐÂĂÊÔƠƯẮẰẲẴẶẤẦẨẪẬẾỀỂỄỆỐỒỔỖỘỚỜỞỠỢỨỪỬỮỰ]{1,7}";

    fn vietnamese_name() -> impl Strategy<Value = String> {
        prop::collection::vec(VIETNAMESE_LETTERS, 1..6).prop_map(|words| words.join(" "))
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(text in vietnamese_name()) {
            let n = name(&text);
            prop_assert_eq!(n.as_str(), text.as_str());
            prop_assert_eq!(n.to_string().parse::<PersonName>(), Ok(n.clone()));
            let json = serde_json::to_string(&n).unwrap();
            prop_assert_eq!(serde_json::from_str::<PersonName>(&json).unwrap(), n);
        }

        #[test]
        fn decomposed_and_spaced_out_forms_are_the_same_name(
            text in vietnamese_name(),
            gap in "[ \t\n\u{00A0}]{1,3}",
        ) {
            let nfd: String = text.nfd().collect();
            let spaced = format!("{gap}{}{gap}", nfd.replace(' ', &gap));
            prop_assert_eq!(name(&spaced), name(&text));
        }

        #[test]
        fn folding_vietnamese_gives_plain_ascii(text in vietnamese_name()) {
            let folded = name(&text).folded();
            prop_assert!(folded.bytes().all(|b| b.is_ascii_lowercase() || b == b' '), "{}", folded);
            prop_assert_eq!(folded.chars().count(), text.chars().count());
        }

        #[test]
        fn a_forbidden_character_anywhere_is_refused(
            text in vietnamese_name(),
            index in any::<prop::sample::Index>(),
            bad in "[0-9_@,;:!?/\\\\<>()\\[\\]{}#$%&*+=|~\"]",
        ) {
            let mut chars: Vec<char> = text.chars().collect();
            let at = index.index(chars.len() + 1);
            chars.splice(at..at, bad.chars());
            let mutated: String = chars.into_iter().collect();
            prop_assert_eq!(mutated.parse::<PersonName>(), Err(IdentifierError::PersonName));
        }

        #[test]
        fn folding_from_text_is_parsing_then_folding(
            text in "[ a-zA-Z'.\\-àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵĐÂĂÊÔƠƯẮẰẲẴẶẤẦẨẪẬẾỀỂỄỆỐỒỔỖỘỚỜỞỠỢỨỪỬỮỰßÆØÞŁ\u{0300}\u{2019}\t0]{0,12}",
        ) {
            prop_assert_eq!(fold_text(&text), text.parse::<PersonName>().map(|n| n.folded()));
        }

        #[test]
        fn folding_any_text_is_parsing_then_folding(text in any::<String>()) {
            prop_assert_eq!(fold_text(&text), text.parse::<PersonName>().map(|n| n.folded()));
        }

        #[test]
        fn arbitrary_text_never_panics_and_results_are_canonical(text in any::<String>()) {
            if let Ok(n) = text.parse::<PersonName>() {
                let s = n.as_str();
                prop_assert!(is_nfc(s));
                prop_assert_eq!(s.trim(), s);
                prop_assert!(!s.contains("  "));
                prop_assert!((1..=100).contains(&s.chars().count()));
            }
        }
    }
}
