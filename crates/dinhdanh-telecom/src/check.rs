//! The subscriber check: every reason a declared holder is refused, or none.

use dinhdanh_core::{BirthDate, CitizenNumber, IdentifierError, PersonName, PersonStatus, TaxCode};

/// Who an operator says holds a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclaredHolder {
    /// A person, as the operator recorded them.
    Person {
        /// Their citizen number.
        number: CitizenNumber,
        /// Their full name.
        name: PersonName,
        /// Their birth date.
        birth_date: BirthDate,
    },
    /// An organisation, by its tax code.
    Organisation {
        /// Its tax code.
        tax_code: TaxCode,
    },
}

/// A name as matching sees it: a 64-bit hash (FNV-1a) of its folded form
/// ([`PersonName::folded`]), without case or diacritics. It keeps no name in clear in an
/// index, and costs 8 bytes a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameKey(u64);

/// FNV-1a over the UTF-8 of folded characters.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn push(&mut self, c: char) {
        let mut buffer = [0u8; 4];
        for byte in c.encode_utf8(&mut buffer).bytes() {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl NameKey {
    /// The key of a name.
    pub fn of(name: &PersonName) -> Self {
        let mut hash = Fnv::new();
        name.folded_chars().for_each(|c| hash.push(c));
        Self(hash.0)
    }

    /// The key of the name `text` parses to, without building the name
    /// ([`PersonName::fold_str`]); the same error when it does not parse.
    pub fn of_text(text: &str) -> Result<Self, IdentifierError> {
        let mut hash = Fnv::new();
        PersonName::fold_str(text, |c| hash.push(c))?;
        Ok(Self(hash.0))
    }
}

/// A person as the registry holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    /// Their full name, as matching sees it.
    pub name: NameKey,
    /// Their birth date.
    pub birth_date: BirthDate,
    /// Alive and active, deceased or suspended.
    pub status: PersonStatus,
}

/// What the registry holds about the declared holder, as the caller found it (by the
/// citizen number's blind index, or the tax code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderFacts {
    /// A person with that citizen number.
    Person(PersonRecord),
    /// An organisation with that tax code.
    Organisation,
    /// Nobody with that citizen number or tax code.
    Unknown,
}

/// What the check needs to know besides the holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFacts {
    /// The registry's answer about the declared holder.
    pub holder: HolderFacts,
    /// The holder's other live subscriptions at this operator (this one not counted).
    pub held_at_operator: u32,
    /// How many a person may hold at this operator: 3, unless a contract flag says more.
    pub operator_limit: u32,
    /// Whether another holder has a live subscription with this MSISDN.
    pub msisdn_held_by_another: bool,
}

/// Why a subscription is refused. Each answer lists every reason that applies, in this
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// No person has the citizen number.
    UnknownCitizenNumber,
    /// No organisation has the tax code.
    UnknownTaxCode,
    /// The name differs from the registry's.
    NameMismatch,
    /// The birth date differs from the registry's.
    BirthDateMismatch,
    /// The registry records the holder's death.
    HolderDeceased,
    /// The holder's record is suspended.
    HolderSuspended,
    /// The person already holds as many subscriptions at this operator as allowed.
    OverOperatorLimit,
    /// The number belongs to another holder's live subscription.
    MsisdnHeldByAnother,
}

impl Reason {
    /// Every reason, in the order answers list them.
    pub const ALL: [Self; 8] = [
        Self::UnknownCitizenNumber,
        Self::UnknownTaxCode,
        Self::NameMismatch,
        Self::BirthDateMismatch,
        Self::HolderDeceased,
        Self::HolderSuspended,
        Self::OverOperatorLimit,
        Self::MsisdnHeldByAnother,
    ];

    /// Its stable name on the wire and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownCitizenNumber => "unknown_citizen_number",
            Self::UnknownTaxCode => "unknown_tax_code",
            Self::NameMismatch => "name_mismatch",
            Self::BirthDateMismatch => "birth_date_mismatch",
            Self::HolderDeceased => "holder_deceased",
            Self::HolderSuspended => "holder_suspended",
            Self::OverOperatorLimit => "over_operator_limit",
            Self::MsisdnHeldByAnother => "msisdn_held_by_another",
        }
    }

    /// What it means, in a sentence an operator's staff can act on.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::UnknownCitizenNumber => {
                "no person in the population registry has this citizen number"
            }
            Self::UnknownTaxCode => "no organisation in the registry has this tax code",
            Self::NameMismatch => "the name differs from the registry's",
            Self::BirthDateMismatch => "the birth date differs from the registry's",
            Self::HolderDeceased => "the registry records the holder's death",
            Self::HolderSuspended => "the holder's record is suspended",
            Self::OverOperatorLimit => {
                "the person already holds as many subscriptions at this operator as allowed"
            }
            Self::MsisdnHeldByAnother => "the number belongs to another holder's subscription",
        }
    }
}

/// The answer: verified when no reason applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Every reason that applies, in [`Reason::ALL`] order; empty when verified.
    pub reasons: Vec<Reason>,
}

