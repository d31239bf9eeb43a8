//! Bulk reconciliation of an operator's base: each line of the file classified against an
//! in-memory index of the registry, in file order, with the same rules as the single check.
//!
//! The caller builds the [`RegistryIndex`] (16 bytes of facts a person, no name in clear: a
//! hash of the folded name) and feeds the lines; the [`Reconciler`] keeps what later lines
//! depend on: the lines seen (for duplicates), who holds each number, and each person's
//! verified lines at this operator. A line holds its number, and counts towards its holder's
//! limit, only once verified.

use std::str::FromStr;

use dinhdanh_core::{BirthDate, CitizenNumber, Msisdn, PersonName, PersonStatus, TaxCode};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::check::{
    DeclaredKeys, HolderFacts, NameKey, PersonRecord, Reason, SubscriptionFacts, check_keys,
};

/// The columns of an operator file, in order.
pub const COLUMNS: [&str; 6] = [
    "msisdn",
    "citizen_number",
    "name",
    "birth_date",
    "tax_code",
    "activated_on",
];

/// The longest line accepted; longer ones are malformed without being read further.
pub const MAX_LINE: usize = 4_096;

/// What the registry holds about people and organisations, for reconciliation.
#[derive(Debug, Default, Clone)]
pub struct RegistryIndex {
    /// Citizen number → the person's facts and their slot (the order they were inserted in).
    people: FxHashMap<u64, (PersonRecord, u32)>,
    organisations: FxHashSet<u64>,
}

impl RegistryIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty index with room for `people` people.
    pub fn with_capacity(people: usize) -> Self {
        Self {
            people: FxHashMap::with_capacity_and_hasher(people, rustc_hash::FxBuildHasher),
            organisations: FxHashSet::default(),
        }
    }

    /// Records a person, and answers their slot: 0 for the first person inserted, 1 for the
    /// next, and so on (a number inserted again keeps its slot). A line's
    /// [`Classified::person`] names its holder by slot, so that the caller, which keeps
    /// the people's ids, can record what each was told about.
    pub fn insert_person(
        &mut self,
        number: &CitizenNumber,
        name: &PersonName,
        birth_date: BirthDate,
        status: PersonStatus,
    ) -> u32 {
        let next = u32::try_from(self.people.len()).unwrap_or(u32::MAX);
        let record = PersonRecord {
            name: NameKey::of(name),
            birth_date,
            status,
        };
        match self.people.entry(number_key(number.as_str())) {
            std::collections::hash_map::Entry::Occupied(mut entry) => {
                entry.get_mut().0 = record;
                entry.get().1
            }
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert((record, next));
                next
            }
        }
    }

    /// Records an organisation.
    pub fn insert_organisation(&mut self, tax_code: &TaxCode) {
        self.organisations.insert(number_key(tax_code.as_str()));
    }

    /// How many people it holds.
    pub fn people(&self) -> usize {
        self.people.len()
    }

    /// What the registry holds about a declared holder, and a person's slot.
    fn holder(&self, holder: Holder) -> (HolderFacts, Option<u32>) {
        match holder {
            Holder::Person(key) => self
                .people
                .get(&key)
                .map_or((HolderFacts::Unknown, None), |(record, slot)| {
                    (HolderFacts::Person(record.clone()), Some(*slot))
                }),
            Holder::Organisation(key) => {
                if self.organisations.contains(&key) {
                    (HolderFacts::Organisation, None)
                } else {
                    (HolderFacts::Unknown, None)
                }
            }
        }
    }
}

/// A citizen number or tax code as a map key: its characters (digits, and the dash of a
/// branch's tax code) packed four bits each behind a leading 1, so that different texts of up
/// to 15 characters never share a key.
fn number_key(text: &str) -> u64 {
    text.bytes().fold(1u64, |key, byte| {
        (key << 4) | u64::from(byte.wrapping_sub(b'-') & 0x0f)
    })
}

/// Why a line is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// Not valid UTF-8.
    NotUtf8,
    /// Longer than [`MAX_LINE`] bytes.
    TooLong(usize),
    /// Not the six columns of [`COLUMNS`].
    Columns(usize),
    /// A quote inside a field: a field may be wrapped in double quotes (RFC 4180), but none
    /// of the file's values holds a comma, a quote or a line break, so nothing else is.
    Quoted,
    /// A field that does not parse, by its column name.
    Field(&'static str),
    /// Both a person's fields and a tax code, or neither.
    Holder,
    /// A line of JSON Lines that is not an object of [`COLUMNS`] members.
    NotJson,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotUtf8 => f.write_str("not valid UTF-8"),
            Self::TooLong(_) => write!(f, "more than {MAX_LINE} bytes"),
            Self::Columns(found) => write!(f, "{found} columns, expected {}", COLUMNS.len()),
            Self::Quoted => {
                f.write_str("a quote inside a field (a quoted field may hold no comma or quote)")
            }
            Self::Field(column) => write!(f, "{column} is not valid"),
            Self::Holder => {
                f.write_str("give either citizen_number, name and birth_date, or tax_code")
            }
            Self::NotJson => f.write_str("not a JSON object of the file's columns"),
        }
    }
}

