//! Synthetic operator files: a telecom operator's whole subscriber base as CSV rows, drawn
//! from a synthetic population, with a seeded share of each kind of junk. Every row carries
//! the class a correct reconciliation must give it, so that tests can assert exact counts.
//!
//! The file follows the population stream, person by person, and keeps only a few rows of
//! state, whatever its length. Each adult draws one plan: one verified line (most), a kind
//! of junk, or, in their place, a line of an organisation: an enterprise that `dinhdanh seed`
//! registers with the population's seed (verified), or a tax code nobody has. Minors hold no
//! line. Deceased and suspended adults hold one line each, with their details right, which
//! the registry's status refuses.

use std::collections::VecDeque;

use dinhdanh_core::{MobileNetwork, OrganisationKind, PersonStatus};
use dinhdanh_telecom::Reason;
use jiff::ToSpan;
use jiff::civil::Date;

use crate::organisations::organisations;
use crate::population::{Population, PopulationSpec, SyntheticPerson, population};
use crate::serial::{SERIAL_SPACE, mix, permute};

/// The header row of an operator file.
pub const SUBSCRIBER_HEADER: &str = "msisdn,citizen_number,name,birth_date,tax_code,activated_on";

/// What share of adults (per thousand) gets each kind of junk; the rest get one verified
/// line each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JunkShares {
    /// A citizen number nobody has.
    pub unknown_citizen_number: u16,
    /// The right number with another given name.
    pub name_mismatch: u16,
    /// The right number with the birth date a day early.
    pub birth_date_mismatch: u16,
    /// Three verified lines, then a fourth over the operator's limit.
    pub over_operator_limit: u16,
    /// A line whose number another person's verified line holds.
    pub msisdn_held_by_another: u16,
    /// A verified line written twice.
    pub duplicate: u16,
    /// A verified line, then a malformed one.
    pub malformed: u16,
    /// Instead of the adult's line, a line of a registered enterprise (verified, not junk).
    pub organisation: u16,
    /// Instead of the adult's line, a line of a tax code nobody has.
    pub unknown_tax_code: u16,
}

impl Default for JunkShares {
    /// About 15 % junk, as the 2023 check found (19.6 million of some 127 million lines).
    fn default() -> Self {
        Self {
            unknown_citizen_number: 30,
            name_mismatch: 40,
            birth_date_mismatch: 30,
            over_operator_limit: 10,
            msisdn_held_by_another: 10,
            duplicate: 10,
            malformed: 10,
            organisation: 20,
            unknown_tax_code: 5,
        }
    }
}

/// What a file to generate holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriberFileSpec {
    /// Seed of the file's own choices (the population has its own).
    pub seed: u64,
    /// The people the registry holds; the file draws its holders from them.
    pub population: PopulationSpec,
    /// The operator whose numbers the lines have.
    pub operator: MobileNetwork,
    /// The shares of junk.
    pub junk: JunkShares,
}

/// The class a correct reconciliation gives a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expected {
    /// The holder matches the registry.
    Verified,
    /// Refused, for exactly this reason.
    Rejected(Reason),
    /// Not a well-formed row.
    Malformed,
    /// The same line as an earlier row.
    Duplicate,
}

/// One row of an operator file: its text (no line break) and its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberRow {
    /// The CSV line.
    pub line: String,
    /// What reconciliation must make of it.
    pub expected: Expected,
}

/// What one adult holds in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Verified,
    UnknownNumber,
    NameMismatch,
    BirthDateMismatch,
    OverLimit,
    HeldByAnother,
    Duplicate,
    Malformed,
    Organisation,
    UnknownTaxCode,
}

