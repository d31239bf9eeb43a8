//! Properties of the synthetic organisations that callers rely on.

use std::collections::HashSet;

use dinhdanh_core::OrganisationKind;
use dinhdanh_synth::{ENTERPRISES, organisations};

#[test]
fn tax_codes_are_unique_and_well_formed() {
    let list = organisations(11);
    let codes: HashSet<&str> = list.iter().map(|o| o.tax_code.as_str()).collect();
    assert_eq!(codes.len(), list.len(), "duplicate tax codes");
    for org in &list {
        let code = org.tax_code.as_str();
        let (head, branch) = code.split_at(10.min(code.len()));
        assert_eq!(head.len(), 10, "{code}");
        assert!(head.bytes().all(|b| b.is_ascii_digit()), "{code}");
        match org.parent {
            Some(parent) if org.kind == OrganisationKind::Enterprise => {
                assert!(branch.starts_with('-') && branch.len() == 4, "{code}");
                assert_eq!(head, list[parent].tax_code.as_str(), "branch {code}");
            }
            _ => assert!(branch.is_empty(), "{code}"),
        }
    }
}

#[test]
fn every_kind_is_present() {
    let list = organisations(11);
    for kind in OrganisationKind::ALL {
        assert!(list.iter().any(|o| o.kind == *kind), "no {kind:?}");
    }
    let count = |kind| list.iter().filter(|o| o.kind == kind).count();
    assert_eq!(count(OrganisationKind::Province), 63);
    assert!(count(OrganisationKind::Ministry) >= 14);
    assert!(count(OrganisationKind::Enterprise) > ENTERPRISES);
    let operators: HashSet<&str> = list
        .iter()
        .filter(|o| o.kind == OrganisationKind::TelecomOperator)
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(
        operators,
        HashSet::from([
            "Viettel",
            "VNPT VinaPhone",
            "MobiFone",
            "Vietnamobile",
            "Gmobile",
            "Itelecom"
        ])
    );
    for name in ["Bộ Công an", "Bộ Khoa học và Công nghệ", "Bộ Y tế"] {
        assert!(list.iter().any(|o| o.name == name), "no {name}");
    }
    assert!(
        list.iter()
            .any(|o| o.name == "Ủy ban nhân dân thành phố Hồ Chí Minh")
    );
}

#[test]
fn parents_are_earlier_entries_of_the_right_kind() {
    let list = organisations(11);
    let mut branches = 0;
    for (index, org) in list.iter().enumerate() {
        let Some(parent) = org.parent else {
            assert_ne!(
                org.kind,
                OrganisationKind::Agency,
                "{} has no ministry",
                org.name
            );
            continue;
        };
        assert!(parent < index, "{} points forward", org.name);
        let expected = match org.kind {
            OrganisationKind::Agency => OrganisationKind::Ministry,
            OrganisationKind::Enterprise => {
                branches += 1;
                OrganisationKind::Enterprise
            }
            other => panic!("{other:?} {} should have no parent", org.name),
        };
        assert_eq!(list[parent].kind, expected, "{}", org.name);
        assert_eq!(list[parent].parent, None, "{}", org.name);
    }
    assert!(branches >= 2);
}

#[test]
fn names_are_unique() {
    let list = organisations(11);
    let names: HashSet<&str> = list.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names.len(), list.len());
}

#[test]
fn the_list_is_a_function_of_the_seed() {
    assert_eq!(organisations(5), organisations(5));
    let a = organisations(5);
    let b = organisations(6);
    assert_eq!(a.len(), b.len());
    let a_codes: HashSet<&str> = a.iter().map(|o| o.tax_code.as_str()).collect();
    assert!(b.iter().all(|o| !a_codes.contains(o.tax_code.as_str())));
}
