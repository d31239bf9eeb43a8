//! The synthetic population: a seeded stream of people, generated household by household.
//!
//! This module owns the people's attributes and the household structure (a guardian followed
//! by their children). It never materialises the population: the state it keeps is one
//! counter per citizen-number bucket (about 13,000 integers), the current household and at
//! most one person waiting to be emitted, whatever the number of people asked for.

use std::iter::FusedIterator;
use std::str::FromStr;
use std::sync::LazyLock;

use dinhdanh_core::province::PROVINCES;
use dinhdanh_core::{BirthDate, CitizenNumber, PersonName, PersonStatus, Sex};
use jiff::civil::Date;
use jiff::{Span, ToSpan};
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::serial::{SERIAL_SPACE, mix, permute};
use crate::tables::{
    FAMILY_NAMES, FEMALE_GIVEN_NAMES, FEMALE_MIDDLE_NAMES, MALE_GIVEN_NAMES, MALE_MIDDLE_NAMES,
    MAX_AGE, MIDDLE_NAME_SHIFT_YEAR, age_weight, province_weight,
};

/// Age of majority: people younger than this on `as_of` are minors and have a guardian.
pub const AGE_OF_MAJORITY: u8 = 18; // Civil Code 2015 (Law 91/2015/QH13), art. 20

/// Guardians are at least this many years older than each of their children.
const MIN_GUARDIAN_GAP: u8 = 20;
/// … and at most this many (beyond that a minor starts a new household).
const MAX_GUARDIAN_GAP: u8 = 50;
/// Adults of these ages who are active start a household that later minors may join.
const HOUSEHOLD_HEAD_AGES: std::ops::RangeInclusive<u8> = 20..=65;
/// A household takes at most this many minors.
const MAX_CHILDREN: u8 = 4;

/// Years whose citizen numbers can encode: the 1900s to the 2300s (century digits 0–9).
const FIRST_BIRTH_YEAR: i16 = 1900;
const LAST_BIRTH_YEAR: i16 = 2399;
/// Number of distinct birth years a population can hold: ages 0..=MAX_AGE span MAX_AGE + 2
/// calendar years.
const YEAR_SLOTS: usize = MAX_AGE as usize + 2;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PopulationSpec {
    /// Seed of every random choice; the same spec always yields the same people.
    pub seed: u64,
    /// How many people the stream yields.
    pub people: usize,
    /// The day on which ages are reckoned: nobody is born after it, the oldest are 100.
    pub as_of: Date,
}

/// One generated person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticPerson {
    /// 12-digit personal identification number, consistent with the birth province, sex and
    /// birth year, unique within the stream.
    pub citizen_number: CitizenNumber,
    /// Full name: family name, middle name, given name (NFC).
    pub name: PersonName,
    /// Date of birth; never after the spec's `as_of`.
    pub birth_date: BirthDate,
    /// Sex, as encoded in the citizen number.
    pub sex: Sex,
    /// Registry status; minors and guardians are always active.
    pub status: PersonStatus,
    /// Index (in generation order) of this person's guardian; always an earlier, living adult.
    /// Some only for minors (< 18 at as_of).
    pub guardian: Option<usize>,
}

/// Streams the people of a [`PopulationSpec`] in a fixed order; see [`population`].
#[derive(Debug, Clone)]
pub struct Population {
    rng: ChaCha8Rng,
    /// Key of the serial permutations, derived from the seed.
    serial_key: u64,
    as_of_year: i16,
    /// For each age 0..=MAX_AGE: the earliest birth date that gives that age on `as_of`, and
    /// how many consecutive days from it do.
    birth_windows: Vec<(Date, i64)>,
    /// Serials issued so far in each (province, sex, birth year) bucket; see [`bucket`].
    issued: Vec<u32>,
    next_index: usize,
    remaining: usize,
    /// A child generated together with its new guardian, emitted right after the guardian.
    pending: Option<SyntheticPerson>,
    household: Option<Household>,
    /// Scratch space for composing names, reused so that a person costs one allocation.
    name_buf: String,
}

