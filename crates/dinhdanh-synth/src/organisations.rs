//! The synthetic organisations: ministries, provinces, agencies, telecom operators, platforms,
//! registrars and enterprises, with made-up tax codes.
//!
//! Names of public bodies and of the telecom operators are real (they are public institutions
//! and licensed networks, not personal data); platforms, registrars and enterprises are
//! fictional. Every tax code is generated from the seed and means nothing outside tests.

use std::collections::HashSet;
use std::str::FromStr;

use dinhdanh_core::province::PROVINCES;
use dinhdanh_core::{OrganisationKind, TaxCode};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One generated organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticOrganisation {
    /// Name in Vietnamese (NFC), or the brand name for telecom operators.
    pub name: String,
    /// Synthetic tax code: 10 digits, or 10 digits and a three-digit suffix for a branch.
    /// Unique within the list.
    pub tax_code: TaxCode,
    /// What the organisation is.
    pub kind: OrganisationKind,
    /// Index of the parent organisation in the same list: the ministry of an agency, the head
    /// office of a branch. Always an earlier entry.
    pub parent: Option<usize>,
}

/// Ministries and ministry-level bodies of the Government (structure after the 2025
/// reorganisation, Resolution 176/2025/QH15), with the short name the agencies below refer to.
const MINISTRIES: &[&str] = &[
    "Bộ Quốc phòng",
    "Bộ Công an",
    "Bộ Ngoại giao",
    "Bộ Nội vụ",
    "Bộ Tư pháp",
    "Bộ Tài chính",
    "Bộ Công Thương",
    "Bộ Nông nghiệp và Môi trường",
    "Bộ Xây dựng",
    "Bộ Văn hóa, Thể thao và Du lịch",
    "Bộ Khoa học và Công nghệ",
    "Bộ Giáo dục và Đào tạo",
    "Bộ Y tế",
    "Bộ Dân tộc và Tôn giáo",
    "Ngân hàng Nhà nước Việt Nam",
    "Thanh tra Chính phủ",
    "Văn phòng Chính phủ",
];

/// Agencies under a ministry: (name, ministry).
const AGENCIES: &[(&str, &str)] = &[
    (
        "Cục Cảnh sát quản lý hành chính về trật tự xã hội",
        "Bộ Công an",
    ),
    (
        "Cục An ninh mạng và phòng, chống tội phạm sử dụng công nghệ cao",
        "Bộ Công an",
    ),
    ("Cục Viễn thông", "Bộ Khoa học và Công nghệ"),
    ("Trung tâm Internet Việt Nam", "Bộ Khoa học và Công nghệ"),
    ("Cục Tần số vô tuyến điện", "Bộ Khoa học và Công nghệ"),
    ("Cục Thuế", "Bộ Tài chính"),
    ("Bảo hiểm xã hội Việt Nam", "Bộ Tài chính"),
    ("Cục Quản lý khám, chữa bệnh", "Bộ Y tế"),
];

/// Province codes of the centrally governed cities, whose committees are "thành phố".
const CENTRAL_CITIES: &[u16] = &[1, 31, 48, 79, 92];

/// Mobile network operators licensed in Vietnam, by brand.
const TELECOM_OPERATORS: &[&str] = &[
    "Viettel",
    "VNPT VinaPhone",
    "MobiFone",
    "Vietnamobile",
    "Gmobile",
    "Itelecom",
];

/// Social platforms (fictional).
const PLATFORMS: &[&str] = &[
    "Mạng xã hội Tre Xanh",
    "Làng Mạng",
    "Sen Video",
    "Chim Lạc Chat",
    "Bến Vui",
    "Diễn đàn Phố Cổ",
];

/// Domain-name registrars (fictional).
const REGISTRARS: &[&str] = &[
    "Công ty Cổ phần Tên miền Sông Hồng",
    "Công ty TNHH Tên miền Phương Nam",
    "Công ty Cổ phần Dữ liệu Trường Sơn",
    "Công ty TNHH Mạng Cửu Long",
];

const LEGAL_FORMS: &[&str] = &["Công ty TNHH", "Công ty Cổ phần"];
const SECTORS: &[&str] = &[
    "Thương mại",
    "Xây dựng",
    "Vận tải",
    "Dệt may",
    "Thực phẩm",
    "Công nghệ",
    "Du lịch",
    "Dược phẩm",
    "Nông sản",
    "Điện tử",
    "Cơ khí",
    "Thủy sản",
];
const BRANDS: &[&str] = &[
    "Hoàng Long",
    "Phú Quý",
    "An Phát",
    "Minh Châu",
    "Thiên Ân",
    "Bình Minh",
    "Hưng Thịnh",
    "Tân Tiến",
    "Đại Việt",
    "Sao Mai",
    "Hồng Hà",
    "Phương Đông",
    "Kim Ngân",
    "Hải Âu",
    "Ngọc Lan",
    "Thái Sơn",
];

/// How many enterprises (head offices) the list holds.
pub const ENTERPRISES: usize = 24;
/// How many of the first enterprises have branches, and how many each.
const ENTERPRISES_WITH_BRANCHES: usize = 2;
const BRANCHES_EACH: usize = 2;
/// Cities where branches are opened.
const BRANCH_CITIES: &[&str] = &["Hà Nội", "Đà Nẵng", "Hồ Chí Minh", "Hải Phòng"];

