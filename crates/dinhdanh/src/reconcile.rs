//! `dinhdanh reconcile`: an operator's whole subscriber base, as CSV or JSON Lines, classified
//! against the registry line by line, with reports written to a directory.
//!
//! What a line's answer tells the operator about a registered person (that the registry
//! agrees with what it declared, or which of the registry's facts differ) is a disclosure:
//! the reports are written to a staging folder, each person answered about is recorded once
//! in their disclosure log, with the operator as recipient, and only then do the reports take
//! their place ([`publish_reports`]). Besides those records the run writes
//! nothing to the store, and running it again on the same file gives the same reports (and
//! records the new answers again: the operator was told again).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use dinhdanh_core::province::PROVINCES;
use dinhdanh_store::{
    DisclosureLog, NewDisclosure, OrganisationId, PersonId, Purpose, Recipient, RegistryStore,
};
use dinhdanh_telecom::{
    COLUMNS, Classified, Malformed, Outcome, Parsed, Prepared, Reconciler, RegistryIndex,
};
use indicatif::ProgressBar;
use serde_json::{Map, Value, json};

/// People read from the store per page while building the index.
const PAGE: usize = 10_000;
/// Lines each worker prepares per batch.
const BATCH: usize = 8_192;
/// Threads that parse and check lines, beside the one that reads and settles them.
const WORKERS: usize = 2;
/// About how many bytes a line of an operator's file takes, to size the bookkeeping.
const BYTES_PER_LINE: u64 = 64;
/// The smallest group of people a report gives a count of across operators; a smaller one
/// could single out someone's lines at other operators, so it is shown as `<10`.
pub const SMALLEST_GROUP: u64 = 10;
/// Disclosure records written per transaction.
const RECORDS_PER_BATCH: usize = 10_000;
/// The legal basis of a reconciliation's answers: operators must match their subscribers'
/// identity against the population registry (Circular 08/2026).
const RECONCILE_BASIS: &str = "legal-obligation";
/// The disclosed field: the outcome of the subscriber check about the person.
const RECONCILE_FIELD: &str = "subscriber_check";

/// The registry in memory: the index the lines are checked against, and the id of the person
/// in each of its slots.
#[derive(Debug, Default)]
pub struct Registry {
    /// The index.
    pub index: RegistryIndex,
    /// The person in each slot of the index.
    pub people: Vec<PersonId>,
}

/// Fills an index of the registry: every person (opened, then kept as 16 bytes of facts and
/// no name in clear, with their id beside) and every organisation. `progress` is told how
/// many people are in.
pub async fn load_registry(store: &dyn RegistryStore, progress: impl Fn(u64)) -> Result<Registry> {
    let expected = usize::try_from(store.count_persons().await?).unwrap_or(0);
    let mut index = RegistryIndex::with_capacity(expected);
    let mut people = Vec::new();
    let mut after = None;
    let mut loaded = 0u64;
    loop {
        let page = store.list_persons(after, PAGE).await?;
        for person in &page {
            let personal = &person.personal;
            let slot = index.insert_person(
                &personal.citizen_number,
                &personal.name,
                personal.birth_date,
                person.status,
            );
            if slot as usize == people.len() {
                people.push(person.id);
            }
        }
        loaded += page.len() as u64;
        progress(loaded);
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.id),
            _ => break,
        }
    }
    for organisation in store.list_organisations().await? {
        index.insert_organisation(&organisation.tax_code);
    }
    Ok(Registry { index, people })
}

