//! Bulk reconciliation throughput and memory, against the physical limit measured in the same
//! run: reading the same file and splitting it into lines and fields, with no parsing or
//! checks.
//!
//! A synthetic population is indexed as the command indexes the store (the store's own
//! loading is not measured here), a synthetic operator file of its adults' lines is written
//! to a temporary file, and `dinhdanh::reconcile::reconcile` reads it with its reports.
//!
//! `cargo bench -p dinhdanh --bench reconcile` (`DINHDANH_BENCH_PEOPLE`, 1,000,000 by
//! default; 10,000,000 for the full-size figure). About three people in four are adults with
//! a line; `DINHDANH_BENCH_ROWS` asks for that many lines instead, the file going through
//! the population again (other numbers, so more lines a person) until it has them.

#![allow(missing_docs, clippy::unwrap_used)]

use std::io::{BufRead, Write};
use std::time::Instant;

use dinhdanh::reconcile::{Format, reconcile};
use dinhdanh_core::{MobileNetwork, today_in_vietnam};
use dinhdanh_synth::{
    JunkShares, PopulationSpec, SUBSCRIBER_HEADER, SubscriberFileSpec, population, subscriber_file,
};
use dinhdanh_telecom::RegistryIndex;

/// Peak resident memory of this process so far, in MiB (`VmHWM`); zero where unknown.
fn peak_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

fn main() {
    let people: usize = std::env::var("DINHDANH_BENCH_PEOPLE")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let spec = SubscriberFileSpec {
        seed: 1,
        population: PopulationSpec {
            seed: 1,
            people,
            as_of: today_in_vietnam(jiff::Timestamp::now()),
        },
        operator: MobileNetwork::Viettel,
        junk: JunkShares::default(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("operator.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(file, "{SUBSCRIBER_HEADER}").unwrap();
    let wanted: Option<u64> = std::env::var("DINHDANH_BENCH_ROWS")
        .ok()
        .and_then(|value| value.parse().ok());
    let mut rows = 0u64;
    let mut pass = 0;
    'file: loop {
        let spec = SubscriberFileSpec {
            seed: spec.seed + pass,
            ..spec
        };
        for row in subscriber_file(&spec) {
            if wanted.is_some_and(|wanted| rows >= wanted) {
                break 'file;
            }
            writeln!(file, "{}", row.line).unwrap();
            rows += 1;
        }
        pass += 1;
        if wanted.is_none_or(|wanted| rows >= wanted) {
            break;
        }
    }
    file.flush().unwrap();
    drop(file);
    let size = std::fs::metadata(&path).unwrap().len();

    let started = Instant::now();
    let mut index = RegistryIndex::with_capacity(people);
    for person in population(&spec.population) {
        index.insert_person(
            &person.citizen_number,
            &person.name,
            person.birth_date,
            person.status,
        );
    }
    for organisation in dinhdanh_synth::organisations(spec.population.seed) {
        index.insert_organisation(&organisation.tax_code);
    }
    let indexing = started.elapsed();
    let after_index = peak_mib();

    // The limit: the same bytes read, cut into lines and fields, nothing more.
    let started = Instant::now();
    let mut reader =
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).unwrap());
    let mut line = Vec::with_capacity(256);
    let mut fields = 0usize;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).unwrap() == 0 {
            break;
        }
        fields += line.split(|byte| *byte == b',').count();
    }
    std::hint::black_box(fields);
    let limit = rows as f64 / started.elapsed().as_secs_f64();

    let out = dir.path().join("reports");
    let started = Instant::now();
    let report = reconcile(
        &index,
        &[],
        3,
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).unwrap()),
        size,
        Format::Csv,
        &out,
        |_, _| {},
    )
    .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.rows, rows);
    let rate = rows as f64 / elapsed.as_secs_f64();

    println!(
        "reconciliation: {rows} lines ({} MiB) against {people} people",
        size >> 20
    );
    println!("| what | rate | against the limit |");
    println!("|---|---|---|");
    println!("| **limit:** reading the file into lines and fields | {limit:.0} lines/s | 100 % |");
    println!(
        "| **reconciliation** (parse, check, reports) | **{rate:.0} lines/s** | **{:.0} %** |",
        100.0 * rate / limit
    );
    println!(
        "indexing {people} people: {:.1} s ({:.0} people/s); peak memory {after_index} MiB \
         after indexing, {} MiB at the end",
        indexing.as_secs_f64(),
        people as f64 / indexing.as_secs_f64(),
        peak_mib()
    );
    println!("classes: {:?}", report.classes);
}
