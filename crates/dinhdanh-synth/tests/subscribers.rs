//! The synthetic operator files against the reconciliation rules of `dinhdanh-telecom`: every
//! row gets exactly the class the generator meant, so counts per class are exact.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use dinhdanh_core::MobileNetwork;
use dinhdanh_synth::{
    Expected, JunkShares, PopulationSpec, SubscriberFileSpec, organisations, population,
    subscriber_file,
};
use dinhdanh_telecom::{Malformed, Outcome, Reconciler, RegistryIndex};

fn spec() -> SubscriberFileSpec {
    SubscriberFileSpec {
        seed: 23,
        population: PopulationSpec {
            seed: 5,
            people: 20_000,
            as_of: jiff::civil::date(2026, 6, 1),
        },
        operator: MobileNetwork::MobiFone,
        junk: JunkShares::default(),
    }
}

fn registry(spec: &SubscriberFileSpec) -> RegistryIndex {
    let mut registry = RegistryIndex::new();
    for person in population(&spec.population) {
        registry.insert_person(
            &person.citizen_number,
            &person.name,
            person.birth_date,
            person.status,
        );
    }
    // The organisations `dinhdanh seed` registers with the population's seed.
    for organisation in organisations(spec.population.seed) {
        registry.insert_organisation(&organisation.tax_code);
    }
    registry
}

fn class(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Verified => "verified".to_owned(),
        Outcome::Rejected(reasons) => reasons
            .iter()
            .map(|reason| reason.as_str())
            .collect::<Vec<_>>()
            .join("+"),
        Outcome::Duplicate => "duplicate".to_owned(),
        Outcome::Malformed(_) => "malformed".to_owned(),
    }
}

fn expected_class(expected: Expected) -> String {
    match expected {
        Expected::Verified => "verified".to_owned(),
        Expected::Rejected(reason) => reason.as_str().to_owned(),
        Expected::Duplicate => "duplicate".to_owned(),
        Expected::Malformed => "malformed".to_owned(),
    }
}

#[test]
fn every_row_gets_the_class_it_was_made_for() {
    let spec = spec();
    let registry = registry(&spec);
    let mut reconciler = Reconciler::new(&registry, 3);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (line, row) in subscriber_file(&spec).enumerate() {
        let got = reconciler.classify(row.line.as_bytes());
        let (got, want) = (class(&got.outcome), expected_class(row.expected));
        assert_eq!(got, want, "line {}: {}", line + 2, row.line);
        *counts.entry(got).or_default() += 1;
    }
    // Every class is there, and the counts are those the generator meant.
    for class in [
        "verified",
        "duplicate",
        "malformed",
        "unknown_citizen_number",
        "name_mismatch",
        "birth_date_mismatch",
        "holder_deceased",
        "over_operator_limit",
        "msisdn_held_by_another",
        "unknown_tax_code",
    ] {
        assert!(
            counts.get(class).copied().unwrap_or(0) > 0,
            "{class}: {counts:?}"
        );
    }
    // Organisations hold verified lines too.
    let organisation_lines = subscriber_file(&spec)
        .filter(|row| row.expected == Expected::Verified && row.line.contains(",,,,"))
        .count();
    assert!(organisation_lines > 0);
    // The same file again, from the start, gives the same answers.
    let mut again = Reconciler::new(&registry, 3);
    let mut recount: BTreeMap<String, usize> = BTreeMap::new();
    for row in subscriber_file(&spec) {
        *recount
            .entry(class(&again.classify(row.line.as_bytes()).outcome))
            .or_default() += 1;
    }
    assert_eq!(recount, counts);
}

#[test]
fn bad_rows_are_reported_and_never_stop_the_run() {
    let spec = spec();
    let registry = registry(&spec);
    let mut reconciler = Reconciler::new(&registry, 3);
    let good = subscriber_file(&spec)
        .find(|row| row.expected == Expected::Verified)
        .unwrap()
        .line;
    let huge = format!("{good},{}", "x".repeat(1 << 20));
    let mut broken_utf8 = good.clone().into_bytes();
    broken_utf8[20] = 0xff;
    let missing = good.rsplit_once(',').unwrap().0.to_owned();
    let extra = format!("{good},extra");
    let cases: [(&[u8], Malformed); 7] = [
        (&broken_utf8, Malformed::NotUtf8),
        (missing.as_bytes(), Malformed::Columns(5)),
        (extra.as_bytes(), Malformed::Columns(7)),
        (huge.as_bytes(), Malformed::TooLong(huge.len())),
        (b"", Malformed::Columns(1)),
        (
            b"\"+8470\"1234567,001090012345,An,1990-01-01,,2024-01-01",
            Malformed::Quoted,
        ),
        (
            b"+84701234567,001090012345,\"An, Binh\",1990-01-01,,2024-01-01",
            Malformed::Columns(7),
        ),
    ];
    for (bytes, why) in cases {
        assert_eq!(
            reconciler.classify(bytes).outcome,
            Outcome::Malformed(why.clone()),
            "{why}"
        );
    }
    // The run goes on: the good line is still verified afterwards, with every field quoted
    // (RFC 4180) as without, which is then the same line again.
    let quoted: Vec<String> = good
        .split(',')
        .map(|field| format!("\"{field}\""))
        .collect();
    assert_eq!(
        reconciler.classify(quoted.join(",").as_bytes()).outcome,
        Outcome::Verified
    );
    assert_eq!(
        reconciler.classify(good.as_bytes()).outcome,
        Outcome::Duplicate
    );
}