/// People's live lines at operators other than `operator`, as the store holds them, by slot
/// of `registry` (saturating at 255): what the per-person counts across operators add to the
/// operator's own file.
pub async fn load_lines_elsewhere(
    store: &dyn RegistryStore,
    registry: &Registry,
    operator: OrganisationId,
) -> Result<Vec<u8>> {
    let mut counts = vec![0u8; registry.people.len()];
    // The people are listed by id, so a slot is found by bisection; a registry read in
    // another order is sorted first.
    let mut by_id: Vec<(PersonId, u32)> = Vec::new();
    if !registry.people.is_sorted() {
        by_id = registry
            .people
            .iter()
            .enumerate()
            .map(|(slot, id)| (*id, slot as u32))
            .collect();
        by_id.sort_unstable();
    }
    let slot_of = |person: &PersonId| -> Option<usize> {
        if by_id.is_empty() {
            registry.people.binary_search(person).ok()
        } else {
            by_id
                .binary_search_by(|(id, _)| id.cmp(person))
                .ok()
                .map(|found| by_id[found].1 as usize)
        }
    };
    let lines = store.subscriptions();
    let mut after = None;
    loop {
        let page = lines.count_lines_elsewhere(operator, after, PAGE).await?;
        for (person, count) in &page {
            if let Some(slot) = slot_of(person) {
                counts[slot] = u8::try_from(*count).unwrap_or(u8::MAX);
            }
        }
        match page.last() {
            Some((last, _)) if page.len() == PAGE => after = Some(*last),
            _ => return Ok(counts),
        }
    }
}

