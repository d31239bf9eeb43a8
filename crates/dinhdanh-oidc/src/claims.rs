//! The claims a set of scopes releases about a person.
//!
//! Only what a scope names leaves: `age` gives three booleans and never the birth date; no scope
//! gives the citizen number or the internal id (DESIGN §2, §6).

use dinhdanh_core::{AgeBracket, BirthDate, EidLevel};
use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::scope::{Scope, Scopes};

/// What the engine may know about a person when it builds claims.
#[derive(Debug, Clone)]
pub struct PersonFacts {
    /// The person is living and not suspended.
    pub active: bool,
    /// Their e-ID level.
    pub eid_level: EidLevel,
    /// Their birth date.
    pub birth_date: BirthDate,
    /// Their full name.
    pub name: String,
    /// A verified mobile number in E.164 form, if they have one.
    pub phone: Option<String>,
}

/// The claims `scopes` release about `person` at `now` (ages on the calendar of Vietnam).
pub fn release_claims(scopes: &Scopes, person: &PersonFacts, now: Timestamp) -> Map<String, Value> {
    let mut claims = Map::new();
    for scope in scopes.iter() {
        match scope {
            Scope::OpenId | Scope::OfflineAccess => {}
            Scope::Verified => {
                let verified = person.active && person.eid_level >= EidLevel::Level1;
                claims.insert("verified".into(), verified.into());
            }
            Scope::Age => {
                let bracket = AgeBracket::at(&person.birth_date, now);
                claims.insert("age_over_13".into(), bracket.over_13().into());
                claims.insert("age_over_16".into(), bracket.over_16().into());
                claims.insert("age_over_18".into(), bracket.over_18().into());
            }
            Scope::Profile => {
                claims.insert("name".into(), person.name.clone().into());
            }
            Scope::Phone => {
                if let Some(phone) = &person.phone {
                    claims.insert("phone_number".into(), phone.clone().into());
                    claims.insert("phone_number_verified".into(), true.into());
                }
            }
            Scope::Birthdate => {
                claims.insert(
                    "birthdate".into(),
                    person.birth_date.date().to_string().into(),
                );
            }
        }
    }
    claims
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn person(born: jiff::civil::Date) -> PersonFacts {
        PersonFacts {
            active: true,
            eid_level: EidLevel::Level1,
            birth_date: BirthDate::new(born),
            name: "Nguyễn Văn Thử".into(),
            phone: None,
        }
    }

    #[test]
    fn age_gives_three_booleans_and_nothing_else() {
        // 2026-06-01 00:30 in Vietnam is still 2026-05-31 in UTC.
        let now: Timestamp = "2026-05-31T17:30:00Z".parse().unwrap();
        let claims = release_claims(
            &Scopes::from_scopes([Scope::OpenId, Scope::Age]),
            &person(date(2010, 6, 1)),
            now,
        );
        assert_eq!(
            Value::Object(claims),
            serde_json::json!({"age_over_13": true, "age_over_16": true, "age_over_18": false})
        );
    }

    #[test]
    fn each_scope_releases_only_its_claims() {
        let now: Timestamp = "2026-11-30T00:00:00Z".parse().unwrap();
        let mut someone = person(date(1990, 1, 2));
        let claims = release_claims(&Scopes::from_scopes([Scope::OpenId]), &someone, now);
        assert!(claims.is_empty());
        let claims = release_claims(
            &Scopes::from_scopes([Scope::Profile, Scope::Phone]),
            &someone,
            now,
        );
        assert_eq!(claims.keys().collect::<Vec<_>>(), ["name"]);
        someone.phone = Some("+84912345678".into());
        someone.active = false;
        let claims = release_claims(
            &Scopes::from_scopes([Scope::Verified, Scope::Phone, Scope::Birthdate]),
            &someone,
            now,
        );
        assert_eq!(claims["verified"], false);
        assert_eq!(claims["birthdate"], "1990-01-02");
        assert_eq!(claims["phone_number_verified"], true);
    }
}