/// Generates the organisations: ministries, their agencies, the 63 provincial people's
/// committees, the telecom operators, platforms, registrars, enterprises and a few enterprise
/// branches, in that order. Parents always come before their children.
///
/// The list, its order and every tax code are a pure function of `seed`.
pub fn organisations(seed: u64) -> Vec<SyntheticOrganisation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut codes = TaxCodes::default();
    let mut list: Vec<SyntheticOrganisation> = Vec::new();
    let mut push = |list: &mut Vec<SyntheticOrganisation>,
                    rng: &mut ChaCha8Rng,
                    name: String,
                    kind: OrganisationKind,
                    parent: Option<usize>| {
        let tax_code = codes.fresh(rng);
        list.push(SyntheticOrganisation {
            name,
            tax_code,
            kind,
            parent,
        });
    };

    for ministry in MINISTRIES {
        push(
            &mut list,
            &mut rng,
            (*ministry).to_owned(),
            OrganisationKind::Ministry,
            None,
        );
    }
    for (agency, ministry) in AGENCIES {
        let parent = MINISTRIES.iter().position(|m| m == ministry);
        push(
            &mut list,
            &mut rng,
            (*agency).to_owned(),
            OrganisationKind::Agency,
            parent,
        );
    }
    for province in PROVINCES.iter() {
        let level = if CENTRAL_CITIES.contains(&province.code) {
            "thành phố"
        } else {
            "tỉnh"
        };
        push(
            &mut list,
            &mut rng,
            format!("Ủy ban nhân dân {level} {}", province.name),
            OrganisationKind::Province,
            None,
        );
    }
    for operator in TELECOM_OPERATORS {
        push(
            &mut list,
            &mut rng,
            (*operator).to_owned(),
            OrganisationKind::TelecomOperator,
            None,
        );
    }
    for platform in PLATFORMS {
        push(
            &mut list,
            &mut rng,
            (*platform).to_owned(),
            OrganisationKind::Platform,
            None,
        );
    }
    for registrar in REGISTRARS {
        push(
            &mut list,
            &mut rng,
            (*registrar).to_owned(),
            OrganisationKind::Registrar,
            None,
        );
    }

    // Enterprise names: distinct (sector, brand) pairs chosen by the seed.
    let mut pairs: Vec<(usize, usize)> = (0..SECTORS.len())
        .flat_map(|s| (0..BRANDS.len()).map(move |b| (s, b)))
        .collect();
    pairs.shuffle(&mut rng);
    let first_enterprise = list.len();
    for &(sector, brand) in pairs.iter().take(ENTERPRISES) {
        let form = LEGAL_FORMS[rng.gen_range(0..LEGAL_FORMS.len())];
        push(
            &mut list,
            &mut rng,
            format!("{form} {} {}", SECTORS[sector], BRANDS[brand]),
            OrganisationKind::Enterprise,
            None,
        );
    }

    // Branches share the head office's ten digits with a -001, -002 … suffix.
    for head in first_enterprise..first_enterprise + ENTERPRISES_WITH_BRANCHES {
        for number in 1..=BRANCHES_EACH {
            let city = BRANCH_CITIES[(head + number) % BRANCH_CITIES.len()];
            let head_office = &list[head];
            let name = format!("Chi nhánh {} tại {city}", head_office.name);
            let code = format!("{}-{number:03}", head_office.tax_code.as_str());
            // Ten digits, a hyphen and three digits: the branch form TaxCode accepts.
            let tax_code = TaxCode::from_str(&code).expect("a branch suffix on a valid tax code");
            list.push(SyntheticOrganisation {
                name,
                tax_code,
                kind: OrganisationKind::Enterprise,
                parent: Some(head),
            });
        }
    }
    list
}

/// Issues distinct ten-digit tax codes.
#[derive(Default)]
struct TaxCodes {
    issued: HashSet<u64>,
}

impl TaxCodes {
    fn fresh(&mut self, rng: &mut ChaCha8Rng) -> TaxCode {
        loop {
            // Two digits for the tax department (01–96), seven for the taxpayer.
            let body = rng.gen_range(1..=96u64) * 10_000_000 + rng.gen_range(0..10_000_000u64);
            let Some(check) = check_digit(body) else {
                continue;
            };
            let number = body * 10 + u64::from(check);
            if !self.issued.insert(number) {
                continue;
            }
            // Ten digits by construction (the body starts with 01–96).
            return TaxCode::from_str(&format!("{number:010}"))
                .expect("a ten-digit code with a valid check digit");
        }
    }
}

/// The check digit of a Vietnamese tax code from its first nine digits, or None for a body
/// that no valid code uses.
///
/// The tenth digit is a check digit (Circular 105/2020/TT-BTC, art. 5); the weighting is the
/// one in common use: ten minus the sum of the digits weighted 31, 29, 23, 19, 17, 13, 7, 5, 3,
/// modulo 11 — a body whose result would be ten is skipped.
fn check_digit(body: u64) -> Option<u8> {
    const WEIGHTS: [u64; 9] = [31, 29, 23, 19, 17, 13, 7, 5, 3];
    let mut rest = body;
    let mut sum = 0;
    for weight in WEIGHTS.iter().rev() {
        sum += (rest % 10) * weight;
        rest /= 10;
    }
    let check = 10 - sum % 11;
    // `check` is in 0..=10; below 10 it fits a digit.
    (check < 10).then_some(check as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_matches_a_known_code() {
        // 0100109106 (Viettel's published tax code) is valid under the rule.
        assert_eq!(check_digit(10_010_910), Some(6));
    }

    #[test]
    fn every_agency_names_an_existing_ministry() {
        for (agency, ministry) in AGENCIES {
            assert!(
                MINISTRIES.contains(ministry),
                "{agency}: unknown {ministry}"
            );
        }
    }

    #[test]
    fn enough_name_pairs_for_the_enterprises() {
        assert!(SECTORS.len() * BRANDS.len() >= ENTERPRISES);
    }
}