/// Records in each person's disclosure log that `operator` was told the outcome of the
/// subscriber check about them: one record a person of `told` (slots of `registry`), in
/// transactions of [`RECORDS_PER_BATCH`]. `progress` is told how many are recorded. Answers
/// how many were.
pub async fn record_answers(
    log: &dyn DisclosureLog,
    operator: OrganisationId,
    registry: &Registry,
    told: &[u32],
    progress: impl Fn(u64),
) -> Result<u64> {
    let purpose = Purpose::new("reconciling the operator's subscriber base with the registry")
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let mut recorded = 0u64;
    for chunk in told.chunks(RECORDS_PER_BATCH) {
        let batch = chunk
            .iter()
            .map(|slot| {
                let subject = registry
                    .people
                    .get(*slot as usize)
                    .copied()
                    .context("a line named a slot outside the registry")?;
                Ok(NewDisclosure {
                    subject,
                    recipient: Recipient::Organisation(operator),
                    fields: vec![RECONCILE_FIELD],
                    purpose: purpose.clone(),
                    legal_basis: RECONCILE_BASIS,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        log.record_disclosures(&batch).await?;
        recorded += batch.len() as u64;
        progress(recorded);
    }
    Ok(recorded)
}

/// The input's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with the header [`COLUMNS`].
    Csv,
    /// One JSON object a line, with the members [`COLUMNS`] (strings; absent or null is
    /// empty).
    JsonLines,
}

impl Format {
    /// The format a file's name says: `.jsonl` or `.ndjson` is JSON Lines, anything else CSV.
    pub fn of(path: &Path) -> Self {
        match path.extension().and_then(|ext| ext.to_str()) {
            Some("jsonl" | "ndjson") => Self::JsonLines,
            _ => Self::Csv,
        }
    }
}

/// What a run counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Data lines read (the header not counted).
    pub rows: u64,
    /// Lines by class: `verified`, `rejected`, `duplicate`, `malformed`.
    pub classes: BTreeMap<&'static str, u64>,
    /// Rejected lines by reason (a line with two reasons counts under both).
    pub reasons: BTreeMap<&'static str, u64>,
    /// By the holder's birth province (code), lines by class.
    pub provinces: BTreeMap<u16, BTreeMap<&'static str, u64>>,
    /// How many people hold 1, 2, 3 … verified lines at this operator.
    pub lines_per_person: BTreeMap<u32, u64>,
    /// How many of the people with a verified line in this file hold 1, 2, 3 … live lines
    /// across all operators: those lines and their live lines at the other operators.
    /// Written with groups under [`SMALLEST_GROUP`] people shown only as such.
    pub lines_across_operators: BTreeMap<u32, u64>,
    /// The slots of the registered people some line's answer was about, each once, in
    /// ascending order: what [`record_answers`] records.
    pub told: Vec<u32>,
}

fn class_of(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Verified => "verified",
        Outcome::Rejected(_) => "rejected",
        Outcome::Duplicate => "duplicate",
        Outcome::Malformed(_) => "malformed",
    }
}

/// The reports' files in `out`, written as the lines are read.
struct Writers {
    junk: std::io::BufWriter<std::fs::File>,
    malformed: std::io::BufWriter<std::fs::File>,
}

fn create(out: &Path, name: &str) -> Result<std::io::BufWriter<std::fs::File>> {
    let path = out.join(name);
    let file =
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(std::io::BufWriter::new(file))
}

/// Reads `input` to its end, classifying each line, and writes to `out`: `junk.csv` (each
/// rejected or duplicate line: line number, number, class, reasons), `malformed.csv` (line
/// number and what is wrong), `summary.json`, `summary.txt` and `sims_per_person.csv`.
/// `size` is the input's length in bytes if known (0 if not), to size the bookkeeping;
/// `progress` is told the bytes and lines read so far.
#[allow(clippy::too_many_arguments)]
pub fn reconcile(
    registry: &RegistryIndex,
    elsewhere: &[u8],
    limit: u32,
    mut input: impl BufRead,
    size: u64,
    format: Format,
    out: &Path,
    progress: impl Fn(u64, u64),
) -> Result<Report> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut writers = Writers {
        junk: create(out, "junk.csv")?,
        malformed: create(out, "malformed.csv")?,
    };
    writeln!(writers.junk, "line,msisdn,class,reasons")?;
    writeln!(writers.malformed, "line,reason")?;
    let mut settler = Settler {
        // Sized from the file's length, but no larger than a file of twice the registry's
        // people would need: a wrong file cannot make it allocate what it will never use.
        reconciler: Reconciler::with_capacity(
            registry,
            limit,
            usize::try_from(size / BYTES_PER_LINE)
                .unwrap_or(usize::MAX)
                .min(registry.people().saturating_mul(2).max(1 << 16)),
        ),
        report: Report::default(),
        writers,
        told: vec![0u64; registry.people().div_ceil(64)],
        here: vec![0u8; registry.people()],
    };
    let mut bytes = 0u64;
    let mut number = 0u64;
    if format == Format::Csv {
        let mut header = Vec::with_capacity(128);
        let read = read_line(&mut input, &mut header).context("cannot read the input")?;
        if read == 0 {
            bail!("the file is empty: it has no header line");
        }
        bytes += read;
        number += 1;
        let header = String::from_utf8_lossy(&header);
        let header = header.trim_end_matches('\n').trim_end_matches('\r');
        if header != COLUMNS.join(",") {
            bail!(
                "line 1 must be the header {}, not {:?}",
                COLUMNS.join(","),
                header.chars().take(80).collect::<String>()
            );
        }
    }
    // A pipeline: this thread reads a batch and hands a chunk of it to each worker, which
    // parses and checks its lines against the registry; while they prepare it, this thread
    // settles the batch before in file order (duplicates, limits, numbers' holders) and
    // writes the reports.
    let prepare = |chunk: &[Vec<u8>]| -> Vec<Prepared> {
        let parsed = chunk
            .iter()
            .map(|line| match format {
                Format::Csv => RegistryIndex::parse(line),
                Format::JsonLines => parse_json(line),
            })
            .collect();
        registry.check_batch(parsed)
    };
    let failed = || anyhow::anyhow!("a reconciliation thread failed");
    std::thread::scope(|scope| -> Result<()> {
        let mut jobs = Vec::with_capacity(WORKERS);
        let mut results = Vec::with_capacity(WORKERS);
        let mut workers = Vec::with_capacity(WORKERS);
        for _ in 0..WORKERS {
            let (job, jobs_in) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(1);
            let (done, result) = std::sync::mpsc::sync_channel(1);
            workers.push(scope.spawn(move || {
                for chunk in jobs_in {
                    let prepared = prepare(&chunk);
                    if done.send((prepared, chunk)).is_err() {
                        break;
                    }
                }
            }));
            jobs.push(job);
            results.push(result);
        }
        let mut spare: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut in_flight: Option<u64> = None;
        let mut run = || -> Result<()> {
            loop {
                let first = number + 1;
                let mut chunks = Vec::with_capacity(WORKERS);
                let mut filled = 0;
                for _ in 0..WORKERS {
                    let mut chunk = spare.pop().unwrap_or_default();
                    let (lines, read) = read_lines(&mut input, &mut chunk)?;
                    bytes += read;
                    number += lines as u64;
                    filled += lines;
                    chunks.push(chunk);
                }
                let previous = match in_flight.take() {
                    Some(first) => {
                        let mut prepared = Vec::with_capacity(WORKERS);
                        for result in &results {
                            prepared.push(result.recv().map_err(|_| failed())?);
                        }
                        Some((first, prepared))
                    }
                    None => None,
                };
                if filled > 0 {
                    for (job, chunk) in jobs.iter().zip(chunks) {
                        job.send(chunk).map_err(|_| failed())?;
                    }
                    in_flight = Some(first);
                }
                if let Some((first, prepared)) = previous {
                    let mut line = first;
                    for (lines, chunk) in prepared {
                        settler.reconciler.warm(&lines);
                        for prepared in lines {
                            settler.settle(line, prepared)?;
                            line += 1;
                        }
                        spare.push(chunk);
                    }
                    progress(bytes, settler.report.rows);
                }
                if filled == 0 {
                    return Ok(());
                }
            }
        };
        let outcome = run();
        // The workers end once their jobs' senders are gone; one that panicked is an error
        // here, not a panic of the whole scope.
        drop(jobs);
        drop(results);
        let mut panicked = false;
        for worker in workers {
            panicked |= worker.join().is_err();
        }
        if panicked {
            return Err(failed());
        }
        outcome
    })?;
    let Settler {
        reconciler,
        mut report,
        mut writers,
        told,
        here,
    } = settler;
    for lines in reconciler.lines_per_person() {
        *report.lines_per_person.entry(lines).or_default() += 1;
    }
    // Only this operator's own subscribers: it learns nothing about anyone else's lines.
    for (slot, count) in here.iter().enumerate().filter(|(_, count)| **count > 0) {
        let total = u32::from(*count) + u32::from(elsewhere.get(slot).copied().unwrap_or(0));
        *report.lines_across_operators.entry(total).or_default() += 1;
    }
    for (word_index, word) in told.iter().enumerate() {
        let mut bits = *word;
        while bits != 0 {
            let bit = bits.trailing_zeros();
            report.told.push(word_index as u32 * 64 + bit);
            bits &= bits - 1;
        }
    }
    writers.junk.flush()?;
    writers.malformed.flush()?;
    write_summaries(&report, out)?;
    Ok(report)
}

