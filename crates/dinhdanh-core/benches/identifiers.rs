//! Benchmarks of the parsers every request goes through, and of age computation.
//!
//! Run with `cargo bench -p dinhdanh-core`.

// criterion's macros generate public functions without doc comments.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use dinhdanh_core::{AgeBracket, BirthDate, CitizenNumber, Msisdn, PersonName};
use std::hint::black_box;
use unicode_normalization::UnicodeNormalization;

fn parse_citizen_number(c: &mut Criterion) {
    c.bench_function("CitizenNumber::from_str", |b| {
        b.iter(|| black_box("001090012345").parse::<CitizenNumber>())
    });
}

fn parse_msisdn(c: &mut Criterion) {
    c.bench_function("Msisdn::from_str (+84 with separators)", |b| {
        b.iter(|| black_box("+84 (0) 91-234.5678").parse::<Msisdn>())
    });
    c.bench_function("Msisdn::from_str (national)", |b| {
        b.iter(|| black_box("0912345678").parse::<Msisdn>())
    });
}

fn parse_person_name(c: &mut Criterion) {
    let nfc = "Nguyễn  Thị Đào   Trần Hoàng Phương";
    let nfd: String = nfc.nfd().collect();
    c.bench_function("PersonName::from_str (NFC)", |b| {
        b.iter(|| black_box(nfc).parse::<PersonName>())
    });
    c.bench_function("PersonName::from_str (NFD)", |b| {
        b.iter(|| black_box(nfd.as_str()).parse::<PersonName>())
    });
    let name: Result<PersonName, _> = nfc.parse();
    if let Ok(name) = name {
        c.bench_function("PersonName::folded", |b| {
            b.iter(|| black_box(&name).folded())
        });
    }
}

fn age_bracket(c: &mut Criterion) {
    let birth = BirthDate::new(jiff::civil::date(2008, 2, 29));
    let now = jiff::Timestamp::from_second(1_772_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    c.bench_function("AgeBracket::at", |b| {
        b.iter(|| AgeBracket::at(black_box(&birth), black_box(now)))
    });
}

criterion_group!(
    benches,
    parse_citizen_number,
    parse_msisdn,
    parse_person_name,
    age_bracket
);
criterion_main!(benches);
