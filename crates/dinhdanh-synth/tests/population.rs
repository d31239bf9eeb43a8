//! Properties of the synthetic population that callers rely on.

use std::collections::{HashMap, HashSet};

use dinhdanh_core::{PersonStatus, Sex};
use dinhdanh_synth::{AGE_OF_MAJORITY, PopulationSpec, SyntheticPerson, population};
use jiff::civil::{Date, date};
use proptest::prelude::*;

const AS_OF: Date = date(2026, 1, 15);

fn spec(seed: u64, people: usize) -> PopulationSpec {
    PopulationSpec {
        seed,
        people,
        as_of: AS_OF,
    }
}

/// Completed years of age on `on`.
fn age_on(birth: Date, on: Date) -> i16 {
    let had_birthday = (on.month(), on.day()) >= (birth.month(), birth.day());
    on.year() - birth.year() - i16::from(!had_birthday)
}

/// Checks every structural promise of `population` for one generated stream.
fn check_invariants(people: &[SyntheticPerson], as_of: Date) {
    let mut numbers = HashSet::with_capacity(people.len());
    for (index, person) in people.iter().enumerate() {
        let birth = person.birth_date.date();
        assert!(birth <= as_of, "person {index} born after as_of");
        let age = age_on(birth, as_of);
        assert!((0..=100).contains(&age), "person {index} is {age}");
        assert!(
            numbers.insert(person.citizen_number),
            "citizen number of person {index} issued twice"
        );
        assert_eq!(
            person
                .citizen_number
                .check_consistent(&person.birth_date, Some(person.sex)),
            Ok(()),
            "person {index}: citizen number inconsistent with birth date or sex"
        );
        if age < i16::from(AGE_OF_MAJORITY) {
            assert_eq!(person.status, PersonStatus::Active, "minor {index}");
            let guardian = person.guardian.expect("every minor has a guardian");
            assert!(guardian < index, "guardian of {index} comes later");
            let g = &people[guardian];
            let g_birth = g.birth_date.date();
            assert!(age_on(g_birth, as_of) >= i16::from(AGE_OF_MAJORITY));
            assert_eq!(g.status, PersonStatus::Active, "guardian of {index}");
            assert!(g.guardian.is_none());
            assert!(
                birth.year() - g_birth.year() >= 16,
                "guardian of {index} born {} and child {}",
                g_birth.year(),
                birth.year()
            );
        } else {
            assert_eq!(person.guardian, None, "adult {index} has a guardian");
        }
        let name = person.name.as_str();
        assert_eq!(name.split(' ').count(), 3, "{name:?} is not three words");
        assert!(
            !name.chars().any(|c| ('\u{300}'..='\u{36f}').contains(&c)),
            "{name:?} has combining marks: not NFC"
        );
    }
}

#[test]
fn the_same_spec_yields_the_same_people() {
    let a: Vec<_> = population(&spec(42, 5_000)).collect();
    let b: Vec<_> = population(&spec(42, 5_000)).collect();
    assert_eq!(a, b);
}

#[test]
fn different_seeds_yield_different_people() {
    let a: Vec<_> = population(&spec(1, 1_000)).collect();
    let b: Vec<_> = population(&spec(2, 1_000)).collect();
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    assert_eq!(same, 0, "{same} identical people across seeds");
    let numbers: HashSet<_> = a.iter().map(|p| p.citizen_number).collect();
    assert!(
        b.iter()
            .filter(|p| numbers.contains(&p.citizen_number))
            .count()
            < 10
    );
}

#[test]
fn a_shorter_stream_is_a_prefix_of_a_longer_one() {
    let short: Vec<_> = population(&spec(9, 777)).collect();
    let long: Vec<_> = population(&spec(9, 3_000)).collect();
    assert_eq!(short[..], long[..777]);
}

#[test]
fn the_stream_has_exactly_the_requested_length() {
    let mut stream = population(&spec(3, 10));
    assert_eq!(stream.len(), 10);
    stream.next();
    assert_eq!(stream.len(), 9);
    assert_eq!(stream.count(), 9);
    assert_eq!(population(&spec(3, 0)).next(), None);
}