/// What settles lines in file order and counts them into the reports.
struct Settler<'a> {
    reconciler: Reconciler<'a>,
    report: Report,
    writers: Writers,
    /// One bit a person of the registry: whether a line's answer was about them.
    told: Vec<u64>,
    /// Each person's verified lines in this file, by slot.
    here: Vec<u8>,
}

impl Settler<'_> {
    fn settle(&mut self, line: u64, prepared: Prepared) -> Result<()> {
        let classified = self.reconciler.settle(prepared);
        if let Some(slot) = classified.person {
            let slot = slot as usize;
            if let Some(word) = self.told.get_mut(slot / 64) {
                *word |= 1 << (slot % 64);
            }
            if classified.outcome == Outcome::Verified
                && let Some(count) = self.here.get_mut(slot)
            {
                *count = count.saturating_add(1);
            }
        }
        count(&mut self.report, &mut self.writers, line, &classified)
    }
}

/// Reads up to [`BATCH`] lines into `chunk` (each without its line break), reusing its
/// buffers: how many lines, and how many bytes they took.
fn read_lines(input: &mut impl BufRead, chunk: &mut Vec<Vec<u8>>) -> Result<(usize, u64)> {
    chunk.resize_with(BATCH, || Vec::with_capacity(128));
    let mut bytes = 0u64;
    let mut filled = 0;
    while filled < BATCH {
        let line = &mut chunk[filled];
        let read = read_line(input, line).context("cannot read the input")?;
        if read == 0 {
            break;
        }
        bytes += read;
        filled += 1;
    }
    chunk.truncate(filled);
    Ok((filled, bytes))
}

