#![doc = include_str!("../README.md")]

#[macro_use]
mod macros;

mod account;
mod age;
mod ascii;
mod birth_date;
mod citizen_number;
mod display_name;
mod error;
mod msisdn;
mod organisation;
mod person;
mod person_name;
pub mod province;
mod tax_code;

pub use account::{
    BindingStatus, DEFAULT_ACCOUNTS_PER_PLATFORM, GUARDIAN_CONSENT_BELOW, GuardianConsent,
};
pub use age::{AgeBracket, today_in_vietnam};
pub use birth_date::BirthDate;
pub use citizen_number::CitizenNumber;
pub use display_name::{DISPLAY_NAME_MAX_CHARS, display_name};
pub use error::IdentifierError;
pub use msisdn::{MobileNetwork, Msisdn};
pub use organisation::OrganisationKind;
pub use person::{EidLevel, PersonStatus, Sex};
pub use person_name::PersonName;
pub use province::Province;
pub use tax_code::TaxCode;
