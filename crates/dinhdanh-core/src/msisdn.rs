//! Vietnamese mobile subscriber numbers (MSISDN).
//!
//! Owns how a number typed by a person is normalised to E.164, and the table of national
//! destination codes allocated to mobile networks. A number is personal data: `Debug` masks
//! it and errors never repeat it. It does not tell who currently serves a number: numbers
//! are portable between networks, so [`Msisdn::operator_hint`] is only the original
//! allocation.

use crate::IdentifierError;
use crate::ascii::AsciiBuf;
use std::fmt;
use std::str::FromStr;

/// `+84` followed by the 9-digit national significant number.
const LEN: usize = 12;
/// Vietnam's country code (ITU-T E.164 assignment).
const COUNTRY_CODE: &str = "84";
/// Digits of a national significant number of a mobile subscriber.
const NSN_LEN: usize = 9;
/// More digits than this cannot be a Vietnamese number in any accepted form
/// (`0084` + trunk `0` + 9 digits); the parser stops counting there.
const MAX_DIGITS: usize = 14;

/// A mobile network that a number range was allocated to.
///
/// Serialised in lower case (`"viettel"`, `"mobifone"`, …).
///
/// A hint only: since mobile number portability (2019) a subscriber keeps the number when
/// changing network, so the range does not prove which network serves the number today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MobileNetwork {
    /// Viettel Telecom.
    Viettel,
    /// VinaPhone (VNPT).
    Vinaphone,
    /// MobiFone.
    MobiFone,
    /// Vietnamobile.
    Vietnamobile,
    /// Gmobile (GTel Mobile).
    Gmobile,
    /// Itelecom (Indochina Telecom), a virtual network on VinaPhone's infrastructure.
    Itelecom,
    /// Reddi (formerly Mobicast), a virtual network.
    Reddi,
}

str_enum!(MobileNetwork, IdentifierError::MobileNetwork, "a mobile network name", {
    Viettel => "viettel",
    Vinaphone => "vinaphone",
    MobiFone => "mobifone",
    Vietnamobile => "vietnamobile",
    Gmobile => "gmobile",
    Itelecom => "itelecom",
    Reddi => "reddi",
});

/// National destination codes of mobile networks: the two digits after the trunk `0`
/// (or after `+84`), sorted.
///
/// Sources:
/// - the 10-digit plan and the conversion of 11-digit numbers from 15 September 2018
///   (Decision 798/QĐ-BTTTT of 25 May 2018): Viettel 016x → 03x, VinaPhone 0123/0124/0125/
///   0127/0129 → 083/084/085/081/082, MobiFone 0120/0121/0122/0126/0128 → 070/079/077/076/078,
///   Vietnamobile 0186/0188 → 056/058, Gmobile 0199 → 059; the older 09x and 086/088/089 ranges
///   were kept;
/// - later allocations: Itelecom 087 (launched April 2019), Reddi 055, Vietnamobile 052 (as
///   listed in libphonenumber's carrier data for +84).
///
/// libphonenumber also lists 030 and 051 for MobiFone; without an allocation decision to
/// confirm them they are left out, and such numbers are refused until one is found.
const MOBILE_CODES: [(u8, MobileNetwork); 36] = {
    use MobileNetwork::{Gmobile, Itelecom, MobiFone, Reddi, Vietnamobile, Viettel, Vinaphone};
    [
        (32, Viettel),
        (33, Viettel),
        (34, Viettel),
        (35, Viettel),
        (36, Viettel),
        (37, Viettel),
        (38, Viettel),
        (39, Viettel),
        (52, Vietnamobile),
        (55, Reddi),
        (56, Vietnamobile),
        (58, Vietnamobile),
        (59, Gmobile),
        (70, MobiFone),
        (76, MobiFone),
        (77, MobiFone),
        (78, MobiFone),
        (79, MobiFone),
        (81, Vinaphone),
        (82, Vinaphone),
        (83, Vinaphone),
        (84, Vinaphone),
        (85, Vinaphone),
        (86, Viettel),
        (87, Itelecom),
        (88, Vinaphone),
        (89, MobiFone),
        (90, MobiFone),
        (91, Vinaphone),
        (92, Vietnamobile),
        (93, MobiFone),
        (94, Vinaphone),
        (96, Viettel),
        (97, Viettel),
        (98, Viettel),
        (99, Gmobile),
    ]
};

impl MobileNetwork {
    /// The national destination codes allocated to the network (the two digits after `+84`),
    /// in ascending order.
    pub fn codes(self) -> impl Iterator<Item = u8> {
        MOBILE_CODES
            .into_iter()
            .filter(move |&(_, network)| network == self)
            .map(|(code, _)| code)
    }
}