/// Reads one line into `line` without its line break, keeping at most one byte more than
/// [`dinhdanh_telecom::MAX_LINE`] (enough to know the line is too long) however long it is,
/// so that a file without line breaks cannot fill the memory. Answers the bytes consumed.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<u64> {
    let keep = dinhdanh_telecom::MAX_LINE + 1;
    line.clear();
    if line.capacity() > 2 * keep {
        line.shrink_to(keep);
    }
    let mut consumed = 0u64;
    loop {
        let available = match input.fill_buf() {
            Ok(available) => available,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            return Ok(consumed);
        }
        let (part, done) = match available.iter().position(|byte| *byte == b'\n') {
            Some(end) => (&available[..end], end + 1),
            None => (available, available.len()),
        };
        let room = keep.saturating_sub(line.len());
        line.extend_from_slice(&part[..part.len().min(room)]);
        let ended = done > part.len();
        input.consume(done);
        consumed += done as u64;
        if ended {
            return Ok(consumed);
        }
    }
}

fn parse_json(line: &[u8]) -> Parsed {
    if line.len() > dinhdanh_telecom::MAX_LINE {
        return Parsed::malformed(Malformed::TooLong(line.len()));
    }
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(line) else {
        return Parsed::malformed(Malformed::NotJson);
    };
    if object.keys().any(|key| !COLUMNS.contains(&key.as_str())) {
        return Parsed::malformed(Malformed::NotJson);
    }
    let mut fields = Vec::with_capacity(COLUMNS.len());
    for column in COLUMNS {
        match object.get(column) {
            None | Some(Value::Null) => fields.push(""),
            Some(Value::String(text)) => fields.push(text.as_str()),
            Some(_) => return Parsed::malformed(Malformed::Field(column)),
        }
    }
    RegistryIndex::parse_fields(&fields)
}

fn count(
    report: &mut Report,
    writers: &mut Writers,
    line: u64,
    classified: &Classified,
) -> Result<()> {
    report.rows += 1;
    let class = class_of(&classified.outcome);
    *report.classes.entry(class).or_default() += 1;
    if let Some(province) = classified.province {
        *report
            .provinces
            .entry(province)
            .or_default()
            .entry(class)
            .or_default() += 1;
    }
    let msisdn = classified
        .msisdn
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    match &classified.outcome {
        Outcome::Verified => {}
        Outcome::Rejected(reasons) => {
            let names: Vec<&str> = reasons.iter().map(|reason| reason.as_str()).collect();
            for name in &names {
                *report.reasons.entry(name).or_default() += 1;
            }
            writeln!(writers.junk, "{line},{msisdn},rejected,{}", names.join(" "))?;
        }
        Outcome::Duplicate => writeln!(writers.junk, "{line},{msisdn},duplicate,")?,
        Outcome::Malformed(why) => writeln!(writers.malformed, "{line},{why}")?,
    }
    Ok(())
}

fn province_name(code: u16) -> String {
    PROVINCES
        .iter()
        .find(|province| province.code == code)
        .map_or_else(|| format!("{code:03}"), ToString::to_string)
}