/// Streams the rows of a [`SubscriberFileSpec`] (without the header); see the module docs.
pub fn subscriber_file(spec: &SubscriberFileSpec) -> SubscriberFile {
    SubscriberFile {
        people: population(&spec.population),
        spec: *spec,
        codes: spec.operator.codes().collect(),
        enterprises: organisations(spec.population.seed)
            .into_iter()
            .filter(|organisation| organisation.kind == OrganisationKind::Enterprise)
            .map(|organisation| organisation.tax_code.as_str().to_owned())
            .collect(),
        key: mix(spec.seed ^ 0x5ab5_c21b_e700_0001),
        index: 0,
        lines: 0,
        last_verified: None,
        queue: VecDeque::new(),
    }
}

/// The stream of an operator file's rows; see [`subscriber_file`].
#[derive(Debug, Clone)]
pub struct SubscriberFile {
    people: Population,
    spec: SubscriberFileSpec,
    codes: Vec<u8>,
    /// The tax codes of the enterprises registered with the population's seed.
    enterprises: Vec<String>,
    key: u64,
    /// The person's index in the population.
    index: u64,
    /// Numbers issued so far.
    lines: u64,
    /// The number of the last verified line, for a line that reuses it.
    last_verified: Option<String>,
    queue: VecDeque<SubscriberRow>,
}

impl SubscriberFile {
    /// The next unused number of the operator: its codes in turn, and seven digits from a
    /// keyed bijection, so that no number repeats within 10 million lines per code.
    fn next_msisdn(&mut self) -> String {
        let codes = self.codes.len().max(1) as u64;
        let counter = self.lines / codes;
        let code = self
            .codes
            .get((self.lines % codes) as usize)
            .copied()
            .unwrap_or(91);
        self.lines += 1;
        let high = (counter / u64::from(SERIAL_SPACE)) % 10;
        let low = permute(self.key, (counter % u64::from(SERIAL_SPACE)) as u32);
        format!("+84{code}{high}{low:06}")
    }

    fn activated_on(&self) -> Date {
        let back = (mix(self.key ^ self.index) % 3_650) as i64;
        self.spec
            .population
            .as_of
            .checked_sub(back.days())
            .unwrap_or(self.spec.population.as_of)
    }

    fn plan(&self) -> Plan {
        let junk = &self.spec.junk;
        let mut draw = (mix(self.key ^ (self.index << 1) ^ 1) % 1_000) as u16;
        for (share, plan) in [
            (junk.unknown_citizen_number, Plan::UnknownNumber),
            (junk.name_mismatch, Plan::NameMismatch),
            (junk.birth_date_mismatch, Plan::BirthDateMismatch),
            (junk.over_operator_limit, Plan::OverLimit),
            (junk.msisdn_held_by_another, Plan::HeldByAnother),
            (junk.duplicate, Plan::Duplicate),
            (junk.malformed, Plan::Malformed),
            (junk.organisation, Plan::Organisation),
            (junk.unknown_tax_code, Plan::UnknownTaxCode),
        ] {
            if draw < share {
                return plan;
            }
            draw -= share;
        }
        Plan::Verified
    }

    fn push(&mut self, line: String, expected: Expected) {
        self.queue.push_back(SubscriberRow { line, expected });
    }

    /// A line for `person` with the given fields, and a fresh number unless one is given.
    fn line(&mut self, msisdn: Option<String>, number: &str, name: &str, birth: Date) -> String {
        let msisdn = msisdn.unwrap_or_else(|| self.next_msisdn());
        let activated = self.activated_on();
        format!("{msisdn},{number},{name},{birth},,{activated}")
    }

    /// A line an organisation holds, by its tax code, on a fresh number.
    fn organisation_line(&mut self, tax_code: &str) -> String {
        let msisdn = self.next_msisdn();
        let activated = self.activated_on();
        format!("{msisdn},,,,{tax_code},{activated}")
    }

    fn verified(&mut self, person: &SyntheticPerson) -> String {
        let line = self.line(
            None,
            person.citizen_number.as_str(),
            person.name.as_str(),
            person.birth_date.date(),
        );
        self.last_verified = line.split(',').next().map(str::to_owned);
        self.push(line.clone(), Expected::Verified);
        line
    }

