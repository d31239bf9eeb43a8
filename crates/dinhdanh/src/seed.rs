//! Loads a synthetic population and the organisations into a store, in batches: one thread
//! generates and seals the next batch while the database writes the previous one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dinhdanh_core::EidLevel;
use dinhdanh_store::{
    GuardianRelationship, Guardianship, NewOrganisation, NewPerson, OrganisationId, PersonalData,
    PreparedPersons, RegistryStore, StoreError,
};
use dinhdanh_synth::{PopulationSpec, SyntheticPerson, organisations, population};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;

/// People per transaction.
pub const BATCH: usize = 50_000;

/// What a seeding run did.
#[derive(Debug, Clone, Copy)]
pub struct SeedReport {
    /// People written.
    pub people: usize,
    /// Guardianship links written.
    pub guardianships: usize,
    /// Organisations written (existing ones are skipped).
    pub organisations: usize,
    /// Wall time of the people phase.
    pub elapsed: Duration,
}

impl SeedReport {
    /// People written per second.
    pub fn people_per_second(&self) -> f64 {
        self.people as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Registers the synthetic organisations of `seed`, parents first; tax codes already present
/// are left as they are.
pub async fn seed_organisations(store: &Arc<dyn RegistryStore>, seed: u64) -> Result<usize> {
    let wanted = organisations(seed);
    let mut ids: HashMap<usize, OrganisationId> = HashMap::new();
    let mut written = 0;
    // Parents first: repeat passes until every organisation whose parent is known is placed.
    while ids.len() < wanted.len() {
        let before = ids.len();
        for (index, organisation) in wanted.iter().enumerate() {
            if ids.contains_key(&index) {
                continue;
            }
            let parent_id = match organisation.parent {
                None => None,
                Some(parent) => match ids.get(&parent) {
                    Some(id) => Some(*id),
                    None => continue,
                },
            };
            let id = match store
                .find_organisation_by_tax_code(&organisation.tax_code)
                .await?
            {
                Some(existing) => existing.id,
                None => {
                    written += 1;
                    store
                        .insert_organisation(&NewOrganisation {
                            tax_code: organisation.tax_code,
                            name: organisation.name.clone(),
                            kind: organisation.kind,
                            parent_id,
                        })
                        .await?
                        .id
                }
            };
            ids.insert(index, id);
        }
        if ids.len() == before {
            bail!("the synthetic organisations have a parent cycle");
        }
    }
    Ok(written)
}

fn new_person(person: SyntheticPerson, today: jiff::civil::Date) -> Result<NewPerson> {
    let personal = PersonalData::new(
        person.citizen_number,
        person.name,
        person.birth_date,
        person.sex,
        today,
    )
    .context("the generator produced an inconsistent person")?;
    Ok(NewPerson {
        personal,
        status: person.status,
        // Synthetic adults are enrolled at level 1; minors have no e-ID of their own.
        eid_level: if person.guardian.is_some() {
            EidLevel::Level0
        } else {
            EidLevel::Level1
        },
    })
}

struct Batch {
    people: PreparedPersons,
    links: Vec<Guardianship>,
}

/// Writes the population `spec` describes. `progress` shows a progress bar on the terminal.
pub async fn seed_people(
    store: &Arc<dyn RegistryStore>,
    spec: &PopulationSpec,
    progress: bool,
) -> Result<SeedReport> {
    let bar = if progress {
        let bar = ProgressBar::new(spec.people as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} seeding {bar:40} {human_pos}/{human_len} people, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Batch>>(2);
    let producer_store = Arc::clone(store);
    let producer_spec = *spec;
    let producer = tokio::task::spawn_blocking(move || {
        let today = producer_spec.as_of;
        let now = Timestamp::now();
        let mut ids = Vec::with_capacity(producer_spec.people);
        let mut people = population(&producer_spec).peekable();
        while people.peek().is_some() {
            let mut guardians = Vec::new();
            let mut batch = Vec::with_capacity(BATCH);
            for person in people.by_ref().take(BATCH) {
                guardians.push(person.guardian);
                match new_person(person, today) {
                    Ok(person) => batch.push(person),
                    Err(err) => {
                        let _ = sender.blocking_send(Err(err));
                        return;
                    }
                }
            }
            let prepared = match producer_store.prepare_persons(&batch) {
                Ok(prepared) => prepared,
                Err(err) => {
                    let _ = sender.blocking_send(Err(err.into()));
                    return;
                }
            };
            let first = ids.len();
            ids.extend(prepared.ids());
            let links = guardians
                .iter()
                .enumerate()
                .filter_map(|(offset, guardian)| {
                    let guardian = (*guardian)?;
                    Some(Guardianship {
                        child_id: *ids.get(first + offset)?,
                        guardian_id: *ids.get(guardian)?,
                        relationship: GuardianRelationship::Parent,
                        created_at: now,
                    })
                })
                .collect();
            if sender
                .blocking_send(Ok(Batch {
                    people: prepared,
                    links,
                }))
                .is_err()
            {
                return;
            }
        }
    });

    let mut people = 0;
    let mut guardianships = 0;
    while let Some(batch) = receiver.recv().await {
        let batch = batch?;
        let count = batch.people.len();
        store
            .insert_prepared_persons(batch.people)
            .await
            .map_err(|err| match err {
                StoreError::Conflict(_) => anyhow::anyhow!(
                    "these synthetic people are already in the database (same --seed?); \
                     choose another seed or a fresh database"
                ),
                other => other.into(),
            })?;
        store.insert_guardianships(&batch.links).await?;
        people += count;
        guardianships += batch.links.len();
        bar.inc(count as u64);
    }
    producer.await.context("the generator thread failed")?;
    bar.finish_and_clear();
    Ok(SeedReport {
        people,
        guardianships,
        organisations: 0,
        elapsed: started.elapsed(),
    })
}

/// Seeds organisations then people.
pub async fn seed_all(
    store: &Arc<dyn RegistryStore>,
    spec: &PopulationSpec,
    progress: bool,
) -> Result<SeedReport> {
    let organisations = seed_organisations(store, spec.seed).await?;
    let mut report = seed_people(store, spec, progress).await?;
    report.organisations = organisations;
    Ok(report)
}