/// The household that the next minors join, if it suits them.
#[derive(Debug, Clone, Copy)]
struct Household {
    guardian: usize,
    age: u8,
    birth_year: i16,
    sex: Sex,
    family_name: usize,
    province: usize,
    children: u8,
}

impl Household {
    fn accepts(&self, child_age: u8, child_birth_year_at_most: i16) -> bool {
        self.children < MAX_CHILDREN
            && self.age >= child_age + MIN_GUARDIAN_GAP
            && self.age <= child_age + MAX_GUARDIAN_GAP
            // Implied by the age gap; checked anyway because it is the promise made to callers.
            && i32::from(child_birth_year_at_most) - i32::from(self.birth_year) >= 16
    }
}

/// Starts the stream of people described by `spec`.
///
/// The stream is a pure function of the spec; a longer stream with the same seed and `as_of`
/// begins with the people of a shorter one. People come in households: an adult followed by
/// the minors in their care, so every minor's guardian appears before them.
///
/// # Panics
///
/// If `spec.as_of` is outside the years 2001–2399: everyone's birth year must be one that a
/// citizen number can encode (1900–2399) while ages span 0–100.
pub fn population(spec: &PopulationSpec) -> Population {
    let as_of_year = spec.as_of.year();
    assert!(
        (FIRST_BIRTH_YEAR + i16::from(MAX_AGE) + 1..=LAST_BIRTH_YEAR).contains(&as_of_year),
        "as_of year {as_of_year} is outside 2001-2399"
    );
    let birth_windows = (0..=MAX_AGE)
        .map(|age| {
            let latest = spec.as_of.saturating_sub(Span::new().years(i64::from(age)));
            let earliest = spec
                .as_of
                .saturating_sub(Span::new().years(i64::from(age) + 1))
                .saturating_add(1.day());
            let days = latest.duration_since(earliest).as_secs() / 86_400 + 1;
            (earliest, days)
        })
        .collect();
    Population {
        rng: ChaCha8Rng::seed_from_u64(spec.seed),
        serial_key: mix(spec.seed ^ 0x5e71_a1d0_c17e_0001),
        as_of_year,
        birth_windows,
        issued: vec![0; PROVINCES.len() * 2 * YEAR_SLOTS],
        next_index: 0,
        remaining: spec.people,
        pending: None,
        household: None,
        name_buf: String::with_capacity(64),
    }
}

/// Weighted samplers over the tables, built once per process.
struct Samplers {
    age: WeightedIndex<u32>,
    province: WeightedIndex<u32>,
    family_name: WeightedIndex<u32>,
    /// By sex (male, female), then era (born before the shift year, since).
    middle_name: [[WeightedIndex<u32>; 2]; 2],
    given_name: [WeightedIndex<u32>; 2],
}

fn sampler(weights: impl IntoIterator<Item = u32>) -> WeightedIndex<u32> {
    // The tables are constants with positive totals (checked by the tests of `tables`), which
    // is all `WeightedIndex::new` asks for.
    WeightedIndex::new(weights).expect("constant weight tables are non-empty and positive")
}

static SAMPLERS: LazyLock<Samplers> = LazyLock::new(|| Samplers {
    age: sampler((0..=MAX_AGE).map(age_weight)),
    province: sampler(PROVINCES.iter().map(|p| province_weight(p.code))),
    family_name: sampler(FAMILY_NAMES.iter().map(|(_, w)| *w)),
    middle_name: [
        [
            sampler(MALE_MIDDLE_NAMES.iter().map(|(_, old, _)| *old)),
            sampler(MALE_MIDDLE_NAMES.iter().map(|(_, _, new)| *new)),
        ],
        [
            sampler(FEMALE_MIDDLE_NAMES.iter().map(|(_, old, _)| *old)),
            sampler(FEMALE_MIDDLE_NAMES.iter().map(|(_, _, new)| *new)),
        ],
    ],
    given_name: [
        sampler(MALE_GIVEN_NAMES.iter().map(|(_, w)| *w)),
        sampler(FEMALE_GIVEN_NAMES.iter().map(|(_, w)| *w)),
    ],
});

fn sex_index(sex: Sex) -> usize {
    match sex {
        Sex::Male => 0,
        Sex::Female => 1,
    }
}

