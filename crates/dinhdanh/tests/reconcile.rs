//! `dinhdanh reconcile` on a seeded store and a synthetic operator file: exact counts per
//! class, bad rows reported by line number, each person answered about recorded once in the
//! disclosure log, the same reports on a second run, and nothing else changed in the store.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use common::run_in;
use dinhdanh_core::{MobileNetwork, today_in_vietnam};
use dinhdanh_synth::{
    Expected, JunkShares, PopulationSpec, SUBSCRIBER_HEADER, SubscriberFileSpec, subscriber_file,
};
use serde_json::Value;

/// The synthetic tax code of Viettel among the organisations seeded with `seed`.
fn viettel(seed: u64) -> String {
    dinhdanh_synth::organisations(seed)
        .into_iter()
        .find(|organisation| organisation.name == "Viettel")
        .unwrap()
        .tax_code
        .as_str()
        .to_owned()
}

#[test]
fn an_operator_file_is_reconciled_exactly_and_reconciling_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| run_in(&data, args);
    let (ok, out, err) = run(&["seed", "--people", "3000", "--seed", "41"]);
    assert!(ok, "{out}{err}");

    // The file: the seeded people's lines, then five bad rows.
    let spec = SubscriberFileSpec {
        seed: 3,
        population: PopulationSpec {
            seed: 41,
            people: 3_000,
            as_of: today_in_vietnam(jiff::Timestamp::now()),
        },
        operator: MobileNetwork::Viettel,
        junk: JunkShares::default(),
    };
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    let path = dir.path().join("viettel.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(file, "{SUBSCRIBER_HEADER}").unwrap();
    let mut lines = 1u64;
    let mut good = None;
    // The registered people some line's answer is about: the operator learns whether the
    // registry agrees with what it declared.
    let mut told = BTreeSet::new();
    for row in subscriber_file(&spec) {
        writeln!(file, "{}", row.line).unwrap();
        lines += 1;
        // Organisations' lines, and numbers nobody has, tell nothing about a person.
        let number = row.line.split(',').nth(1).unwrap().to_owned();
        match row.expected {
            Expected::Verified if !number.is_empty() => {
                told.insert(number);
            }
            Expected::Rejected(reason)
                if !number.is_empty() && reason.as_str() != "unknown_citizen_number" =>
            {
                told.insert(number);
            }
            _ => {}
        }
        let class = match row.expected {
            Expected::Verified => {
                good.get_or_insert_with(|| row.line.clone());
                "verified"
            }
            Expected::Rejected(reason) => {
                *reasons.entry(reason.as_str().to_owned()).or_default() += 1;
                "rejected"
            }
            Expected::Duplicate => "duplicate",
            Expected::Malformed => "malformed",
        };
        *expected.entry(class.to_owned()).or_default() += 1;
    }
    let good = good.unwrap();
    let missing = good.rsplit_once(',').unwrap().0.to_owned();
    let mut broken = good.clone().into_bytes();
    broken[18] = 0xc3; // a lone lead byte
    broken[19] = b'(';
    let bad: [Vec<u8>; 4] = [
        broken,
        missing.into_bytes(),
        format!("{good},extra").into_bytes(),
        format!("{good}{}", "x".repeat(1 << 20)).into_bytes(),
    ];
    let mut bad_lines = Vec::new();
    for row in &bad {
        file.write_all(row).unwrap();
        file.write_all(b"\n").unwrap();
        lines += 1;
        bad_lines.push(lines);
    }
    *expected.entry("malformed".to_owned()).or_default() += bad.len() as u64;
    file.flush().unwrap();
    drop(file);

    let operator = viettel(41);
    let out_dir = dir.path().join("reports");
    let reconcile = || {
        run(&[
            "reconcile",
            "--operator",
            &operator,
            path.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ])
    };
    // Entries in the disclosure log, whether in the tree yet or waiting.
    let logged = || {
        let (ok, out, err) = run(&["log", "verify"]);
        assert!(ok, "{out}{err}");
        let numbers: Vec<u64> = out
            .split(|c: char| !c.is_ascii_digit())
            .filter(|part| !part.is_empty())
            .map(|part| part.parse().unwrap())
            .collect();
        let waiting = out
            .split(" waiting")
            .next()
            .and_then(|head| head.rsplit(' ').next())
            .unwrap()
            .parse::<u64>()
            .unwrap();
        numbers[0] + waiting
    };
    let seeded = logged();
    let (ok, out, err) = reconcile();
    assert!(ok, "{out}{err}");
    assert!(out.contains("Viettel"), "{out}");
    assert!(!told.is_empty());
    assert_eq!(logged(), seeded + told.len() as u64, "{out}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    let counts: BTreeMap<String, u64> = serde_json::from_value(summary["classes"].clone()).unwrap();
    assert_eq!(counts, expected);
    let counted_reasons: BTreeMap<String, u64> =
        serde_json::from_value(summary["reasons"].clone()).unwrap();
    assert_eq!(counted_reasons, reasons);
    assert_eq!(summary["rows"], lines - 1);
    assert!(!summary["provinces"].as_object().unwrap().is_empty());

    // Each bad row is reported at its line number, with what is wrong.
    let malformed = std::fs::read_to_string(out_dir.join("malformed.csv")).unwrap();
    for (line, why) in bad_lines.iter().zip([
        "not valid UTF-8",
        "5 columns",
        "7 columns",
        "more than 4096",
    ]) {
        let reported = malformed
            .lines()
            .find(|l| l.starts_with(&format!("{line},")))
            .unwrap_or_else(|| panic!("line {line} not reported: {malformed}"));
        assert!(reported.contains(why), "{reported}");
    }
    // People by lines, here and across operators (no other operator's lines in this store:
    // the same counts, small groups shown only as such); the staging folder is gone.
    let per_person = std::fs::read_to_string(out_dir.join("sims_per_person.csv")).unwrap();
    let mut rows = per_person.lines();
    assert_eq!(
        rows.next(),
        Some("lines,people_at_this_operator,people_across_operators")
    );
    for row in rows {
        let fields: Vec<&str> = row.split(',').collect();
        let here: u64 = fields[1].parse().unwrap();
        if here >= 10 {
            assert_eq!(fields[2], fields[1], "{row}");
        } else {
            assert_eq!(fields[2], "<10", "{row}");
        }
    }
    assert!(!out_dir.join(".reconciling").exists());
    let junk = std::fs::read_to_string(out_dir.join("junk.csv")).unwrap();
    assert_eq!(
        junk.lines().count() as u64 - 1,
        expected["rejected"] + expected["duplicate"]
    );
    assert!(
        std::fs::read_to_string(out_dir.join("summary.txt"))
            .unwrap()
            .contains("province")
    );

    // Again: the same reports, the same people told again, and the store otherwise as it was.
    let before = std::fs::read_to_string(out_dir.join("summary.json")).unwrap();
    let (ok, _, err) = reconcile();
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("summary.json")).unwrap(),
        before
    );
    assert_eq!(logged(), seeded + 2 * told.len() as u64);
    let (ok, _, err) = run(&["seed", "--people", "3000", "--seed", "41"]);
    assert!(!ok && err.contains("already in the database"), "{err}");

    // Refused: an operator that is not one, and an empty file, each in one line.
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let (ok, _, err) = run(&[
        "reconcile",
        "--operator",
        &operator,
        empty.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("empty"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (ok, _, err) = run(&[
        "reconcile",
        "--operator",
        "0000000000",
        path.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(!ok, "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The pipeline (two workers preparing a batch while the reading thread settles the one
/// before) classifies every line exactly as one reconciler does line by line, across batch
/// boundaries: a file of exactly two workers' batches, and a longer one with a line repeated
/// batches later.
#[test]
fn the_pipeline_classifies_as_one_reconciler_line_by_line_across_batches() {
    use dinhdanh::reconcile::{Format, reconcile};
    use dinhdanh_telecom::{Outcome, Reconciler, RegistryIndex};

    let spec = SubscriberFileSpec {
        seed: 9,
        population: PopulationSpec {
            seed: 9,
            people: 30_000,
            as_of: today_in_vietnam(jiff::Timestamp::now()),
        },
        operator: MobileNetwork::Viettel,
        junk: JunkShares::default(),
    };
    let mut index = RegistryIndex::new();
    for person in dinhdanh_synth::population(&spec.population) {
        index.insert_person(
            &person.citizen_number,
            &person.name,
            person.birth_date,
            person.status,
        );
    }
    for organisation in dinhdanh_synth::organisations(9) {
        index.insert_organisation(&organisation.tax_code);
    }
    let generated: Vec<_> = subscriber_file(&spec).collect();
    let early = generated
        .iter()
        .find(|row| row.expected == Expected::Verified)
        .unwrap()
        .line
        .clone();
    let mut rows: Vec<String> = generated.into_iter().map(|row| row.line).collect();
    assert!(rows.len() > 2 * 8_192 + 1_000, "{}", rows.len());
    rows.push(early);
    let dir = tempfile::tempdir().unwrap();
    for count in [2 * 8_192, rows.len()] {
        let path = dir.path().join(format!("file-{count}.csv"));
        let mut text = format!("{SUBSCRIBER_HEADER}\n");
        for row in &rows[..count] {
            text.push_str(row);
            text.push('\n');
        }
        std::fs::write(&path, &text).unwrap();
        let out = dir.path().join(format!("reports-{count}"));
        let report = reconcile(
            &index,
            &[],
            3,
            std::io::BufReader::new(std::fs::File::open(&path).unwrap()),
            text.len() as u64,
            Format::Csv,
            &out,
            |_, _| {},
        )
        .unwrap();
        assert_eq!(report.rows, count as u64);

        // The same lines, one by one, through one reconciler.
        let mut reconciler = Reconciler::new(&index, 3);
        let mut junk = vec!["line,msisdn,class,reasons".to_owned()];
        let mut malformed = vec!["line,reason".to_owned()];
        for (offset, row) in rows[..count].iter().enumerate() {
            let line = offset + 2;
            let classified = reconciler.classify(row.as_bytes());
            let msisdn = classified
                .msisdn
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default();
            match classified.outcome {
                Outcome::Verified => {}
                Outcome::Rejected(reasons) => {
                    let names: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
                    junk.push(format!("{line},{msisdn},rejected,{}", names.join(" ")));
                }
                Outcome::Duplicate => junk.push(format!("{line},{msisdn},duplicate,")),
                Outcome::Malformed(why) => malformed.push(format!("{line},{why}")),
            }
        }
        let read = |name: &str| -> Vec<String> {
            std::fs::read_to_string(out.join(name))
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(read("junk.csv"), junk, "{count} lines");
        assert_eq!(read("malformed.csv"), malformed, "{count} lines");
    }
    // The repeated line, batches after the first, is a duplicate at its own line number.
    let last = rows.len() + 1;
    let junk = std::fs::read_to_string(
        dir.path()
            .join(format!("reports-{}", rows.len()))
            .join("junk.csv"),
    )
    .unwrap();
    assert!(
        junk.lines()
            .any(|l| l.starts_with(&format!("{last},")) && l.contains(",duplicate,")),
        "{last}"
    );
}

/// The per-person counts across operators add the live lines the store holds at other
/// operators to this file's verified lines, for this operator's own subscribers only; and
/// what reconciliation tells is recorded once a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_across_operators_add_the_lines_stored_at_other_operators() {
    use dinhdanh::reconcile::{
        Format, load_lines_elsewhere, load_registry, reconcile, record_answers,
    };
    use dinhdanh_core::{EidLevel, OrganisationKind, PersonStatus};
    use dinhdanh_store::{
        Holder, NewOrganisation, NewPerson, NewSubscription, PersonalData, StoreOptions,
    };

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = dinhdanh_store::open(
        &StoreOptions::new(url),
        &dinhdanh_crypto::MasterKey::generate().unwrap(),
    )
    .await
    .unwrap();
    let today = today_in_vietnam(jiff::Timestamp::now());
    let adults: Vec<_> = dinhdanh_synth::population(&PopulationSpec {
        seed: 12,
        people: 200,
        as_of: today,
    })
    .filter(|person| {
        person.status == PersonStatus::Active
            && dinhdanh_core::AgeBracket::at(&person.birth_date, jiff::Timestamp::now()).over_18()
    })
    .take(3)
    .collect();
    let mut ids = Vec::new();
    for person in &adults {
        let stored = store
            .insert_person(&NewPerson {
                personal: PersonalData::new(
                    person.citizen_number,
                    person.name.clone(),
                    person.birth_date,
                    person.sex,
                    today,
                )
                .unwrap(),
                status: PersonStatus::Active,
                eid_level: EidLevel::Level1,
            })
            .await
            .unwrap();
        ids.push(stored.id);
    }
    let operator = |tax: &str, name: &str| NewOrganisation {
        tax_code: tax.parse().unwrap(),
        name: name.to_owned(),
        kind: OrganisationKind::TelecomOperator,
        parent_id: None,
    };
    let here = store
        .insert_organisation(&operator("0100000021", "Nhà mạng Đây"))
        .await
        .unwrap();
    let there = store
        .insert_organisation(&operator("0100000022", "Nhà mạng Kia"))
        .await
        .unwrap();
    // The first adult holds two lines at the other operator, the third one.
    for (person, number) in [
        (ids[0], "0911000001"),
        (ids[0], "0911000002"),
        (ids[2], "0911000003"),
    ] {
        store
            .subscriptions()
            .insert_subscription(
                &NewSubscription {
                    operator_id: there.id,
                    msisdn: number.parse().unwrap(),
                    holder: Holder::Person(person),
                    contract: false,
                    activated_on: today,
                    face_check: None,
                },
                3,
                None,
            )
            .await
            .unwrap();
    }
    let registry = load_registry(store.as_ref(), |_| {}).await.unwrap();
    let elsewhere = load_lines_elsewhere(store.as_ref(), &registry, here.id)
        .await
        .unwrap();
    assert_eq!(elsewhere.iter().map(|n| u32::from(*n)).sum::<u32>(), 3);
    assert!(
        load_lines_elsewhere(store.as_ref(), &registry, there.id)
            .await
            .unwrap()
            .iter()
            .all(|n| *n == 0),
        "an operator's own lines are not 'elsewhere'"
    );

    // This operator's file: one line of the first adult, one of the second; the third adult
    // is not its subscriber, so their lines elsewhere are not its business.
    let line = |person: &dinhdanh_synth::SyntheticPerson, number: &str| {
        format!(
            "{number},{},{},{},,2026-01-05\n",
            person.citizen_number.as_str(),
            person.name.as_str(),
            person.birth_date
        )
    };
    let text = format!(
        "{SUBSCRIBER_HEADER}\n{}{}",
        line(&adults[0], "0961000001"),
        line(&adults[1], "0961000002")
    );
    let out = dir.path().join("reports");
    let report = reconcile(
        &registry.index,
        &elsewhere,
        3,
        std::io::Cursor::new(text.clone()),
        text.len() as u64,
        Format::Csv,
        &out,
        |_, _| {},
    )
    .unwrap();
    assert_eq!(report.lines_per_person, BTreeMap::from([(1, 2)]));
    assert_eq!(
        report.lines_across_operators,
        BTreeMap::from([(1, 1), (3, 1)])
    );
    let per_person = std::fs::read_to_string(out.join("sims_per_person.csv")).unwrap();
    assert!(per_person.contains("\n1,2,<10\n"), "{per_person}");
    assert!(per_person.contains("\n3,0,<10\n"), "{per_person}");

    // The answers about the two subscribers go into their logs, once each.
    assert_eq!(report.told.len(), 2);
    let log = store.disclosure_log();
    let before = log.sizes().await.unwrap();
    let recorded = record_answers(log.as_ref(), here.id, &registry, &report.told, |_| {})
        .await
        .unwrap();
    assert_eq!(recorded, 2);
    let after = log.sizes().await.unwrap();
    assert_eq!(after.0 + after.1 - before.0 - before.1, 2);
    for (person, told) in [(ids[0], true), (ids[1], true), (ids[2], false)] {
        let entries = log.list_subject_entries(person).await.unwrap().entries;
        assert_eq!(
            entries
                .iter()
                .filter(|entry| entry.record.disclosed == ["subscriber_check"])
                .count(),
            usize::from(told)
        );
    }
}