impl Verdict {
    /// Whether the declared holder is verified.
    pub fn verified(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// A declared holder as the check compares it: a person by the key of their folded name and
/// their birth date, or an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredKeys {
    /// A person.
    Person {
        /// The key of the declared name.
        name: NameKey,
        /// The declared birth date.
        birth_date: BirthDate,
    },
    /// An organisation.
    Organisation,
}

impl DeclaredHolder {
    /// What the check compares of it.
    pub fn keys(&self) -> DeclaredKeys {
        match self {
            Self::Person {
                name, birth_date, ..
            } => DeclaredKeys::Person {
                name: NameKey::of(name),
                birth_date: *birth_date,
            },
            Self::Organisation { .. } => DeclaredKeys::Organisation,
        }
    }
}

/// Checks a declared holder against what the registry holds. Names match when they agree
/// without regard to case and diacritics ([`PersonName::folded`]): operators' older records
/// often lack the diacritics, while a different letter or word is still a mismatch. The
/// answer depends on its inputs only, so the same row always gets the same verdict.
pub fn check(declared: &DeclaredHolder, facts: &SubscriptionFacts) -> Verdict {
    check_keys(&declared.keys(), facts)
}

/// [`check`] on what it compares of the declared holder: the one set of rules.
pub fn check_keys(declared: &DeclaredKeys, facts: &SubscriptionFacts) -> Verdict {
    let mut reasons = Vec::new();
    match (declared, &facts.holder) {
        (DeclaredKeys::Person { name, birth_date }, HolderFacts::Person(record)) => {
            if *name != record.name {
                reasons.push(Reason::NameMismatch);
            }
            if birth_date != &record.birth_date {
                reasons.push(Reason::BirthDateMismatch);
            }
            match record.status {
                PersonStatus::Active => {}
                PersonStatus::Deceased => reasons.push(Reason::HolderDeceased),
                PersonStatus::Suspended => reasons.push(Reason::HolderSuspended),
            }
            if facts.held_at_operator >= facts.operator_limit {
                reasons.push(Reason::OverOperatorLimit);
            }
        }
        (DeclaredKeys::Person { .. }, _) => reasons.push(Reason::UnknownCitizenNumber),
        (DeclaredKeys::Organisation, HolderFacts::Organisation) => {}
        (DeclaredKeys::Organisation, _) => reasons.push(Reason::UnknownTaxCode),
    }
    if facts.msisdn_held_by_another {
        reasons.push(Reason::MsisdnHeldByAnother);
    }
    Verdict { reasons }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn person(name: &str) -> DeclaredHolder {
        DeclaredHolder::Person {
            number: "001090012345".parse().unwrap(),
            name: name.parse().unwrap(),
            birth_date: BirthDate::new(date(1990, 5, 17)),
        }
    }

    fn facts(holder: HolderFacts) -> SubscriptionFacts {
        SubscriptionFacts {
            holder,
            held_at_operator: 0,
            operator_limit: 3,
            msisdn_held_by_another: false,
        }
    }

    fn record(status: PersonStatus) -> HolderFacts {
        HolderFacts::Person(PersonRecord {
            name: NameKey::of(&"Trần Thị Mai".parse().unwrap()),
            birth_date: BirthDate::new(date(1990, 5, 17)),
            status,
        })
    }

    #[test]
    fn a_matching_living_person_under_the_limit_is_verified() {
        let verdict = check(
            &person("Trần Thị Mai"),
            &facts(record(PersonStatus::Active)),
        );
        assert!(verdict.verified(), "{verdict:?}");
        // Without diacritics and in capitals it is the same name.
        assert!(
            check(
                &person("TRAN THI MAI"),
                &facts(record(PersonStatus::Active))
            )
            .verified()
        );
    }

    #[test]
    fn every_reason_that_applies_is_listed_in_order() {
        let declared = DeclaredHolder::Person {
            number: "001090012345".parse().unwrap(),
            name: "Trần Thị Mây".parse().unwrap(),
            birth_date: BirthDate::new(date(1990, 5, 18)),
        };
        let verdict = check(
            &declared,
            &SubscriptionFacts {
                held_at_operator: 3,
                msisdn_held_by_another: true,
                ..facts(record(PersonStatus::Deceased))
            },
        );
        assert_eq!(
            verdict.reasons,
            [
                Reason::NameMismatch,
                Reason::BirthDateMismatch,
                Reason::HolderDeceased,
                Reason::OverOperatorLimit,
                Reason::MsisdnHeldByAnother,
            ]
        );
        let suspended = check(
            &person("Trần Thị Mai"),
            &facts(record(PersonStatus::Suspended)),
        );
        assert_eq!(suspended.reasons, [Reason::HolderSuspended]);
    }

    #[test]
    fn the_limit_counts_the_others_and_a_contract_raises_it() {
        let at = |held, limit| {
            check(
                &person("Trần Thị Mai"),
                &SubscriptionFacts {
                    held_at_operator: held,
                    operator_limit: limit,
                    ..facts(record(PersonStatus::Active))
                },
            )
            .reasons
        };
        assert!(at(2, 3).is_empty(), "the third is allowed");
        assert_eq!(at(3, 3), [Reason::OverOperatorLimit]);
        assert!(at(3, 10).is_empty());
    }

    #[test]
    fn unknown_holders_and_organisations() {
        assert_eq!(
            check(&person("Trần Thị Mai"), &facts(HolderFacts::Unknown)).reasons,
            [Reason::UnknownCitizenNumber]
        );
        let company = DeclaredHolder::Organisation {
            tax_code: "0100000009".parse().unwrap(),
        };
        assert!(check(&company, &facts(HolderFacts::Organisation)).verified());
        assert_eq!(
            check(&company, &facts(HolderFacts::Unknown)).reasons,
            [Reason::UnknownTaxCode]
        );
    }

    #[test]
    fn reasons_have_distinct_names_and_explanations() {
        let mut names: Vec<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        let mut texts: Vec<_> = Reason::ALL.iter().map(|r| r.explanation()).collect();
        names.sort_unstable();
        names.dedup();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!((names.len(), texts.len()), (8, 8));
        let mut ordered = Reason::ALL;
        ordered.sort();
        assert_eq!(ordered, Reason::ALL, "ALL is in listing order");
    }
}
