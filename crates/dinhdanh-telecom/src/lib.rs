//! The telecom rules of dinhdanh (Circular 08/2026 and DESIGN §4): whether a subscription's
//! declared holder matches the population registry, and where a line stands after its SIM
//! moved to another device. Requests in, decisions out: no I/O, no clock (the caller says
//! when "now" is), so that the operator API, the bulk reconciliation and the scheduler share
//! one set of rules.

mod check;
mod line;
mod reconcile;

pub use check::{
    DeclaredHolder, DeclaredKeys, HolderFacts, NameKey, PersonRecord, Reason, SubscriptionFacts,
    Verdict, check, check_keys,
};
pub use line::{
    BLOCK_AFTER_DAYS, LineStatus, TERMINATE_AFTER_DAYS, Transition, line_status, next_transition_at,
};
pub use reconcile::{
    COLUMNS, Classified, MAX_LINE, Malformed, Outcome, Parsed, Prepared, Reconciler, RegistryIndex,
};