/// What reconciliation made of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The holder matches the registry.
    Verified,
    /// Refused, for every reason listed.
    Rejected(Vec<Reason>),
    /// The same number and holder as an earlier line.
    Duplicate,
    /// Not a well-formed line.
    Malformed(Malformed),
}

/// A line classified, with what reports need of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The outcome.
    pub outcome: Outcome,
    /// The number, if the line had a valid one.
    pub msisdn: Option<Msisdn>,
    /// The birth province's code of a person holder's citizen number.
    pub province: Option<u16>,
    /// The slot ([`RegistryIndex::insert_person`]) of the registered person whose facts the
    /// outcome tells the operator about: set for a verified or rejected line whose citizen
    /// number the registry holds, whatever else the line got wrong.
    pub person: Option<u32>,
}

/// Who a line declares, by the key the registry index finds them under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// A person, by [`number_key`] of the citizen number.
    Person(u64),
    /// An organisation, by [`number_key`] of the tax code.
    Organisation(u64),
}

impl Holder {
    /// One key for both kinds: tax codes are 10 or 14 characters, citizen numbers 12
    /// digits, and the kinds are kept apart by a high bit besides.
    fn key(self) -> u64 {
        match self {
            Self::Person(key) => key,
            Self::Organisation(key) => key | 1 << 63,
        }
    }
}

/// A parsed line: what the check compares, and no name in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    msisdn: Msisdn,
    holder: Holder,
    declared: DeclaredKeys,
    province: Option<u16>,
}

/// A number as a map key: its digits (`+84` and nine more) as one integer.
fn msisdn_key(msisdn: &Msisdn) -> u64 {
    msisdn
        .as_str()
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0u64, |key, digit| key * 10 + u64::from(digit - b'0'))
}