/// The network a national destination code was allocated to.
fn mobile_network(code: u8) -> Option<MobileNetwork> {
    MOBILE_CODES
        .binary_search_by_key(&code, |&(code, _)| code)
        .ok()
        .and_then(|index| MOBILE_CODES.get(index))
        .map(|&(_, network)| network)
}

/// A Vietnamese mobile number in E.164 form, `+84` and nine digits.
///
/// Parsing accepts the ways people write a number: national (`0912345678`), international
/// (`+84912345678`, `84912345678`, `0084912345678`), with a redundant trunk zero
/// (`+84 (0) 912 345 678`), and grouped with spaces, `-`, `.` or parentheses. It refuses
/// landlines (`02x`), numbers of other countries and ranges not allocated to a mobile
/// network ([`IdentifierError::MsisdnNotMobile`]), and anything with other characters or the
/// wrong number of digits ([`IdentifierError::MsisdnFormat`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Msisdn(AsciiBuf<LEN>);

impl Msisdn {
    /// The number in E.164 form, e.g. `+84912345678`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The number in national form with the trunk prefix, e.g. `0912345678`.
    pub fn national(&self) -> String {
        format!("0{}", self.significant())
    }

    /// The nine-digit national significant number.
    fn significant(&self) -> &str {
        self.as_str()
            .get(1 + COUNTRY_CODE.len()..)
            .unwrap_or_default()
    }

    /// The network the number's range was allocated to. A hint only: see [`MobileNetwork`].
    pub fn operator_hint(&self) -> Option<MobileNetwork> {
        self.significant()
            .get(..2)
            .and_then(|code| code.parse().ok())
            .and_then(mobile_network)
    }

    /// The number with the middle digits hidden, e.g. `+8491*****78`, for display to its
    /// owner (the network code and the last two digits stay visible).
    pub fn masked(&self) -> String {
        let text = self.as_str();
        format!(
            "{}*****{}",
            text.get(..5).unwrap_or_default(),
            text.get(LEN - 2..).unwrap_or_default()
        )
    }
}

impl FromStr for Msisdn {
    type Err = IdentifierError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (plus, rest) = match text.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut digits = String::with_capacity(MAX_DIGITS);
        for c in rest.chars() {
            match c {
                '0'..='9' if digits.len() < MAX_DIGITS => digits.push(c),
                '0'..='9' => return Err(IdentifierError::MsisdnFormat),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(IdentifierError::MsisdnFormat),
            }
        }
        if digits.is_empty() {
            return Err(IdentifierError::MsisdnFormat);
        }

        // ITU-T E.164: with '+' the country code follows; without it, a number is national
        // (trunk prefix 0), carries the international prefix 00 and the country code, or
        // (common in forms) is the country code and the 9 digits without '+'.
        let significant = if plus {
            digits
                .strip_prefix(COUNTRY_CODE)
                .ok_or(IdentifierError::MsisdnNotMobile)?
        } else if let Some(international) = digits.strip_prefix("00") {
            international
                .strip_prefix(COUNTRY_CODE)
                .ok_or(IdentifierError::MsisdnNotMobile)?
        } else if let Some(national) = digits.strip_prefix('0') {
            national
        } else if digits.len() > NSN_LEN {
            digits
                .strip_prefix(COUNTRY_CODE)
                .ok_or(IdentifierError::MsisdnFormat)?
        } else {
            return Err(IdentifierError::MsisdnFormat);
        };
        // "+84 (0) 91…": a trunk zero written after the country code.
        let significant = match significant.strip_prefix('0') {
            Some(rest) if rest.len() == NSN_LEN => rest,
            _ => significant,
        };

        // Geographic (landline) numbers start with 2 since the 2017 area-code change.
        if significant.starts_with('2') {
            return Err(IdentifierError::MsisdnNotMobile);
        }
        if significant.len() != NSN_LEN {
            return Err(IdentifierError::MsisdnFormat);
        }
        let code = significant
            .get(..2)
            .and_then(|code| code.parse().ok())
            .ok_or(IdentifierError::MsisdnFormat)?;
        if mobile_network(code).is_none() {
            return Err(IdentifierError::MsisdnNotMobile);
        }
        let e164 = AsciiBuf::from_digits(
            "+84",
            significant.bytes().map(|byte| byte.wrapping_sub(b'0')),
        );
        Ok(Self(e164))
    }
}

impl fmt::Display for Msisdn {
    /// Writes the E.164 form. This is personal data: log [`fmt::Debug`] instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Msisdn {
    /// Writes only the last two digits, e.g. `Msisdn(+84*******78)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last_two = self.as_str().get(LEN - 2..).unwrap_or_default();
        write!(f, "Msisdn(+84*******{last_two})")
    }
}

