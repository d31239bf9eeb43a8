//! Frequency tables behind the generator: family, middle and given names, the age pyramid, and
//! the population of each birth-registration province.
//!
//! This module owns reference numbers only; it never draws random values. Weights are relative
//! integers (a table need not sum to any particular total). Every name is written in NFC with
//! the traditional tone-mark placement used in the civil registry ("Hòa", "Thủy").

/// Family names with their share of the population in hundredths of a percent (10,000 = 100 %).
///
/// Source: the frequencies usually quoted for Vietnamese family names (Lê Trung Hoa, *Họ và
/// tên người Việt Nam*, as summarised in Wikipedia's "Vietnamese name" article, 2005 figures):
/// Nguyễn 38 %, Trần 11 %, Lê 9.5 %, Phạm 7.1 %, Hoàng/Huỳnh 5.1 %, Phan 4.5 %, Vũ/Võ 3.9 %,
/// Đặng 2.1 %, Bùi 2 %, Đỗ 1.4 %, Hồ 1.3 %, Ngô 1.3 %, Dương 1 %, Lý 0.5 %. Hoàng/Huỳnh and
/// Vũ/Võ are one name spelled differently in the North and the South; the split between the
/// spellings and the long tail (the remaining 11.3 %) are our estimates.
pub(crate) const FAMILY_NAMES: &[(&str, u32)] = &[
    ("Nguyễn", 3800),
    ("Trần", 1100),
    ("Lê", 950),
    ("Phạm", 710),
    ("Hoàng", 300),
    ("Huỳnh", 210),
    ("Phan", 450),
    ("Vũ", 200),
    ("Võ", 190),
    ("Đặng", 210),
    ("Bùi", 200),
    ("Đỗ", 140),
    ("Hồ", 130),
    ("Ngô", 130),
    ("Dương", 100),
    ("Lý", 50),
    // The long tail: 11.3 % shared by less frequent names.
    ("Đào", 90),
    ("Đoàn", 90),
    ("Trương", 90),
    ("Đinh", 90),
    ("Trịnh", 80),
    ("Lâm", 60),
    ("Mai", 60),
    ("Lương", 60),
    ("Hà", 60),
    ("Lưu", 50),
    ("Cao", 50),
    ("Tạ", 30),
    ("Tô", 30),
    ("Vương", 30),
    ("Phùng", 30),
    ("Châu", 30),
    ("Thái", 30),
    ("Triệu", 30),
    ("Kiều", 20),
    ("Quách", 20),
    ("La", 20),
    ("Văn", 20),
    ("Từ", 10),
    ("Hứa", 10),
    ("Giang", 10),
    ("Tăng", 10),
    ("Khúc", 10),
    ("Âu", 10),
];

/// Birth year before which the "older" middle-name weights apply: Văn and Thị were the
/// default middle names for most of the twentieth century and have been giving way to a wider
/// choice since about 1990 (our estimate).
pub(crate) const MIDDLE_NAME_SHIFT_YEAR: i16 = 1990;

/// Male middle names: (name, weight for people born before [`MIDDLE_NAME_SHIFT_YEAR`], weight
/// for people born since). Our estimates.
pub(crate) const MALE_MIDDLE_NAMES: &[(&str, u32, u32)] = &[
    ("Văn", 45, 12),
    ("Đức", 8, 10),
    ("Minh", 5, 14),
    ("Hữu", 7, 4),
    ("Quang", 5, 7),
    ("Công", 5, 4),
    ("Thành", 4, 5),
    ("Ngọc", 4, 4),
    ("Xuân", 4, 3),
    ("Trung", 2, 3),
    ("Quốc", 3, 6),
    ("Gia", 1, 8),
    ("Tuấn", 2, 4),
    ("Đình", 5, 3),
    ("Mạnh", 2, 3),
    ("Thanh", 3, 4),
    ("Bá", 2, 1),
    ("Duy", 2, 5),
    ("Hoàng", 2, 5),
    ("Nhật", 1, 5),
    ("Anh", 1, 4),
];

/// Female middle names, weighted as [`MALE_MIDDLE_NAMES`]. Our estimates.
pub(crate) const FEMALE_MIDDLE_NAMES: &[(&str, u32, u32)] = &[
    ("Thị", 60, 20),
    ("Ngọc", 5, 10),
    ("Thanh", 5, 6),
    ("Thu", 5, 6),
    ("Minh", 1, 8),
    ("Phương", 2, 5),
    ("Bảo", 1, 7),
    ("Khánh", 1, 6),
    ("Mai", 2, 4),
    ("Hồng", 4, 3),
    ("Kim", 4, 4),
    ("Thúy", 3, 2),
    ("Diệu", 1, 3),
    ("Hoài", 1, 3),
    ("Mỹ", 2, 3),
    ("Như", 1, 3),
    ("Quỳnh", 1, 4),
    ("Ánh", 1, 2),
    ("Hải", 1, 3),
    ("Tuệ", 1, 3),
];