/// What is fixed about a person before their identifiers are issued.
struct Draft {
    age: u8,
    sex: Sex,
    family_name: usize,
    province: usize,
    status: PersonStatus,
    guardian: Option<usize>,
}

impl Population {
    fn generate(&mut self) -> SyntheticPerson {
        let index = self.next_index;
        let age = self.draw_age();
        if age >= AGE_OF_MAJORITY {
            return self.adult(index, age);
        }
        let birth_year_at_most = self.as_of_year - i16::from(age);
        match self.household {
            Some(household) if household.accepts(age, birth_year_at_most) => {
                self.child(age, household)
            }
            _ => {
                // No suitable guardian yet: start a household with a new adult, emitted first.
                let gap = self.rng.gen_range(MIN_GUARDIAN_GAP..=MIN_GUARDIAN_GAP + 20);
                let (guardian, household) = self.guardian(index, age + gap);
                self.pending = Some(self.child(age, household));
                guardian
            }
        }
    }

    fn draw_age(&mut self) -> u8 {
        // The sampler has MAX_AGE + 1 entries, so the index fits in a u8.
        SAMPLERS.age.sample(&mut self.rng) as u8
    }

    fn draw_sex(&mut self, age: u8) -> Sex {
        // More boys than girls are born (sex ratio at birth ≈ 1.11 in the 2019 census); women
        // outlive men, so the old are mostly women.
        let male_per_mille = match age {
            0..=59 => 512,
            60..=79 => 450,
            _ => 380,
        };
        if self.rng.gen_range(0..1000) < male_per_mille {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    fn draw_status(&mut self, age: u8) -> PersonStatus {
        // About 0.5 % deceased overall, rising with age; a very few suspended.
        let deceased_per_100k = match age {
            0..=59 => 300,
            60..=79 => 2_000,
            _ => 8_000,
        };
        let roll = self.rng.gen_range(0..100_000);
        if roll < deceased_per_100k {
            PersonStatus::Deceased
        } else if roll < deceased_per_100k + 50 {
            PersonStatus::Suspended
        } else {
            PersonStatus::Active
        }
    }

    /// An adult who is not anyone's guardian by construction; if active and of an age to have
    /// children, the next minors may join their household.
    fn adult(&mut self, index: usize, age: u8) -> SyntheticPerson {
        let sex = self.draw_sex(age);
        let status = self.draw_status(age);
        let family_name = SAMPLERS.family_name.sample(&mut self.rng);
        let province = SAMPLERS.province.sample(&mut self.rng);
        let (person, birth_year) = self.issue(Draft {
            age,
            sex,
            family_name,
            province,
            status,
            guardian: None,
        });
        if status == PersonStatus::Active && HOUSEHOLD_HEAD_AGES.contains(&age) {
            self.household = Some(Household {
                guardian: index,
                age,
                birth_year,
                sex,
                family_name,
                province,
                children: 0,
            });
        }
        person
    }

    /// An active adult who starts a household.
    fn guardian(&mut self, index: usize, age: u8) -> (SyntheticPerson, Household) {
        let sex = self.draw_sex(age);
        let family_name = SAMPLERS.family_name.sample(&mut self.rng);
        let province = SAMPLERS.province.sample(&mut self.rng);
        let (person, birth_year) = self.issue(Draft {
            age,
            sex,
            family_name,
            province,
            status: PersonStatus::Active,
            guardian: None,
        });
        let household = Household {
            guardian: index,
            age,
            birth_year,
            sex,
            family_name,
            province,
            children: 0,
        };
        self.household = Some(household);
        (person, household)
    }

    /// A minor in the care of `household`'s guardian.
    fn child(&mut self, age: u8, household: Household) -> SyntheticPerson {
        let sex = self.draw_sex(age);
        // Children take their father's family name: a father's if he is the guardian, else a
        // name drawn from the same table (the father is not in the household).
        let family_name = if household.sex == Sex::Male {
            household.family_name
        } else {
            SAMPLERS.family_name.sample(&mut self.rng)
        };
        // Most children are registered where their parent was; families also move.
        let province = if self.rng.gen_range(0..10) < 7 {
            household.province
        } else {
            SAMPLERS.province.sample(&mut self.rng)
        };
        if let Some(h) = self.household.as_mut() {
            h.children += 1;
        }
        self.issue(Draft {
            age,
            sex,
            family_name,
            province,
            status: PersonStatus::Active,
            guardian: Some(household.guardian),
        })
        .0
    }

    /// Draws the name and birth date and issues the citizen number; also returns the birth
    /// year.
    fn issue(&mut self, draft: Draft) -> (SyntheticPerson, i16) {
        let (earliest, days) = self.birth_windows[usize::from(draft.age)];
        let date = earliest.saturating_add(self.rng.gen_range(0..days).days());
        let birth_year = date.year();
        let name = self.draw_name(draft.sex, draft.family_name, birth_year);
        let citizen_number = self.citizen_number(draft.province, draft.sex, birth_year);
        let person = SyntheticPerson {
            citizen_number,
            name,
            birth_date: BirthDate::new(date),
            sex: draft.sex,
            status: draft.status,
            guardian: draft.guardian,
        };
        (person, birth_year)
    }

    fn draw_name(&mut self, sex: Sex, family_name: usize, birth_year: i16) -> PersonName {
        let (middles, givens) = match sex {
            Sex::Male => (MALE_MIDDLE_NAMES, MALE_GIVEN_NAMES),
            Sex::Female => (FEMALE_MIDDLE_NAMES, FEMALE_GIVEN_NAMES),
        };
        let era = usize::from(birth_year >= MIDDLE_NAME_SHIFT_YEAR);
        let middle = SAMPLERS.middle_name[sex_index(sex)][era].sample(&mut self.rng);
        let mut given = SAMPLERS.given_name[sex_index(sex)].sample(&mut self.rng);
        let middle = middles[middle].0;
        if givens[given].0 == middle {
            // "Minh Minh" is not a name; take the next one in the table.
            given = (given + 1) % givens.len();
        }
        let family = FAMILY_NAMES[family_name].0;
        let given = givens[given].0;
        let full = &mut self.name_buf;
        full.clear();
        full.push_str(family);
        full.push(' ');
        full.push_str(middle);
        full.push(' ');
        full.push_str(given);
        // The tables hold letters only (a test parses every name), which is all PersonName
        // requires.
        PersonName::from_str(full).expect("names from the tables are valid person names")
    }

    fn citizen_number(&mut self, province: usize, sex: Sex, birth_year: i16) -> CitizenNumber {
        // A full bucket (a million people of one sex born in one province in one year) moves
        // on to the next province so that numbers stay unique. Filling all 63 would take
        // billions of people.
        for step in 0..PROVINCES.len() {
            let province = (province + step) % PROVINCES.len();
            let bucket = self.bucket(province, sex, birth_year);
            let counter = self.issued[bucket];
            if counter >= SERIAL_SPACE {
                continue;
            }
            self.issued[bucket] = counter + 1;
            let serial = permute(mix(self.serial_key ^ bucket as u64), counter);
            // The province code comes from PROVINCES, the birth year is within 1900–2399
            // (checked in `population`) and the serial below a million: compose accepts them.
            return CitizenNumber::compose(PROVINCES[province].code, sex, birth_year, serial)
                .expect("generated parts form a valid citizen number");
        }
        panic!(
            "all {} million citizen numbers of one sex and birth year are issued",
            PROVINCES.len()
        )
    }

    fn bucket(&self, province: usize, sex: Sex, birth_year: i16) -> usize {
        // Ages 0..=MAX_AGE put the birth year within YEAR_SLOTS years before as_of.
        let year_slot = usize::try_from(self.as_of_year - birth_year).unwrap_or(0);
        (province * 2 + sex_index(sex)) * YEAR_SLOTS + year_slot.min(YEAR_SLOTS - 1)
    }
}

impl Iterator for Population {
    type Item = SyntheticPerson;

    fn next(&mut self) -> Option<SyntheticPerson> {
        if self.remaining == 0 {
            return None;
        }
        let person = match self.pending.take() {
            Some(child) => child,
            None => self.generate(),
        };
        self.remaining -= 1;
        self.next_index += 1;
        Some(person)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Population {}

impl FusedIterator for Population {}