serde_via_str!(Msisdn, "a Vietnamese mobile number");

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{MOBILE_CODES, MobileNetwork, Msisdn};
    use crate::IdentifierError;
    use proptest::prelude::*;

    fn msisdn(text: &str) -> Msisdn {
        text.parse().unwrap()
    }

    #[test]
    fn each_network_has_its_codes_and_every_code_one_network() {
        let viettel: Vec<u8> = MobileNetwork::Viettel.codes().collect();
        assert_eq!(viettel, [32, 33, 34, 35, 36, 37, 38, 39, 86, 96, 97, 98]);
        let all: usize = MobileNetwork::ALL.iter().map(|n| n.codes().count()).sum();
        assert_eq!(all, MOBILE_CODES.len());
        for network in MobileNetwork::ALL {
            for code in network.codes() {
                let number = msisdn(&format!("+84{code}1234567"));
                assert_eq!(number.operator_hint(), Some(*network));
            }
        }
    }

    #[test]
    fn accepts_the_usual_ways_of_writing_a_number() {
        for text in [
            "0912345678",
            "+84912345678",
            "+84 91 234 5678",
            "84912345678",
            "+84-91-234-5678",
            "(091) 234.5678",
            "091.234.5678",
            "0084 912 345 678",
            "+84 (0) 912 345 678",
            "  0912 345 678 ",
        ] {
            assert_eq!(msisdn(text).as_str(), "+84912345678", "{text:?}");
        }
    }

    #[test]
    fn national_and_e164_forms() {
        let n = msisdn("0388123456");
        assert_eq!(n.as_str(), "+84388123456");
        assert_eq!(n.national(), "0388123456");
        assert_eq!(n.to_string(), "+84388123456");
    }

    #[test]
    fn operator_hints_follow_the_allocation_table() {
        use MobileNetwork::*;
        let allocations: [(&[u8], MobileNetwork); 7] = [
            (&[86, 96, 97, 98, 32, 33, 34, 35, 36, 37, 38, 39], Viettel),
            (&[88, 91, 94, 81, 82, 83, 84, 85], Vinaphone),
            (&[89, 90, 93, 70, 76, 77, 78, 79], MobiFone),
            (&[92, 56, 58, 52], Vietnamobile),
            (&[99, 59], Gmobile),
            (&[87], Itelecom),
            (&[55], Reddi),
        ];
        let mut count = 0;
        for (codes, network) in allocations {
            for code in codes {
                let n = msisdn(&format!("0{code}1234567"));
                assert_eq!(n.operator_hint(), Some(network), "0{code}");
                count += 1;
            }
        }
        assert_eq!(count, MOBILE_CODES.len());
    }

    #[test]
    fn refuses_landlines_foreign_and_unallocated_numbers() {
        for text in [
            "02438123456",
            "+84 24 3812 3456",
            "02812345678",
            "0236123456",
            "+1 202 555 0143",
            "0044 20 7946 0958",
            "0951234567",
            "0801234567",
            "0311234567",
            "0501234567",
            "0121234567",
        ] {
            assert_eq!(
                text.parse::<Msisdn>(),
                Err(IdentifierError::MsisdnNotMobile),
                "{text:?}"
            );
        }
    }

    #[test]
    fn refuses_wrong_lengths_letters_and_stray_characters() {
        for text in [
            "",
            "+",
            "091234567",
            "09123456789",
            "912345678",
            "+849123456789",
            "0912 345 67a",
            "0912/345/678",
            "091234567８",
            "0912_345_678",
            "+84+912345678",
            "01234567890123456789",
        ] {
            assert_eq!(
                text.parse::<Msisdn>(),
                Err(IdentifierError::MsisdnFormat),
                "{text:?}"
            );
        }
    }

    #[test]
    fn old_eleven_digit_numbers_are_refused() {
        // 0169… became 039… in 2018; the old form is no longer dialable.
        assert!("01691234567".parse::<Msisdn>().is_err());
    }

    #[test]
    fn debug_and_masked_hide_the_number() {
        let n = msisdn("0912345678");
        assert_eq!(format!("{n:?}"), "Msisdn(+84*******78)");
        assert_eq!(n.masked(), "+8491*****78");
    }

    #[test]
    fn mobile_network_wire_forms() {
        assert_eq!(MobileNetwork::ALL.len(), 7);
        for network in MobileNetwork::ALL {
            assert_eq!(network.as_str().parse::<MobileNetwork>(), Ok(*network));
        }
        assert_eq!(
            serde_json::to_string(&MobileNetwork::MobiFone).unwrap(),
            "\"mobifone\""
        );
        assert_eq!(
            "Viettel".parse::<MobileNetwork>(),
            Err(IdentifierError::MobileNetwork)
        );
    }

    #[test]
    fn serde_is_the_e164_string() {
        let n = msisdn("0912345678");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"+84912345678\"");
        assert_eq!(
            serde_json::from_str::<Msisdn>("\"091 234 5678\"").unwrap(),
            n
        );
        let error = serde_json::from_str::<Msisdn>("\"02438123456\"").unwrap_err();
        assert!(!error.to_string().contains("38123456"), "{error}");
    }

    #[test]
    fn allocation_table_is_sorted_and_unique() {
        assert!(MOBILE_CODES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(
            MOBILE_CODES
                .iter()
                .all(|&(code, _)| (30..100).contains(&code))
        );
    }

    fn mobile_code() -> impl Strategy<Value = u8> {
        proptest::sample::select(
            MOBILE_CODES
                .iter()
                .map(|&(code, _)| code)
                .collect::<Vec<_>>(),
        )
    }

    fn subscriber() -> impl Strategy<Value = String> {
        "[0-9]{7}"
    }

    /// Writes a number (two-digit code, seven digits) in one of the accepted styles.
    fn written(code: u8, rest: &str, style: usize) -> String {
        let (a, b) = rest.split_at(3);
        match style {
            0 => format!("0{code}{rest}"),
            1 => format!("+84{code}{rest}"),
            2 => format!("84{code}{rest}"),
            3 => format!("+84 {code} {a} {b}"),
            4 => format!("+84-{code}-{a}-{b}"),
            5 => format!("(0{code}) {a}.{b}"),
            6 => format!("0{code}.{a}.{b}"),
            7 => format!("0084 {code} {a} {b}"),
            8 => format!("+84 (0) {code} {a} {b}"),
            _ => format!(" 0{code}-{a} {b}\t"),
        }
    }

    proptest! {
        #[test]
        fn every_written_form_normalises_to_the_same_number(
            code in mobile_code(),
            rest in subscriber(),
        ) {
            let expected = format!("+84{code}{rest}");
            for style in 0..10 {
                let text = written(code, &rest, style);
                let parsed = text.parse::<Msisdn>();
                prop_assert_eq!(parsed.map(|n| n.to_string()), Ok(expected.clone()), "{:?}", text);
            }
        }

        #[test]
        fn display_then_parse_round_trips(code in mobile_code(), rest in subscriber()) {
            let n = msisdn(&format!("0{code}{rest}"));
            prop_assert_eq!(n.to_string().parse::<Msisdn>(), Ok(n));
            prop_assert_eq!(n.national().parse::<Msisdn>(), Ok(n));
            let json = serde_json::to_string(&n).unwrap();
            prop_assert_eq!(serde_json::from_str::<Msisdn>(&json).unwrap(), n);
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = text.parse::<Msisdn>();
        }

        #[test]
        fn arbitrary_number_like_text_never_panics(text in "[+]?[0-9 ().-]{0,20}") {
            if let Ok(n) = text.parse::<Msisdn>() {
                prop_assert_eq!(n.as_str().len(), 12);
                prop_assert!(n.operator_hint().is_some());
            }
        }

        #[test]
        fn a_digit_more_or_less_is_refused(code in mobile_code(), rest in subscriber(), extra in 0u8..10) {
            let short = format!("0{code}{}", &rest[1..]);
            let long = format!("0{code}{rest}{extra}");
            prop_assert_eq!(short.parse::<Msisdn>(), Err(IdentifierError::MsisdnFormat));
            prop_assert_eq!(long.parse::<Msisdn>(), Err(IdentifierError::MsisdnFormat));
        }

        #[test]
        fn a_letter_anywhere_is_refused(
            code in mobile_code(),
            rest in subscriber(),
            index in 0usize..10,
            letter in "[a-zA-Z]",
        ) {
            let mut text = format!("0{code}{rest}");
            text.replace_range(index..=index, &letter);
            prop_assert_eq!(text.parse::<Msisdn>(), Err(IdentifierError::MsisdnFormat));
        }

        #[test]
        fn landlines_are_refused(area in 20u8..30, rest in "[0-9]{8}") {
            let text = format!("0{area}{rest}");
            prop_assert_eq!(text.parse::<Msisdn>(), Err(IdentifierError::MsisdnNotMobile));
        }

        #[test]
        fn unallocated_codes_are_refused(code in 10u8..100, rest in subscriber()) {
            prop_assume!(MOBILE_CODES.iter().all(|&(allocated, _)| allocated != code));
            let text = format!("0{code}{rest}");
            prop_assert_eq!(text.parse::<Msisdn>(), Err(IdentifierError::MsisdnNotMobile));
        }
    }
}