/// One large stream, checked for all the structural and statistical properties.
#[test]
fn a_hundred_thousand_people_are_consistent_and_plausible() {
    let people: Vec<_> = population(&spec(2026, 100_000)).collect();
    assert_eq!(people.len(), 100_000);
    check_invariants(&people, AS_OF);
    let n = people.len() as f64;
    let share = |count: usize| count as f64 / n;

    // Family names: Nguyễn about 38 %, the next ones near the table.
    let mut family: HashMap<&str, usize> = HashMap::new();
    for p in &people {
        let first = p.name.as_str().split(' ').next().expect("a family name");
        *family.entry(first).or_default() += 1;
    }
    let nguyen = share(family["Nguyễn"]);
    assert!((0.33..=0.43).contains(&nguyen), "Nguyễn {nguyen}");
    for (name, expected) in [
        ("Trần", 0.11),
        ("Lê", 0.095),
        ("Phạm", 0.071),
        ("Phan", 0.045),
        ("Đặng", 0.021),
        ("Lý", 0.005),
    ] {
        let observed = share(family.get(name).copied().unwrap_or(0));
        assert!(
            (observed - expected).abs() <= expected * 0.15 + 0.002,
            "{name}: {observed} vs {expected}"
        );
    }
    let hoang_huynh = share(family["Hoàng"] + family["Huỳnh"]);
    assert!(
        (0.04..=0.062).contains(&hoang_huynh),
        "Hoàng/Huỳnh {hoang_huynh}"
    );

    // Middle names follow sex.
    for p in &people {
        let middle = p.name.as_str().split(' ').nth(1).expect("a middle name");
        match p.sex {
            Sex::Male => assert_ne!(middle, "Thị"),
            Sex::Female => assert_ne!(middle, "Văn"),
        }
    }

    // Every age from 0 to 100 occurs, and the pyramid narrows with age.
    let mut by_age = [0usize; 101];
    for p in &people {
        by_age[age_on(p.birth_date.date(), AS_OF) as usize] += 1;
    }
    if let Some(missing) = by_age.iter().position(|&c| c == 0) {
        panic!("nobody aged {missing}");
    }
    let young: usize = by_age[..40].iter().sum();
    let middle: usize = by_age[40..70].iter().sum();
    let old: usize = by_age[70..].iter().sum();
    assert!(young > middle && middle > old, "{young} {middle} {old}");
    let minors: usize = by_age[..18].iter().sum();
    assert!(
        (0.18..=0.32).contains(&share(minors)),
        "minors {}",
        share(minors)
    );

    // Sexes roughly balanced.
    let men = people.iter().filter(|p| p.sex == Sex::Male).count();
    assert!((0.45..=0.55).contains(&share(men)), "men {}", share(men));

    // A few deceased, more among the old; a very few suspended.
    let deceased: Vec<_> = people
        .iter()
        .filter(|p| p.status == PersonStatus::Deceased)
        .collect();
    assert!(
        (0.003..=0.008).contains(&share(deceased.len())),
        "deceased {}",
        share(deceased.len())
    );
    let old_deceased = deceased
        .iter()
        .filter(|p| age_on(p.birth_date.date(), AS_OF) >= 60)
        .count();
    let old_share = share(by_age[60..].iter().sum());
    assert!(
        old_deceased as f64 / deceased.len() as f64 > 2.0 * old_share,
        "deaths are not concentrated among the old"
    );
    let suspended = people
        .iter()
        .filter(|p| p.status == PersonStatus::Suspended)
        .count();
    assert!((1..=200).contains(&suspended), "{suspended} suspended");

    // Birth provinces follow population: Hồ Chí Minh and Hà Nội lead.
    let mut provinces: HashMap<u16, usize> = HashMap::new();
    for p in &people {
        *provinces
            .entry(p.citizen_number.province().code)
            .or_default() += 1;
    }
    let mut ranked: Vec<_> = provinces.into_iter().collect();
    ranked.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
    let top: HashSet<u16> = ranked[..2].iter().map(|&(code, _)| code).collect();
    assert_eq!(top, HashSet::from([1, 79]));
    assert_eq!(ranked.len(), 63, "every province occurs");

    // Households: guardians usually have several children, not one each.
    let minors_with_guardian = people.iter().filter(|p| p.guardian.is_some()).count();
    let guardians: HashSet<usize> = people.iter().filter_map(|p| p.guardian).collect();
    assert!(minors_with_guardian as f64 / guardians.len() as f64 > 1.2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn invariants_hold_for_any_seed_and_date(
        seed in any::<u64>(),
        people in 0usize..400,
        year in 2001i16..=2390,
        day_of_year in 1i16..=365,
    ) {
        let as_of = date(year, 1, 1)
            .with()
            .day_of_year_no_leap(day_of_year)
            .build()
            .expect("a valid day of the year");
        let generated: Vec<_> = population(&PopulationSpec { seed, people, as_of }).collect();
        prop_assert_eq!(generated.len(), people);
        check_invariants(&generated, as_of);
    }
}

#[test]
fn leap_day_reference_dates_work() {
    let as_of = date(2028, 2, 29);
    let people: Vec<_> = population(&PopulationSpec {
        seed: 5,
        people: 20_000,
        as_of,
    })
    .collect();
    check_invariants(&people, as_of);
}

#[test]
#[should_panic(expected = "outside")]
fn a_reference_date_too_early_for_citizen_numbers_is_refused() {
    population(&PopulationSpec {
        seed: 1,
        people: 1,
        as_of: date(1990, 1, 1),
    });
}