    fn plan_rows(&mut self, person: &SyntheticPerson) {
        let number = person.citizen_number.as_str();
        let (name, birth) = (person.name.as_str(), person.birth_date.date());
        match person.status {
            PersonStatus::Deceased | PersonStatus::Suspended => {
                let reason = if person.status == PersonStatus::Deceased {
                    Reason::HolderDeceased
                } else {
                    Reason::HolderSuspended
                };
                let line = self.line(None, number, name, birth);
                self.push(line, Expected::Rejected(reason));
                return;
            }
            PersonStatus::Active => {}
        }
        match self.plan() {
            Plan::Verified => {
                self.verified(person);
            }
            Plan::UnknownNumber => {
                // Born in 2099 by its digits: nobody in a registry of today has it.
                let unknown = format!("{}299{}", &number[..3], &number[6..]);
                let line = self.line(None, &unknown, name, birth);
                self.push(line, Expected::Rejected(Reason::UnknownCitizenNumber));
            }
            Plan::NameMismatch => {
                let other = other_given_name(name);
                let line = self.line(None, number, &other, birth);
                self.push(line, Expected::Rejected(Reason::NameMismatch));
            }
            Plan::BirthDateMismatch => {
                let early = birth.yesterday().unwrap_or(birth);
                let line = self.line(None, number, name, early);
                self.push(line, Expected::Rejected(Reason::BirthDateMismatch));
            }
            Plan::OverLimit => {
                for _ in 0..3 {
                    self.verified(person);
                }
                let line = self.line(None, number, name, birth);
                self.push(line, Expected::Rejected(Reason::OverOperatorLimit));
            }
            Plan::HeldByAnother => match self.last_verified.clone() {
                Some(taken) => {
                    let line = self.line(Some(taken), number, name, birth);
                    self.push(line, Expected::Rejected(Reason::MsisdnHeldByAnother));
                }
                None => {
                    self.verified(person);
                }
            },
            Plan::Duplicate => {
                let line = self.verified(person);
                self.push(line, Expected::Duplicate);
            }
            Plan::Organisation if !self.enterprises.is_empty() => {
                let pick =
                    (mix(self.key ^ self.index ^ 0x0e) % self.enterprises.len() as u64) as usize;
                let tax_code = self.enterprises[pick].clone();
                let line = self.organisation_line(&tax_code);
                self.push(line, Expected::Verified);
            }
            Plan::Organisation => {
                self.verified(person);
            }
            Plan::UnknownTaxCode => {
                // The 9xx range: the synthetic registry draws no tax code there.
                let unknown = format!("99{:08}", self.index % 100_000_000);
                let line = self.organisation_line(&unknown);
                self.push(line, Expected::Rejected(Reason::UnknownTaxCode));
            }
            Plan::Malformed => {
                let line = self.verified(person);
                let broken = match self.index % 4 {
                    // A column missing.
                    0 => line
                        .rsplit_once(',')
                        .map_or(String::new(), |(head, _)| head.to_owned()),
                    // A column too many.
                    1 => format!("{line},extra"),
                    // A landline, not a mobile number.
                    2 => format!("+84241234567{}", &line[line.find(',').unwrap_or(0)..]),
                    // A date that does not exist.
                    _ => line.replace(&birth.to_string(), &format!("{}-02-30", birth.year())),
                };
                self.push(broken, Expected::Malformed);
            }
        }
    }
}

/// The name with its given name (the last word) replaced by another, different even
/// without diacritics.
fn other_given_name(name: &str) -> String {
    let (rest, given) = name.rsplit_once(' ').unwrap_or(("", name));
    let replacement = if given.to_lowercase().starts_with("kh") {
        "Lâm"
    } else {
        "Khoa"
    };
    if rest.is_empty() {
        replacement.to_owned()
    } else {
        format!("{rest} {replacement}")
    }
}

impl Iterator for SubscriberFile {
    type Item = SubscriberRow;

