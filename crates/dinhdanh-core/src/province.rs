//! Birth-registration province codes: the first three digits of a citizen number.
//!
//! Owns the table of the 63 codes from Annex 1 of Circular 07/2016/TT-BCA (Ministry of Public
//! Security), as listed in `shared/data/province-codes.csv`. The codes name the province as it
//! was when the birth was registered; they stay valid after the 2025 merger of provinces, so
//! this table must not be rewritten to today's map. The table has gaps (there is no 003 or 097).

use std::fmt;

/// A birth-registration province: a code of [`PROVINCES`] and its Vietnamese name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Province {
    /// The three-digit code as a number (`1` is written `001` in a citizen number).
    pub code: u16,
    /// The province's name in Vietnamese (NFC), as in Circular 07/2016/TT-BCA Annex 1.
    pub name: &'static str,
}

impl fmt::Display for Province {
    /// Writes the zero-padded code and the name, e.g. `001 Hà Nội`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03} {}", self.code, self.name)
    }
}

const fn p(code: u16, name: &'static str) -> Province {
    Province { code, name }
}

/// The 63 birth-registration provinces, sorted by code.
///
/// Source: Circular 07/2016/TT-BCA, Annex 1 (`shared/data/province-codes.csv`).
pub static PROVINCES: [Province; 63] = [
    p(1, "Hà Nội"),
    p(2, "Hà Giang"),
    p(4, "Cao Bằng"),
    p(6, "Bắc Kạn"),
    p(8, "Tuyên Quang"),
    p(10, "Lào Cai"),
    p(11, "Điện Biên"),
    p(12, "Lai Châu"),
    p(14, "Sơn La"),
    p(15, "Yên Bái"),
    p(17, "Hòa Bình"),
    p(19, "Thái Nguyên"),
    p(20, "Lạng Sơn"),
    p(22, "Quảng Ninh"),
    p(24, "Bắc Giang"),
    p(25, "Phú Thọ"),
    p(26, "Vĩnh Phúc"),
    p(27, "Bắc Ninh"),
    p(30, "Hải Dương"),
    p(31, "Hải Phòng"),
    p(33, "Hưng Yên"),
    p(34, "Thái Bình"),
    p(35, "Hà Nam"),
    p(36, "Nam Định"),
    p(37, "Ninh Bình"),
    p(38, "Thanh Hóa"),
    p(40, "Nghệ An"),
    p(42, "Hà Tĩnh"),
    p(44, "Quảng Bình"),
    p(45, "Quảng Trị"),
    p(46, "Thừa Thiên Huế"),
    p(48, "Đà Nẵng"),
    p(49, "Quảng Nam"),
    p(51, "Quảng Ngãi"),
    p(52, "Bình Định"),
    p(54, "Phú Yên"),
    p(56, "Khánh Hòa"),
    p(58, "Ninh Thuận"),
    p(60, "Bình Thuận"),
    p(62, "Kon Tum"),
    p(64, "Gia Lai"),
    p(66, "Đắk Lắk"),
    p(67, "Đắk Nông"),
    p(68, "Lâm Đồng"),
    p(70, "Bình Phước"),
    p(72, "Tây Ninh"),
    p(74, "Bình Dương"),
    p(75, "Đồng Nai"),
    p(77, "Bà Rịa - Vũng Tàu"),
    p(79, "Hồ Chí Minh"),
    p(80, "Long An"),
    p(82, "Tiền Giang"),
    p(83, "Bến Tre"),
    p(84, "Trà Vinh"),
    p(86, "Vĩnh Long"),
    p(87, "Đồng Tháp"),
    p(89, "An Giang"),
    p(91, "Kiên Giang"),
    p(92, "Cần Thơ"),
    p(93, "Hậu Giang"),
    p(94, "Sóc Trăng"),
    p(95, "Bạc Liêu"),
    p(96, "Cà Mau"),
];

/// The province with this code, if the code is one of [`PROVINCES`].
pub fn province(code: u16) -> Option<&'static Province> {
    PROVINCES
        .binary_search_by_key(&code, |province| province.code)
        .ok()
        .and_then(|index| PROVINCES.get(index))
}

#[cfg(test)]
mod tests {
    use super::{PROVINCES, province};
    use unicode_normalization::is_nfc;

    #[test]
    fn table_is_sorted_unique_and_within_001_to_096() {
        assert!(PROVINCES.windows(2).all(|w| w[0].code < w[1].code));
        assert_eq!(PROVINCES.first().map(|p| p.code), Some(1));
        assert_eq!(PROVINCES.last().map(|p| p.code), Some(96));
    }

    #[test]
    fn names_are_nfc_and_non_empty() {
        for p in &PROVINCES {
            assert!(!p.name.is_empty() && is_nfc(p.name), "{}", p.code);
        }
    }

    #[test]
    fn looks_up_known_codes() {
        assert_eq!(province(1).map(|p| p.name), Some("Hà Nội"));
        assert_eq!(province(79).map(|p| p.name), Some("Hồ Chí Minh"));
        assert_eq!(province(96).map(|p| p.name), Some("Cà Mau"));
        assert_eq!(province(48).map(|p| p.name), Some("Đà Nẵng"));
    }

    #[test]
    fn refuses_codes_outside_the_table() {
        for code in [0, 3, 5, 97, 99, 100, 999, u16::MAX] {
            assert!(province(code).is_none(), "{code}");
        }
    }

    #[test]
    fn displays_zero_padded_code_and_name() {
        assert_eq!(
            province(1).map(ToString::to_string).as_deref(),
            Some("001 Hà Nội")
        );
    }
}