/// Splits a CSV line into its six fields, or says how many it has.
fn split(bytes: &[u8]) -> Result<[&str; 6], Malformed> {
    if bytes.len() > MAX_LINE {
        return Err(Malformed::TooLong(bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Malformed::NotUtf8)?;
    let text = text.strip_suffix('\r').unwrap_or(text);
    let quoted = text.contains('"');
    let mut fields = [""; 6];
    let mut count = 0;
    for field in text.split(',') {
        if let Some(slot) = fields.get_mut(count) {
            *slot = field;
        }
        count += 1;
    }
    if count != fields.len() {
        return Err(Malformed::Columns(count));
    }
    if quoted {
        for field in &mut fields {
            *field = unquoted(field)?;
        }
    }
    Ok(fields)
}

/// A field without the double quotes that wrap it, if it is quoted (RFC 4180 §2.5); a quote
/// anywhere else (an escaped quote, or a quoted field cut by a comma) is malformed.
fn unquoted(field: &str) -> Result<&str, Malformed> {
    let inner = field
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(field);
    if inner.contains('"') {
        return Err(Malformed::Quoted);
    }
    Ok(inner)
}

fn parse(fields: &[&str]) -> Result<Line, Malformed> {
    let [msisdn, number, name, birth_date, tax_code, activated_on] = fields[..] else {
        return Err(Malformed::Columns(fields.len()));
    };
    let msisdn = Msisdn::from_str(msisdn).map_err(|_| Malformed::Field("msisdn"))?;
    jiff::civil::Date::from_str(activated_on).map_err(|_| Malformed::Field("activated_on"))?;
    let person = [number, name, birth_date].iter().any(|f| !f.is_empty());
    match (person, tax_code.is_empty()) {
        (true, true) => {
            let number: CitizenNumber = number
                .parse()
                .map_err(|_| Malformed::Field("citizen_number"))?;
            // The name is checked and folded straight into its key: no name is built.
            let name = NameKey::of_text(name).map_err(|_| Malformed::Field("name"))?;
            let birth_date = jiff::civil::Date::from_str(birth_date)
                .map(BirthDate::new)
                .map_err(|_| Malformed::Field("birth_date"))?;
            Ok(Line {
                msisdn,
                holder: Holder::Person(number_key(number.as_str())),
                declared: DeclaredKeys::Person { name, birth_date },
                province: Some(number.province().code),
            })
        }
        (false, false) => {
            let tax_code: TaxCode = tax_code.parse().map_err(|_| Malformed::Field("tax_code"))?;
            Ok(Line {
                msisdn,
                holder: Holder::Organisation(number_key(tax_code.as_str())),
                declared: DeclaredKeys::Organisation,
                province: None,
            })
        }
        _ => Err(Malformed::Holder),
    }
}

/// A line parsed and checked against the registry: all that does not depend on earlier
/// lines. Made on any thread ([`RegistryIndex::prepare`]), settled in file order
/// ([`Reconciler::settle`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared(Result<PreparedLine, Malformed>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct PreparedLine {
    msisdn: Msisdn,
    /// [`msisdn_key`] of the number.
    number: u64,
    /// [`Holder::key`].
    holder: u64,
    /// The slot of the person the registry holds under the line's citizen number: the
    /// operator's limit applies.
    person: Option<u32>,
    province: Option<u16>,
    /// What the registry alone says against the line.
    reasons: Vec<Reason>,
}

impl Prepared {
    /// A line found malformed before it reached the registry (JSON that does not parse, say).
    pub fn malformed(why: Malformed) -> Self {
        Self(Err(why))
    }
}

impl RegistryIndex {
    /// Parses a CSV line (without its line break) and checks it against the registry.
    pub fn prepare(&self, bytes: &[u8]) -> Prepared {
        self.check_one(Self::parse(bytes))
    }

    /// Parses a record given as its fields, in [`COLUMNS`] order (a line of JSON Lines,
    /// say; an absent field is empty), and checks it against the registry.
    pub fn prepare_fields(&self, fields: &[&str]) -> Prepared {
        self.check_one(Self::parse_fields(fields))
    }

    /// Parses a CSV line (without its line break), without the registry.
    pub fn parse(bytes: &[u8]) -> Parsed {
        match split(bytes) {
            Ok(fields) => Self::parse_fields(&fields),
            Err(malformed) => Parsed(Err(malformed)),
        }
    }

    /// Parses a record given as its fields ([`Self::prepare_fields`]), without the registry.
    pub fn parse_fields(fields: &[&str]) -> Parsed {
        if let Some(field) = fields.iter().find(|field| field.len() > MAX_LINE) {
            return Parsed(Err(Malformed::TooLong(field.len())));
        }
        Parsed(parse(fields))
    }

    /// Checks a batch of parsed lines against the registry, in order. The lookups come
    /// first, all of them in a tight loop, so that the processor has several of their
    /// memory reads in flight at once (a large registry is far bigger than any cache);
    /// the answers are assembled after.
    pub fn check_batch(&self, batch: Vec<Parsed>) -> Vec<Prepared> {
        let found: Vec<(HolderFacts, Option<u32>)> = batch
            .iter()
            .map(|parsed| match &parsed.0 {
                Ok(line) => self.holder(line.holder),
                Err(_) => (HolderFacts::Unknown, None),
            })
            .collect();
        batch
            .into_iter()
            .zip(found)
            .map(|(parsed, found)| assemble(parsed, found))
            .collect()
    }

    fn check_one(&self, parsed: Parsed) -> Prepared {
        let found = match &parsed.0 {
            Ok(line) => self.holder(line.holder),
            Err(_) => (HolderFacts::Unknown, None),
        };
        assemble(parsed, found)
    }
}

/// A line parsed, not yet checked against the registry ([`RegistryIndex::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed(Result<Line, Malformed>);

impl Parsed {
    /// A line found malformed before it could be parsed (JSON that does not parse, say).
    pub fn malformed(why: Malformed) -> Self {
        Self(Err(why))
    }
}

/// A parsed line and what the registry holds about its holder, as a prepared line: the
/// registry's reasons only, since the limit and the number's holder depend on the lines
/// before, which `settle` knows.
fn assemble(parsed: Parsed, (holder, person): (HolderFacts, Option<u32>)) -> Prepared {
    let line = match parsed.0 {
        Ok(line) => line,
        Err(malformed) => return Prepared(Err(malformed)),
    };
    let facts = SubscriptionFacts {
        holder,
        held_at_operator: 0,
        operator_limit: u32::MAX,
        msisdn_held_by_another: false,
    };
    let reasons = check_keys(&line.declared, &facts).reasons;
    Prepared(Ok(PreparedLine {
        number: msisdn_key(&line.msisdn),
        msisdn: line.msisdn,
        holder: line.holder.key(),
        person,
        province: line.province,
        reasons,
    }))
}

/// Classifies an operator file's lines in order; see the module docs.
#[derive(Debug)]
pub struct Reconciler<'a> {
    registry: &'a RegistryIndex,
    limit: u32,
    /// Number ([`msisdn_key`]) → what the lines so far say about it: one probe a line.
    numbers: FxHashMap<u64, NumberSeen>,
    /// (number, holder) of the lines whose number an earlier line of another holder had:
    /// rare, so kept apart.
    others: FxHashSet<(u64, u64)>,
    /// Person → verified lines at this operator.
    verified: FxHashMap<u64, u32>,
}

