#![doc = include_str!("../README.md")]

mod organisations;
mod population;
mod serial;
mod subscribers;
mod tables;

pub use organisations::{ENTERPRISES, SyntheticOrganisation, organisations};
pub use population::{AGE_OF_MAJORITY, Population, PopulationSpec, SyntheticPerson, population};
pub use subscribers::{
    Expected, JunkShares, SUBSCRIBER_HEADER, SubscriberFile, SubscriberFileSpec, SubscriberRow,
    subscriber_file,
};