/// A count of people across operators as reports show it: `<10` for a small group.
fn group(people: u64) -> String {
    if people < SMALLEST_GROUP {
        format!("<{SMALLEST_GROUP}")
    } else {
        people.to_string()
    }
}

/// Moves the reports written to `staging` into `out`, replacing those of an earlier run,
/// and removes `staging`: called once the disclosure log holds what they tell.
pub fn publish_reports(staging: &Path, out: &Path) -> Result<()> {
    for entry in
        std::fs::read_dir(staging).with_context(|| format!("cannot read {}", staging.display()))?
    {
        let entry = entry?;
        let target = out.join(entry.file_name());
        std::fs::rename(entry.path(), &target)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    std::fs::remove_dir(staging).with_context(|| format!("cannot remove {}", staging.display()))
}

fn write_summaries(report: &Report, out: &Path) -> Result<()> {
    let provinces: Map<String, Value> = report
        .provinces
        .iter()
        .map(|(code, classes)| (province_name(*code), json!(classes)))
        .collect();
    let summary = json!({
        "rows": report.rows,
        "classes": report.classes,
        "reasons": report.reasons,
        "provinces": provinces,
        "lines_per_person": report
            .lines_per_person
            .iter()
            .map(|(lines, people)| (lines.to_string(), json!(people)))
            .collect::<Map<String, Value>>(),
        "lines_across_operators": report
            .lines_across_operators
            .iter()
            .map(|(lines, people)| (lines.to_string(), json!(group(*people))))
            .collect::<Map<String, Value>>(),
    });
    let path = out.join("summary.json");
    std::fs::write(&path, format!("{summary:#}\n"))
        .with_context(|| format!("cannot write {}", path.display()))?;

    let mut text = create(out, "summary.txt")?;
    writeln!(text, "{:<32} {:>12}", "lines", report.rows)?;
    for (class, count) in &report.classes {
        writeln!(text, "{:<32} {:>12}", class, count)?;
    }
    writeln!(text)?;
    writeln!(text, "{:<32} {:>12}", "rejected, by reason", "lines")?;
    for (reason, count) in &report.reasons {
        writeln!(text, "{:<32} {:>12}", reason, count)?;
    }
    writeln!(text)?;
    writeln!(
        text,
        "{:<32} {:>10} {:>10} {:>10} {:>10}",
        "province", "verified", "rejected", "duplicate", "malformed"
    )?;
    for (code, classes) in &report.provinces {
        let get = |class| classes.get(class).copied().unwrap_or(0);
        writeln!(
            text,
            "{:<32} {:>10} {:>10} {:>10} {:>10}",
            province_name(*code),
            get("verified"),
            get("rejected"),
            get("duplicate"),
            get("malformed")
        )?;
    }
    text.flush()?;

    // People by how many lines they hold: here (verified in this file) and across all
    // operators (with the other operators' live lines the registry holds).
    let mut per_person = create(out, "sims_per_person.csv")?;
    writeln!(
        per_person,
        "lines,people_at_this_operator,people_across_operators"
    )?;
    let most = report
        .lines_per_person
        .keys()
        .chain(report.lines_across_operators.keys())
        .max()
        .copied()
        .unwrap_or(0);
    for lines in 1..=most {
        let here = report.lines_per_person.get(&lines).copied().unwrap_or(0);
        let across = report
            .lines_across_operators
            .get(&lines)
            .copied()
            .unwrap_or(0);
        if here > 0 || across > 0 {
            writeln!(per_person, "{lines},{here},{}", group(across))?;
        }
    }
    per_person.flush()?;
    Ok(())
}

/// A progress bar over the input's bytes, with the lines read and their rate.
pub fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

/// Tells `bar` the bytes and lines read since `started`.
pub fn show(bar: &ProgressBar, started: Instant, bytes: u64, rows: u64) {
    bar.set_position(bytes);
    let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-3);
    bar.set_message(format!("{rows} lines, {rate:.0} lines/s"));
}