/// What the lines so far say about a number: the holder of its first line, and of its
/// verified line (0 for none: a holder's key is never 0).
#[derive(Debug, Clone, Copy)]
struct NumberSeen {
    first: u64,
    verified: u64,
}

impl<'a> Reconciler<'a> {
    /// A reconciler against `registry`, with the operator's limit of lines per person.
    pub fn new(registry: &'a RegistryIndex, limit: u32) -> Self {
        Self::with_capacity(registry, limit, 0)
    }

    /// The same, with room for about `lines` lines, so that its maps do not grow (and move
    /// every entry) as a large file is read.
    pub fn with_capacity(registry: &'a RegistryIndex, limit: u32, lines: usize) -> Self {
        let hasher = rustc_hash::FxBuildHasher;
        Self {
            registry,
            limit,
            numbers: FxHashMap::with_capacity_and_hasher(lines, hasher),
            others: FxHashSet::default(),
            verified: FxHashMap::with_capacity_and_hasher(lines.min(registry.people()), hasher),
        }
    }

    /// Classifies the next line of a CSV file (without its line break). Never fails:
    /// whatever the bytes, the answer says what they are.
    pub fn classify(&mut self, bytes: &[u8]) -> Classified {
        let prepared = self.registry.prepare(bytes);
        self.settle(prepared)
    }

    /// Classifies the next record given as its fields; see [`RegistryIndex::prepare_fields`].
    pub fn classify_fields(&mut self, fields: &[&str]) -> Classified {
        let prepared = self.registry.prepare_fields(fields);
        self.settle(prepared)
    }

    /// Classifies the next line, prepared on any thread: whether it repeats an earlier line,
    /// exceeds its holder's limit or takes a number another holder's verified line holds
    /// (the reasons listed after the registry's, in [`Reason::ALL`] order).
    pub fn settle(&mut self, prepared: Prepared) -> Classified {
        let line = match prepared.0 {
            Ok(line) => line,
            Err(malformed) => {
                return Classified {
                    outcome: Outcome::Malformed(malformed),
                    msisdn: None,
                    province: None,
                    person: None,
                };
            }
        };
        let limited = line.person.is_some();
        let mut person = None;
        // One probe of the number's entry says whether this (number, holder) is new and who
        // holds the number's verified line.
        let (seen, new) = match self.numbers.entry(line.number) {
            std::collections::hash_map::Entry::Vacant(vacant) => (
                vacant.insert(NumberSeen {
                    first: line.holder,
                    verified: 0,
                }),
                true,
            ),
            std::collections::hash_map::Entry::Occupied(occupied) => {
                let seen = occupied.into_mut();
                let new =
                    seen.first != line.holder && self.others.insert((line.number, line.holder));
                (seen, new)
            }
        };
        let outcome = if new {
            person = line.person;
            let mut reasons = line.reasons;
            // One probe of the person's count (a person with none yet is kept at 0).
            let held = limited.then(|| self.verified.entry(line.holder).or_default());
            if held.as_ref().is_some_and(|held| **held >= self.limit) {
                reasons.push(Reason::OverOperatorLimit);
            }
            if seen.verified != 0 && seen.verified != line.holder {
                reasons.push(Reason::MsisdnHeldByAnother);
            }
            if reasons.is_empty() {
                seen.verified = line.holder;
                if let Some(held) = held {
                    *held += 1;
                }
                Outcome::Verified
            } else {
                Outcome::Rejected(reasons)
            }
        } else {
            Outcome::Duplicate
        };
        Classified {
            outcome,
            msisdn: Some(line.msisdn),
            province: line.province,
            person,
        }
    }

    /// Reads the entries that settling `batch` will touch, in a tight loop, so that their
    /// memory reads overlap: settling then finds them in the cache. Changes nothing, and
    /// settling without it gives the same answers.
    pub fn warm(&self, batch: &[Prepared]) {
        for prepared in batch {
            if let Ok(line) = &prepared.0 {
                std::hint::black_box(self.numbers.get(&line.number));
                if line.person.is_some() {
                    std::hint::black_box(self.verified.get(&line.holder));
                }
            }
        }
    }

    /// Each person's verified lines at this operator.
    pub fn lines_per_person(&self) -> impl Iterator<Item = u32> + '_ {
        self.verified.values().copied().filter(|lines| *lines > 0)
    }
}