/// Male given names with relative weights (our estimates of their popularity).
pub(crate) const MALE_GIVEN_NAMES: &[(&str, u32)] = &[
    ("Anh", 50),
    ("Hùng", 35),
    ("Dũng", 35),
    ("Tuấn", 40),
    ("Minh", 45),
    ("Huy", 40),
    ("Khoa", 25),
    ("Long", 30),
    ("Nam", 40),
    ("Phong", 25),
    ("Quân", 30),
    ("Sơn", 30),
    ("Thắng", 25),
    ("Trung", 30),
    ("Việt", 20),
    ("Hải", 35),
    ("Hiếu", 25),
    ("Hoàng", 25),
    ("Khánh", 25),
    ("Kiên", 20),
    ("Lâm", 15),
    ("Lộc", 20),
    ("Nghĩa", 20),
    ("Nhân", 15),
    ("Phúc", 25),
    ("Quang", 25),
    ("Tài", 20),
    ("Thành", 35),
    ("Thịnh", 15),
    ("Toàn", 20),
    ("Trí", 15),
    ("Tú", 15),
    ("Vinh", 25),
    ("Bảo", 30),
    ("Cường", 30),
    ("Đạt", 30),
    ("Đức", 35),
    ("Duy", 25),
    ("Hưng", 25),
    ("Khang", 20),
    ("Hòa", 15),
    ("Tâm", 20),
];

/// Female given names with relative weights (our estimates of their popularity).
pub(crate) const FEMALE_GIVEN_NAMES: &[(&str, u32)] = &[
    ("Lan", 35),
    ("Hương", 40),
    ("Thảo", 40),
    ("Phương", 35),
    ("Anh", 45),
    ("Linh", 45),
    ("Mai", 35),
    ("Hà", 30),
    ("Hằng", 30),
    ("Hạnh", 25),
    ("Hoa", 30),
    ("Huyền", 30),
    ("Hồng", 25),
    ("Nga", 25),
    ("Ngân", 25),
    ("Ngọc", 30),
    ("Nhung", 25),
    ("Oanh", 15),
    ("Quỳnh", 25),
    ("Trang", 45),
    ("Thủy", 30),
    ("Thúy", 25),
    ("Trinh", 15),
    ("Tuyết", 20),
    ("Uyên", 20),
    ("Vân", 25),
    ("Vy", 25),
    ("Yến", 25),
    ("Nhi", 25),
    ("Chi", 20),
    ("Diệp", 10),
    ("Giang", 20),
    ("Hiền", 25),
    ("Loan", 20),
    ("Ly", 20),
    ("My", 25),
    ("Nhàn", 10),
    ("Thư", 25),
    ("Trâm", 15),
    ("Xuân", 15),
    ("Hậu", 10),
    ("Lệ", 10),
];

/// The oldest age generated.
pub(crate) const MAX_AGE: u8 = 100;

/// Share of each five-year age band, in thousandths of a percent, from age 0–4 up to 95–99;
/// age 100 gets [`AGE_100_WEIGHT`].
///
/// Source: the age pyramid of the 2019 Population and Housing Census (General Statistics
/// Office of Vietnam), rounded; the bands above 85 are split by our estimate.
const AGE_BANDS: [u32; 20] = [
    8_000, 8_500, 7_400, 6_700, 6_900, 7_900, 8_200, 7_900, 7_200, 6_600, // 0–49
    6_000, 5_300, 4_300, 3_200, 2_000, 1_300, 1_000, 600, 300, 100, // 50–99
];

/// Weight of age 100, on the per-year scale of [`age_weight`].
const AGE_100_WEIGHT: u32 = 15;

/// Relative weight of one single year of age (0..=[`MAX_AGE`]): its band's share spread evenly
/// over the band's five years.
pub(crate) fn age_weight(age: u8) -> u32 {
    match AGE_BANDS.get(usize::from(age / 5)) {
        Some(band) => band / 5,
        None => AGE_100_WEIGHT,
    }
}

