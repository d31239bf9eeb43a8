//! Tax identification numbers (mã số thuế) of organisations.
//!
//! Owns the two textual forms of a tax code, `N1…N10` and `N1…N10-N11N12N13`. It checks the
//! format only: the tenth digit is a check digit in the tax authority's scheme but is not
//! verified here, and whether a code was issued is a question for the business registry.

use crate::IdentifierError;
use crate::ascii::AsciiBuf;
use std::fmt;
use std::str::FromStr;

/// Digits of a head-office (or independent taxpayer's) tax code.
const HEAD_LEN: usize = 10;
/// Length of a dependent unit's tax code: ten digits, a hyphen and three digits.
const BRANCH_LEN: usize = HEAD_LEN + 4;

/// A tax code: 10 digits, or 10 digits, `-` and 3 digits for a dependent unit (branch,
/// representative office) of the taxpayer with the 10-digit code.
///
/// Format from Circular 105/2020/TT-BTC Art. 5: the 13-digit code of a dependent unit is
/// written `N1N2N3N4N5N6N7N8N9N10-N11N12N13`, where `N11N12N13` numbers the unit from 001.
/// Parsing trims surrounding whitespace and accepts no other separators.
///
/// Tax codes of organisations are public, so `Debug` shows the digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaxCode(AsciiBuf<BRANCH_LEN>);

impl TaxCode {
    /// The tax code as written, e.g. `0100109106` or `0100109106-001`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether this is the code of a dependent unit (it has the `-NNN` suffix).
    pub fn is_branch(&self) -> bool {
        self.as_str().len() == BRANCH_LEN
    }

    /// The code of the taxpayer itself: the first ten digits. A head-office code returns
    /// itself.
    pub fn head_office(&self) -> TaxCode {
        self.as_str()
            .get(..HEAD_LEN)
            .and_then(AsciiBuf::new)
            .map_or(*self, Self)
    }
}

impl FromStr for TaxCode {
    type Err = IdentifierError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        let valid = match text.len() {
            HEAD_LEN => all_digits(text),
            BRANCH_LEN => match text.split_once('-') {
                Some((head, unit)) => {
                    head.len() == HEAD_LEN
                        && all_digits(head)
                        && all_digits(unit)
                        // Units are numbered from 001 (Circular 105/2020/TT-BTC Art. 5).
                        && unit != "000"
                }
                None => false,
            },
            _ => false,
        };
        if !valid {
            return Err(IdentifierError::TaxCodeFormat);
        }
        AsciiBuf::new(text)
            .map(Self)
            .ok_or(IdentifierError::TaxCodeFormat)
    }
}

impl fmt::Display for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaxCode").field(&self.as_str()).finish()
    }
}

serde_via_str!(TaxCode, "a tax code");

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::TaxCode;
    use crate::IdentifierError;
    use proptest::prelude::*;

    fn tax_code(text: &str) -> TaxCode {
        text.parse().unwrap()
    }

    #[test]
    fn parses_head_office_and_branch_codes() {
        let head = tax_code("0100109106");
        assert!(!head.is_branch());
        assert_eq!(head.head_office(), head);

        let branch = tax_code(" 0100109106-001 ");
        assert_eq!(branch.as_str(), "0100109106-001");
        assert!(branch.is_branch());
        assert_eq!(branch.head_office(), head);
        assert_ne!(branch, head);
    }

    #[test]
    fn refuses_other_forms() {
        for text in [
            "",
            "010010910",
            "01001091061",
            "0100109106001",
            "0100109106-01",
            "0100109106-0001",
            "0100109106-000",
            "0100109106–001",
            "0100109106 001",
            "010010910A",
            "0100109106-00A",
            "010-0109106001",
            "-0100109106001",
            "０１００１０９１０６",
        ] {
            assert_eq!(
                text.parse::<TaxCode>(),
                Err(IdentifierError::TaxCodeFormat),
                "{text:?}"
            );
        }
    }

    #[test]
    fn serde_is_the_string() {
        let code = tax_code("0312345678-002");
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"0312345678-002\"");
        assert_eq!(
            serde_json::from_str::<TaxCode>("\"0312345678-002\"").unwrap(),
            code
        );
        assert!(serde_json::from_str::<TaxCode>("\"0312345678-\"").is_err());
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(text in "[0-9]{10}(-(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2}))?") {
            let code = tax_code(&text);
            prop_assert_eq!(code.to_string(), text.clone());
            prop_assert_eq!(code.to_string().parse::<TaxCode>(), Ok(code));
            prop_assert_eq!(code.is_branch(), text.len() == 14);
            prop_assert_eq!(code.head_office().to_string(), &text[..10]);
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = text.parse::<TaxCode>();
        }

        #[test]
        fn wrong_digit_counts_are_refused(head in "[0-9]{0,9}|[0-9]{11,13}", unit in "[0-9]{1,2}|[0-9]{4}") {
            prop_assert_eq!(head.parse::<TaxCode>(), Err(IdentifierError::TaxCodeFormat));
            let padded = format!("{:0<10}-{unit}", "");
            prop_assert_eq!(padded.parse::<TaxCode>(), Err(IdentifierError::TaxCodeFormat));
        }

        #[test]
        fn a_non_digit_in_the_head_is_refused(
            text in "[0-9]{10}",
            index in 0usize..10,
            replacement in "[^0-9]",
        ) {
            let mut text = text;
            text.replace_range(index..=index, &replacement);
            prop_assert!(text.parse::<TaxCode>().is_err());
        }
    }
}