    fn next(&mut self) -> Option<SubscriberRow> {
        loop {
            if let Some(row) = self.queue.pop_front() {
                return Some(row);
            }
            let person = self.people.next()?;
            if person.guardian.is_none() {
                self.plan_rows(&person);
            }
            self.index += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn spec() -> SubscriberFileSpec {
        SubscriberFileSpec {
            seed: 11,
            population: PopulationSpec {
                seed: 7,
                people: 5_000,
                as_of: jiff::civil::date(2026, 6, 1),
            },
            operator: MobileNetwork::Viettel,
            junk: JunkShares::default(),
        }
    }

    #[test]
    fn every_kind_of_row_appears_and_the_file_is_deterministic() {
        let rows: Vec<SubscriberRow> = subscriber_file(&spec()).collect();
        assert_eq!(rows, subscriber_file(&spec()).collect::<Vec<_>>());
        let mut counts: HashMap<Expected, usize> = HashMap::new();
        for row in &rows {
            *counts.entry(row.expected).or_default() += 1;
        }
        for expected in [
            Expected::Verified,
            Expected::Malformed,
            Expected::Duplicate,
            Expected::Rejected(Reason::UnknownCitizenNumber),
            Expected::Rejected(Reason::NameMismatch),
            Expected::Rejected(Reason::BirthDateMismatch),
            Expected::Rejected(Reason::HolderDeceased),
            Expected::Rejected(Reason::OverOperatorLimit),
            Expected::Rejected(Reason::MsisdnHeldByAnother),
            Expected::Rejected(Reason::UnknownTaxCode),
        ] {
            assert!(
                counts.get(&expected).copied().unwrap_or(0) > 0,
                "{expected:?}: {counts:?}"
            );
        }
        // Most lines are good: the junk is about the shares asked for.
        let verified = counts[&Expected::Verified] as f64 / rows.len() as f64;
        assert!((0.75..0.92).contains(&verified), "{verified}");
    }

    #[test]
    fn rows_are_well_formed_except_the_malformed_and_numbers_are_fresh_except_where_meant() {
        let mut numbers = HashSet::new();
        for row in subscriber_file(&spec()) {
            let fields: Vec<&str> = row.line.split(',').collect();
            if row.expected == Expected::Malformed {
                let parsed = fields.len() == 6
                    && fields[0].parse::<dinhdanh_core::Msisdn>().is_ok()
                    && fields[3].parse::<Date>().is_ok();
                assert!(!parsed, "{}", row.line);
                continue;
            }
            assert_eq!(fields.len(), 6, "{}", row.line);
            let msisdn: dinhdanh_core::Msisdn = fields[0].parse().unwrap();
            assert_eq!(msisdn.operator_hint(), Some(MobileNetwork::Viettel));
            if fields[4].is_empty() {
                fields[1].parse::<dinhdanh_core::CitizenNumber>().unwrap();
                fields[2].parse::<dinhdanh_core::PersonName>().unwrap();
                fields[3].parse::<Date>().unwrap();
            } else {
                // An organisation's line: its tax code alone.
                assert_eq!(&fields[1..4], ["", "", ""], "{}", row.line);
                fields[4].parse::<dinhdanh_core::TaxCode>().unwrap();
            }
            fields[5].parse::<Date>().unwrap();
            let fresh = numbers.insert(fields[0].to_owned());
            let reused = matches!(
                row.expected,
                Expected::Duplicate | Expected::Rejected(Reason::MsisdnHeldByAnother)
            );
            assert_eq!(fresh, !reused, "{row:?}");
        }
    }

    #[test]
    fn another_given_name_differs_even_without_diacritics() {
        for name in ["Trần Thị Mai", "Lê Khoa", "Khánh"] {
            let other = other_given_name(name);
            let (a, b): (dinhdanh_core::PersonName, dinhdanh_core::PersonName) =
                (name.parse().unwrap(), other.parse().unwrap());
            assert_ne!(a.folded(), b.folded(), "{name} → {other}");
        }
    }
}