/// Population of each birth-registration province in thousands, by province code.
///
/// Source: 2019 Population and Housing Census (General Statistics Office of Vietnam), rounded
/// to the thousand. The codes are those of Circular 07/2016/TT-BCA, Annex 1.
pub(crate) const PROVINCE_POPULATION: &[(u16, u32)] = &[
    (1, 8_054),  // Hà Nội
    (2, 854),    // Hà Giang
    (4, 530),    // Cao Bằng
    (6, 314),    // Bắc Kạn
    (8, 785),    // Tuyên Quang
    (10, 731),   // Lào Cai
    (11, 599),   // Điện Biên
    (12, 461),   // Lai Châu
    (14, 1_248), // Sơn La
    (15, 822),   // Yên Bái
    (17, 854),   // Hòa Bình
    (19, 1_287), // Thái Nguyên
    (20, 782),   // Lạng Sơn
    (22, 1_321), // Quảng Ninh
    (24, 1_804), // Bắc Giang
    (25, 1_464), // Phú Thọ
    (26, 1_152), // Vĩnh Phúc
    (27, 1_369), // Bắc Ninh
    (30, 1_893), // Hải Dương
    (31, 2_029), // Hải Phòng
    (33, 1_253), // Hưng Yên
    (34, 1_861), // Thái Bình
    (35, 853),   // Hà Nam
    (36, 1_781), // Nam Định
    (37, 983),   // Ninh Bình
    (38, 3_641), // Thanh Hóa
    (40, 3_327), // Nghệ An
    (42, 1_289), // Hà Tĩnh
    (44, 896),   // Quảng Bình
    (45, 633),   // Quảng Trị
    (46, 1_129), // Thừa Thiên Huế
    (48, 1_135), // Đà Nẵng
    (49, 1_496), // Quảng Nam
    (51, 1_232), // Quảng Ngãi
    (52, 1_487), // Bình Định
    (54, 873),   // Phú Yên
    (56, 1_232), // Khánh Hòa
    (58, 591),   // Ninh Thuận
    (60, 1_231), // Bình Thuận
    (62, 541),   // Kon Tum
    (64, 1_514), // Gia Lai
    (66, 1_870), // Đắk Lắk
    (67, 623),   // Đắk Nông
    (68, 1_297), // Lâm Đồng
    (70, 995),   // Bình Phước
    (72, 1_170), // Tây Ninh
    (74, 2_456), // Bình Dương
    (75, 3_097), // Đồng Nai
    (77, 1_149), // Bà Rịa - Vũng Tàu
    (79, 8_993), // Hồ Chí Minh
    (80, 1_689), // Long An
    (82, 1_765), // Tiền Giang
    (83, 1_289), // Bến Tre
    (84, 1_009), // Trà Vinh
    (86, 1_023), // Vĩnh Long
    (87, 1_600), // Đồng Tháp
    (89, 1_908), // An Giang
    (91, 1_723), // Kiên Giang
    (92, 1_236), // Cần Thơ
    (93, 734),   // Hậu Giang
    (94, 1_200), // Sóc Trăng
    (95, 907),   // Bạc Liêu
    (96, 1_194), // Cà Mau
];

/// Population weight of a province code; a code missing from [`PROVINCE_POPULATION`] (which a
/// test rules out) weighs as a small province rather than not at all.
pub(crate) fn province_weight(code: u16) -> u32 {
    PROVINCE_POPULATION
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(500, |(_, w)| *w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_name_table_sums_to_one_hundred_percent() {
        let total: u32 = FAMILY_NAMES.iter().map(|(_, w)| w).sum();
        assert_eq!(total, 10_000);
    }

    #[test]
    fn every_province_has_a_population() {
        for p in dinhdanh_core::province::PROVINCES {
            assert!(
                PROVINCE_POPULATION.iter().any(|(c, _)| *c == p.code),
                "no population for province {} ({})",
                p.code,
                p.name
            );
        }
        assert_eq!(PROVINCE_POPULATION.len(), 63);
    }

    #[test]
    fn names_are_distinct_within_each_table() {
        fn distinct<'a>(names: impl Iterator<Item = &'a str>) {
            let mut seen = std::collections::HashSet::new();
            for n in names {
                assert!(seen.insert(n), "duplicate name {n}");
            }
        }
        distinct(FAMILY_NAMES.iter().map(|(n, _)| *n));
        distinct(MALE_MIDDLE_NAMES.iter().map(|(n, _, _)| *n));
        distinct(FEMALE_MIDDLE_NAMES.iter().map(|(n, _, _)| *n));
        distinct(MALE_GIVEN_NAMES.iter().map(|(n, _)| *n));
        distinct(FEMALE_GIVEN_NAMES.iter().map(|(n, _)| *n));
    }

    #[test]
    fn every_name_is_a_valid_nfc_person_name() {
        let all = FAMILY_NAMES
            .iter()
            .map(|(n, _)| *n)
            .chain(MALE_MIDDLE_NAMES.iter().map(|(n, _, _)| *n))
            .chain(FEMALE_MIDDLE_NAMES.iter().map(|(n, _, _)| *n))
            .chain(MALE_GIVEN_NAMES.iter().map(|(n, _)| *n))
            .chain(FEMALE_GIVEN_NAMES.iter().map(|(n, _)| *n));
        for name in all {
            let parsed: dinhdanh_core::PersonName = name.parse().expect(name);
            // PersonName normalises to NFC: an unchanged string was NFC already.
            assert_eq!(parsed.as_str(), name);
        }
    }

    #[test]
    fn the_age_pyramid_narrows_with_age() {
        assert!(age_weight(30) > age_weight(60));
        assert!(age_weight(60) > age_weight(90));
        assert!(age_weight(MAX_AGE) > 0);
        assert!(age_weight(99) > 0);
    }
}
