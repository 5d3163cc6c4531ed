//! A whole drift run: which columns, which rows (seasons, sliding windows, segments), the
//! per-column comparisons on worker threads, multiple-testing control, the seasonal check, and
//! the report.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use warden_data::{Column, ColumnKind, ColumnValues, Dataset, NULL_CODE, NULL_TIMESTAMP};

use crate::DriftError;
use crate::analyze::{self, CategoricalSide, NumericSide, ThresholdInputs};
use crate::options::{DriftOptions, MIN_CALIBRATION_CHUNKS, Season};
use crate::profile::DriftProfile;
use crate::report::{
    ColumnReport, DriftReport, Inference, SeasonalCheck, SegmentReport, SideSummary, Status,
    Summary, decide,
};

/// Column names taken as the event time when `--timestamp` is not given.
const TIMESTAMP_NAMES: [&str; 8] = [
    "timestamp",
    "ts",
    "event_time",
    "event_timestamp",
    "prediction_time",
    "time",
    "datetime",
    "created_at",
];
/// Segments reported at most (the largest by current rows).
const MAX_SEGMENTS: usize = 500;

/// Which rows of a data set take part.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    /// Every row, in file order.
    All,
    /// These rows, in this order.
    Some(Vec<u32>),
}

impl Rows {
    fn count(&self, dataset: &Dataset) -> usize {
        match self {
            Self::All => dataset.rows(),
            Self::Some(rows) => rows.len(),
        }
    }

    /// These rows of a column read whole (moved, not copied, for all rows).
    pub fn apply(&self, column: Column) -> Column {
        match self {
            Self::All => column,
            Self::Some(rows) => column.select(rows),
        }
    }

    /// These rows of a column that is still needed whole afterwards (borrowed for all rows).
    fn view<'a>(&self, column: &'a Column) -> std::borrow::Cow<'a, Column> {
        match self {
            Self::All => std::borrow::Cow::Borrowed(column),
            Self::Some(rows) => std::borrow::Cow::Owned(column.select(rows)),
        }
    }

    fn indices(&self, dataset: &Dataset) -> Vec<u32> {
        match self {
            Self::All => (0..dataset.rows() as u32).collect(),
            Self::Some(rows) => rows.clone(),
        }
    }
}

/// One side of a comparison: a data set and the rows of it to use.
#[derive(Debug, Clone)]
pub struct Side {
    /// The data.
    pub dataset: Arc<Dataset>,
    /// The rows.
    pub rows: Rows,
    /// How the report names it.
    pub label: String,
}

impl Side {
    /// All rows of a data set.
    pub fn all(dataset: Dataset) -> Self {
        let label = dataset.location().to_string();
        Self {
            dataset: Arc::new(dataset),
            rows: Rows::All,
            label,
        }
    }

    fn read(&self, name: &str, kind: ColumnKind, rows: &Rows) -> Result<Column, DriftError> {
        Ok(rows.apply(self.dataset.read_column(name, kind)?))
    }
}

/// The reference: raw data, or a stored profile of it.
#[derive(Debug)]
pub enum Reference {
    /// Raw reference data.
    Data(Side),
    /// A profile written by `warden drift profile`.
    Profile(Box<DriftProfile>),
}

/// Splits logs into a sliding reference and a current window: the current window is the last
/// `options.window_ms` before the latest timestamp, the reference the `reference_window_ms`
/// before that.
pub fn sliding_sides(dataset: Dataset, options: &DriftOptions) -> Result<(Side, Side), DriftError> {
    let reference_window = options.reference_window_ms.ok_or_else(|| {
        DriftError::Invalid("a sliding reference needs --reference-window".into())
    })?;
    let timestamp = timestamp_column(&dataset, &options.roles.timestamp)?.ok_or_else(|| {
        DriftError::Invalid(format!(
            "{}: a sliding reference needs a timestamp column (--timestamp)",
            dataset.location()
        ))
    })?;
    let times = read_times(&dataset, &timestamp)?;
    let latest = times
        .iter()
        .copied()
        .filter(|t| *t != NULL_TIMESTAMP)
        .max()
        .ok_or_else(|| {
            DriftError::Invalid(format!(
                "{}: column `{timestamp}` has no timestamps",
                dataset.location()
            ))
        })?;
    let current_start = latest - options.window_ms;
    let reference_start = current_start - reference_window;
    let mut reference_rows = Vec::new();
    let mut current_rows = Vec::new();
    for (row, time) in times.iter().enumerate() {
        if *time == NULL_TIMESTAMP {
            continue;
        }
        if *time > current_start {
            current_rows.push(row as u32);
        } else if *time > reference_start {
            reference_rows.push(row as u32);
        }
    }
    let dataset = Arc::new(dataset);
    let location = dataset.location().to_string();
    Ok((
        Side {
            dataset: dataset.clone(),
            rows: Rows::Some(reference_rows),
            label: format!(
                "{location} [{} .. {}]",
                rfc3339(reference_start),
                rfc3339(current_start)
            ),
        },
        Side {
            dataset,
            rows: Rows::Some(current_rows),
            label: format!(
                "{location} [{} .. {}]",
                rfc3339(current_start),
                rfc3339(latest)
            ),
        },
    ))
}

/// The timestamp column: the one named, else the first timestamp-typed column, else a column
/// with a conventional name.
pub fn timestamp_column(
    dataset: &Dataset,
    named: &Option<String>,
) -> Result<Option<String>, DriftError> {
    if let Some(name) = named {
        dataset.field(name)?;
        return Ok(Some(name.clone()));
    }
    if let Some(field) = dataset
        .fields()
        .iter()
        .find(|f| f.kind == Some(ColumnKind::Timestamp))
    {
        return Ok(Some(field.name.clone()));
    }
    Ok(dataset
        .fields()
        .iter()
        .find(|f| TIMESTAMP_NAMES.contains(&f.name.as_str()))
        .map(|f| f.name.clone()))
}

fn read_times(dataset: &Dataset, name: &str) -> Result<Vec<i64>, DriftError> {
    match dataset.read_column(name, ColumnKind::Timestamp)?.values {
        ColumnValues::Timestamp(values) => Ok(values),
        _ => Err(DriftError::Invalid(format!(
            "column `{name}` is not a timestamp"
        ))),
    }
}

/// An epoch-millisecond time as RFC 3339 (UTC, seconds).
pub(crate) fn rfc3339(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms).map_or_else(
        || epoch_ms.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// A column to test.
#[derive(Debug, Clone)]
struct Planned {
    name: String,
    kind: ColumnKind,
    role: &'static str,
}

/// Rows of one side grouped for the run.
struct SideRows {
    /// Rows in calibration (time) order.
    ordered: Rows,
    /// Timestamps aligned with the data set's rows, when there is a timestamp column.
    times: Option<Vec<i64>>,
}

/// A segment: its rows on both sides.
struct Segment {
    column: String,
    value: String,
    reference: Rows,
    current: Rows,
}

/// Runs one comparison and returns the report.
pub fn run(
    reference: &Reference,
    current: &Side,
    options: &DriftOptions,
) -> Result<DriftReport, DriftError> {
    let current_rows = current.rows.count(&current.dataset);
    if current_rows == 0 {
        return Err(DriftError::Invalid(format!(
            "{}: the current window is empty",
            current.label
        )));
    }
    let mut notes = Vec::new();
    let timestamp = timestamp_column(&current.dataset, &options.roles.timestamp)?;
    let (plan, mut reports, inference) =
        plan_columns(reference, current, options, timestamp.as_deref())?;

    // Rows: time order for calibration; seasons; segments.
    let current_times_full = match &timestamp {
        Some(name) => Some(read_times(&current.dataset, name)?),
        None => None,
    };
    let current_times = current_times_full
        .as_deref()
        .map(|times| select_times(times, &current.rows));
    let mut reference_rows = match reference {
        Reference::Data(side) => Some(order_rows(side, timestamp.as_deref())?),
        Reference::Profile(_) => None,
    };
    if reference_rows
        .as_ref()
        .is_some_and(|r| matches!(&r.ordered, Rows::Some(rows) if rows.is_empty()))
    {
        return Err(DriftError::Invalid("the reference window is empty".into()));
    }
    if let Reference::Data(side) = reference
        && side.rows.count(&side.dataset) == 0
    {
        return Err(DriftError::Invalid(format!(
            "{}: the reference has no rows",
            side.label
        )));
    }
    if let Some(season) = options.seasonal {
        let (Some(times), Some(side_rows)) = (&current_times, reference_rows.as_mut()) else {
            return Err(DriftError::Invalid(match reference {
                Reference::Profile(_) => "--seasonal needs the raw reference, not a profile".into(),
                Reference::Data(_) => "--seasonal needs a timestamp column (--timestamp)".into(),
            }));
        };
        let seasons: BTreeSet<u16> = times
            .iter()
            .filter(|t| **t != NULL_TIMESTAMP)
            .map(|t| season.key(*t))
            .collect();
        let sliced = season_rows(side_rows, &seasons, season);
        if sliced.is_empty() {
            return Err(DriftError::Invalid(format!(
                "the reference has no rows in the current data's {} slices",
                season.name()
            )));
        }
        side_rows.ordered = Rows::Some(sliced);
    }
    let segments = match (reference, reference_rows.as_ref()) {
        (_, _) if options.roles.segments.is_empty() => Vec::new(),
        (Reference::Data(side), Some(side_rows)) => {
            segment_rows(side, side_rows, current, options, &mut notes)?
        }
        _ => {
            return Err(DriftError::Invalid(
                "--segment needs the raw reference, not a profile".into(),
            ));
        }
    };

    // Columns on worker threads; each result lands in its plan slot, so order is fixed.
    let next = AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<ColumnOutcome>>> =
        plan.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..options.threads.max(1).min(plan.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(planned) = plan.get(index) else {
                        break;
                    };
                    let result = analyze_column(
                        planned,
                        reference,
                        reference_rows.as_ref(),
                        current,
                        &segments,
                        options,
                    );
                    if let Ok(mut slot) = results[index].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    let mut analysed = Vec::with_capacity(plan.len());
    let mut segment_results: Vec<Vec<ColumnReport>> = segments.iter().map(|_| Vec::new()).collect();
    for slot in results {
        let result = slot.into_inner().ok().flatten().ok_or_else(|| {
            DriftError::Invalid("a column worker stopped without a result".into())
        })??;
        analysed.push(result.0);
        for (index, report) in result.1.into_iter().enumerate() {
            segment_results[index].push(report);
        }
    }

    // Multiple testing across the tested columns, then across every segment × column.
    adjust_and_decide(analysed.iter_mut().collect(), options);
    adjust_and_decide(segment_results.iter_mut().flatten().collect(), options);

    // Differences that vanish against the same season of the reference are seasonal.
    if options.seasonal.is_none() {
        seasonal_check(
            &mut analysed,
            &plan,
            reference,
            reference_rows.as_ref(),
            current,
            current_times.as_deref(),
            options,
            &mut notes,
        )?;
    }

    for (slot, report) in plan_slots(&reports).into_iter().zip(analysed) {
        reports[slot] = Some(report);
    }
    let columns: Vec<ColumnReport> = reports.into_iter().flatten().collect();
    let segment_reports = segments
        .iter()
        .zip(segment_results)
        .map(|(segment, columns)| SegmentReport {
            column: segment.column.clone(),
            value: segment.value.clone(),
            rows_ref: match &segment.reference {
                Rows::Some(rows) => rows.len(),
                Rows::All => 0,
            },
            rows_cur: match &segment.current {
                Rows::Some(rows) => rows.len(),
                Rows::All => 0,
            },
            drifted_columns: columns
                .iter()
                .filter(|c| c.drifted)
                .map(|c| c.name.clone())
                .collect(),
            columns,
        })
        .collect();

    if let Reference::Profile(profile) = reference {
        notes.push(format!(
            "reference from profile {} ({} rows): statistics use its quantile grid, thresholds its calibration ladder",
            profile.source, profile.rows
        ));
    }
    if columns.iter().all(|c| c.status == Status::Skipped) {
        // Nothing was compared: "no drift" would be a silent pass.
        let why: Vec<String> = columns
            .iter()
            .map(|c| format!("{} ({})", c.name, c.reason))
            .collect();
        return Err(DriftError::Invalid(format!(
            "nothing to compare between the reference and {}: no column is in both with data to test{}",
            current.label,
            if why.is_empty() {
                String::new()
            } else {
                format!(" — {}", why.join("; "))
            }
        )));
    }
    let reference_shift = reference_shift(&columns, reference_rows.as_ref());
    if let Some(shift) = &reference_shift {
        notes.push(shift.sentence());
    }
    let count = |status: Status| columns.iter().filter(|c| c.status == status).count();
    let summary = Summary {
        drifted: columns.iter().any(|c| c.drifted),
        columns_tested: columns
            .iter()
            .filter(|c| c.status != Status::Skipped)
            .count(),
        columns_drifted: count(Status::Drift),
        columns_seasonal: count(Status::Seasonal),
        columns_skipped: count(Status::Skipped),
        alpha: options.alpha,
        correction: options.correction.name().to_string(),
        seasonal: options.seasonal.map(|s| s.name().to_string()),
        reference: match reference {
            Reference::Data(side) => match reference_rows.as_ref() {
                Some(side_rows) => {
                    side_summary(side, &side_rows.ordered, side_rows.times.as_deref())
                }
                None => side_summary(side, &side.rows, None),
            },
            Reference::Profile(profile) => SideSummary {
                location: profile.source.clone(),
                rows: profile.rows,
                files: profile.files,
                time_range: profile.time_range.clone(),
            },
        },
        current: side_summary(current, &current.rows, current_times_full.as_deref()),
        inference,
        notes,
        reference_shift,
    };
    Ok(DriftReport {
        summary,
        columns,
        segments: segment_reports,
    })
}

/// The report slots that hold planned (tested) columns, in plan order.
fn plan_slots(reports: &[Option<ColumnReport>]) -> Vec<usize> {
    reports
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_none())
        .map(|(i, _)| i)
        .collect()
}

fn adjust_and_decide(mut reports: Vec<&mut ColumnReport>, options: &DriftOptions) {
    let p_values: Vec<f64> = reports
        .iter()
        .map(|r| {
            if r.status == Status::Skipped {
                f64::NAN
            } else {
                r.p_value.unwrap_or(f64::NAN)
            }
        })
        .collect();
    let adjusted = options.correction.adjust(&p_values);
    for (report, p) in reports.iter_mut().zip(adjusted) {
        if !p.is_nan() {
            decide(report, p, options.alpha);
        }
    }
}

/// A column's whole-data report and its per-segment reports.
type ColumnOutcome = Result<(ColumnReport, Vec<ColumnReport>), DriftError>;

type Plan = (Vec<Planned>, Vec<Option<ColumnReport>>, Vec<Inference>);

/// Decides which columns are tested as what; columns that cannot be tested get their skipped
/// report here, tested ones an empty slot filled later.
fn plan_columns(
    reference: &Reference,
    current: &Side,
    options: &DriftOptions,
    timestamp: Option<&str>,
) -> Result<Plan, DriftError> {
    let roles = &options.roles;
    for name in roles
        .segments
        .iter()
        .chain(&roles.categorical)
        .chain(&roles.numeric)
        .chain(&roles.columns)
    {
        current.dataset.field(name)?;
    }
    let reference_fields: Vec<(String, String, Option<ColumnKind>)> = match reference {
        Reference::Data(side) => side
            .dataset
            .fields()
            .iter()
            .map(|f| (f.name.clone(), f.source_type.clone(), f.kind))
            .collect(),
        Reference::Profile(profile) => profile
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.source_type.clone(), Some(c.kind)))
            .collect(),
    };
    let mut plan = Vec::new();
    let mut reports = Vec::new();
    let mut inference = Vec::new();
    for field in current.dataset.fields() {
        let name = field.name.as_str();
        let (role, decided_by): (&str, String) = if Some(name) == timestamp {
            (
                "timestamp",
                if roles.timestamp.is_some() {
                    "--timestamp".into()
                } else {
                    "first timestamp column".into()
                },
            )
        } else if roles.segments.iter().any(|s| s == name) {
            ("segment", "--segment".into())
        } else if roles.ignore.iter().any(|s| s == name)
            || (!roles.columns.is_empty() && !roles.columns.iter().any(|c| c == name))
        {
            (
                "ignored",
                if roles.ignore.iter().any(|s| s == name) {
                    "--ignore".into()
                } else {
                    "not in --columns".into()
                },
            )
        } else if roles.prediction.as_deref() == Some(name) {
            ("prediction", "--prediction".into())
        } else {
            ("feature", String::new())
        };
        let forced = if roles.categorical.iter().any(|c| c == name) {
            Some((ColumnKind::Categorical, "--categorical"))
        } else if roles.numeric.iter().any(|c| c == name) {
            Some((ColumnKind::Numeric, "--numeric"))
        } else {
            None
        };
        let kind = forced.map(|(k, _)| k).or(field.kind);
        let kind_name = kind.map_or("unsupported", ColumnKind::name).to_string();
        let decided_by = match (forced, decided_by.is_empty()) {
            (Some((_, flag)), true) => flag.to_string(),
            (Some((_, flag)), false) => format!("{decided_by}; {flag}"),
            (None, true) => format!("storage type {}", field.source_type),
            (None, false) => decided_by,
        };
        inference.push(Inference {
            column: name.to_string(),
            source_type: field.source_type.clone(),
            kind: kind_name,
            role: role.to_string(),
            decided_by,
        });
        if !matches!(role, "feature" | "prediction") {
            continue;
        }
        let role: &'static str = if role == "prediction" {
            "prediction"
        } else {
            "feature"
        };
        let kind_label = |k: Option<ColumnKind>| {
            if k == Some(ColumnKind::Categorical) {
                "categorical"
            } else {
                "numeric"
            }
        };
        let Some(kind) = kind.filter(|k| *k != ColumnKind::Timestamp) else {
            let reason = format!(
                "type {} is not tested (only numbers and labels are)",
                field.source_type
            );
            reports.push(Some(analyze::skipped(name, kind_label(kind), role, reason)));
            continue;
        };
        let Some((_, reference_type, reference_kind)) =
            reference_fields.iter().find(|(n, _, _)| n == name)
        else {
            reports.push(Some(analyze::skipped(
                name,
                kind_label(Some(kind)),
                role,
                "not in the reference".into(),
            )));
            continue;
        };
        if forced.is_none() && *reference_kind != field.kind {
            let mut report = analyze::skipped(
                name,
                kind_label(Some(kind)),
                role,
                format!(
                    "type changed: {reference_type} in the reference, {} in the current data",
                    field.source_type
                ),
            );
            report.hints.push(format!(
                "type change {reference_type} -> {} (encoding change?)",
                field.source_type
            ));
            reports.push(Some(report));
            continue;
        }
        plan.push(Planned {
            name: name.to_string(),
            kind,
            role,
        });
        reports.push(None);
    }
    for (name, _, kind) in &reference_fields {
        if current.dataset.fields().iter().all(|f| &f.name != name)
            && Some(name.as_str()) != timestamp
            && !roles.ignore.contains(name)
            && matches!(kind, Some(ColumnKind::Numeric | ColumnKind::Categorical))
        {
            let label = if *kind == Some(ColumnKind::Categorical) {
                "categorical"
            } else {
                "numeric"
            };
            let mut report =
                analyze::skipped(name, label, "feature", "not in the current data".into());
            report
                .hints
                .push("column vanished from the current data (schema change?)".into());
            reports.push(Some(report));
        }
    }
    Ok((plan, reports, inference))
}

fn select_times(times: &[i64], rows: &Rows) -> Vec<i64> {
    match rows {
        Rows::All => times.to_vec(),
        Rows::Some(rows) => rows.iter().map(|r| times[*r as usize]).collect(),
    }
}

/// The reference's own change point, from the columns whose most recent calibration chunks
/// all differ from the rest: the earliest such start, dated from the reference's times.
fn reference_shift(
    columns: &[ColumnReport],
    reference_rows: Option<&SideRows>,
) -> Option<crate::report::ReferenceShift> {
    let shifted: Vec<(&str, f64)> = columns
        .iter()
        .filter_map(|c| Some((c.name.as_str(), c.reference_shifted_from?)))
        .collect();
    let from_share = shifted
        .iter()
        .map(|(_, share)| *share)
        .fold(f64::INFINITY, f64::min);
    if shifted.is_empty() {
        return None;
    }
    let since = reference_rows.and_then(|side_rows| {
        let times = side_rows.times.as_ref()?;
        let rows = match &side_rows.ordered {
            Rows::All => times.len(),
            Rows::Some(rows) => rows.len(),
        };
        let index = ((from_share * rows as f64) as usize).min(rows.checked_sub(1)?);
        let row = match &side_rows.ordered {
            Rows::All => index,
            Rows::Some(rows) => rows[index] as usize,
        };
        let at = *times.get(row)?;
        (at != NULL_TIMESTAMP).then(|| rfc3339(at))
    });
    Some(crate::report::ReferenceShift {
        since,
        from_share,
        columns: shifted
            .iter()
            .map(|(name, _)| (*name).to_string())
            .collect(),
    })
}

/// The reference rows in time order (file order when there is no timestamp or it is already
/// sorted), for calibration chunks that are contiguous periods.
fn order_rows(side: &Side, timestamp: Option<&str>) -> Result<SideRows, DriftError> {
    let Some(name) = timestamp.filter(|n| side.dataset.field(n).is_ok()) else {
        return Ok(SideRows {
            ordered: side.rows.clone(),
            times: None,
        });
    };
    let times = read_times(&side.dataset, name)?;
    let mut rows = side.rows.indices(&side.dataset);
    let sorted = rows
        .windows(2)
        .all(|pair| times[pair[0] as usize] <= times[pair[1] as usize]);
    if !sorted {
        rows.sort_by_key(|r| times[*r as usize]);
    }
    let ordered = if sorted && side.rows == Rows::All {
        Rows::All
    } else {
        Rows::Some(rows)
    };
    Ok(SideRows {
        ordered,
        times: Some(times),
    })
}

fn season_rows(side_rows: &SideRows, seasons: &BTreeSet<u16>, season: Season) -> Vec<u32> {
    let Some(times) = &side_rows.times else {
        return Vec::new();
    };
    let rows: Vec<u32> = match &side_rows.ordered {
        Rows::All => (0..times.len() as u32).collect(),
        Rows::Some(rows) => rows.clone(),
    };
    rows.into_iter()
        .filter(|r| {
            let time = times[*r as usize];
            time != NULL_TIMESTAMP && seasons.contains(&season.key(time))
        })
        .collect()
}

fn segment_rows(
    reference: &Side,
    reference_rows: &SideRows,
    current: &Side,
    options: &DriftOptions,
    notes: &mut Vec<String>,
) -> Result<Vec<Segment>, DriftError> {
    let mut segments = Vec::new();
    for column in &options.roles.segments {
        let group = |side: &Side, rows: &Rows| -> Result<BTreeMap<String, Vec<u32>>, DriftError> {
            let values = side.dataset.read_column(column, ColumnKind::Categorical)?;
            let ColumnValues::Categorical { codes, levels } = values.values else {
                return Ok(BTreeMap::new());
            };
            let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            for row in rows.indices(&side.dataset) {
                let code = codes[row as usize];
                if code != NULL_CODE {
                    groups
                        .entry(levels[code as usize].clone())
                        .or_default()
                        .push(row);
                }
            }
            Ok(groups)
        };
        let reference_groups = group(reference, &reference_rows.ordered)?;
        let current_groups = group(current, &current.rows)?;
        let mut found: Vec<Segment> = current_groups
            .into_iter()
            .filter_map(|(value, current_rows)| {
                let reference_rows = reference_groups.get(&value)?;
                (current_rows.len() >= options.min_rows && reference_rows.len() >= options.min_rows)
                    .then(|| Segment {
                        column: column.clone(),
                        value,
                        reference: Rows::Some(reference_rows.clone()),
                        current: Rows::Some(current_rows),
                    })
            })
            .collect();
        if found.len() > MAX_SEGMENTS {
            notes.push(format!(
                "segment column `{column}`: {} segments, the {MAX_SEGMENTS} largest reported",
                found.len()
            ));
            found.sort_by_key(|s| {
                std::cmp::Reverse(match &s.current {
                    Rows::Some(rows) => rows.len(),
                    Rows::All => 0,
                })
            });
            found.truncate(MAX_SEGMENTS);
            found.sort_by(|a, b| a.value.cmp(&b.value));
        }
        segments.extend(found);
    }
    Ok(segments)
}

fn threshold_inputs(planned: &Planned, options: &DriftOptions) -> ThresholdInputs {
    let (floor, floor_source) = match options.column_min_effects.get(&planned.name) {
        Some(value) => (
            *value,
            format!(
                "tuned minimum effect ({})",
                options
                    .thresholds_source
                    .as_deref()
                    .unwrap_or("thresholds file")
            ),
        ),
        None => match planned.kind {
            ColumnKind::Categorical => {
                (options.categorical_min_effect, "minimum effect".to_string())
            }
            _ => (options.numeric_min_effect, "minimum effect".to_string()),
        },
    };
    ThresholdInputs {
        floor,
        floor_source,
        calibrated: None,
    }
}

/// Compares a current column with a raw reference column (rows in time order), calibrating
/// at the current window's size. The reference keeps a time-ordered copy only when it is big
/// enough to calibrate — at a million rows each copy costs as much as a sort.
fn compare_raw(
    planned: &Planned,
    reference: &Column,
    current: &Column,
    options: &DriftOptions,
) -> ColumnReport {
    let mut inputs = threshold_inputs(planned, options);
    let calibrates =
        |window: usize| window > 0 && reference.len() / window >= MIN_CALIBRATION_CHUNKS;
    match (&reference.values, &current.values) {
        (ColumnValues::Numeric(reference_values), ColumnValues::Numeric(values)) => {
            let current_side = NumericSide::from_values(values);
            let time_ordered = calibrates(current_side.count).then(|| {
                reference_values
                    .iter()
                    .copied()
                    .filter(|v| !v.is_nan())
                    .collect::<Vec<f64>>()
            });
            let sorted = warden_stats::sort::sorted_finite(reference_values);
            let side = NumericSide::from_sorted(sorted, reference.len());
            inputs.calibrated = time_ordered.and_then(|time_ordered| {
                analyze::calibrate_numeric(
                    &time_ordered,
                    &side.sorted,
                    side.std,
                    current_side.count,
                )
            });
            analyze::numeric(
                &planned.name,
                planned.role,
                &side,
                &current_side,
                &inputs,
                options.min_rows,
            )
        }
        (
            ColumnValues::Categorical {
                codes: reference_codes,
                levels: reference_levels,
            },
            ColumnValues::Categorical { codes, levels },
        ) => {
            let side = CategoricalSide::from_codes(reference_codes, reference_levels);
            let current_side = CategoricalSide::from_codes(codes, levels);
            let window = current_side.counts.iter().sum::<u64>() as usize;
            if calibrates(window) {
                let time_ordered: Vec<u32> = reference_codes
                    .iter()
                    .copied()
                    .filter(|c| *c != NULL_CODE)
                    .collect();
                inputs.calibrated =
                    analyze::calibrate_categorical(&time_ordered, &side.counts, window);
            }
            analyze::categorical(
                &planned.name,
                planned.role,
                &side,
                &current_side,
                &inputs,
                options.min_rows,
            )
        }
        _ => analyze::skipped(
            &planned.name,
            planned.kind.name(),
            planned.role,
            "types differ between reference and current".into(),
        ),
    }
}

fn analyze_column(
    planned: &Planned,
    reference: &Reference,
    reference_rows: Option<&SideRows>,
    current: &Side,
    segments: &[Segment],
    options: &DriftOptions,
) -> ColumnOutcome {
    let full_current = current.dataset.read_column(&planned.name, planned.kind)?;
    let current_column = current.rows.view(&full_current);
    match (reference, reference_rows) {
        (Reference::Data(side), Some(side_rows)) => {
            let full_reference = side.dataset.read_column(&planned.name, planned.kind)?;
            let reference = side_rows.ordered.view(&full_reference);
            let report = compare_raw(planned, &reference, &current_column, options);
            let segment_reports = segments
                .iter()
                .map(|segment| {
                    let reference = segment.reference.view(&full_reference);
                    compare_raw(
                        planned,
                        &reference,
                        &segment.current.view(&full_current),
                        options,
                    )
                })
                .collect();
            Ok((report, segment_reports))
        }
        (Reference::Profile(profile), _) => Ok((
            profile.compare(
                planned.kind,
                &planned.name,
                planned.role,
                &current_column,
                threshold_inputs(planned, options),
                options,
            ),
            Vec::new(),
        )),
        (Reference::Data(_), None) => Err(DriftError::Invalid(
            "reference rows were not prepared".into(),
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn seasonal_check(
    analysed: &mut [ColumnReport],
    plan: &[Planned],
    reference: &Reference,
    reference_rows: Option<&SideRows>,
    current: &Side,
    current_times: Option<&[i64]>,
    options: &DriftOptions,
    notes: &mut Vec<String>,
) -> Result<(), DriftError> {
    // Candidates: drifted columns, and columns that are significant with an effect above the
    // minimum but were held back only by a calibrated threshold (which seasonal chunks of the
    // reference inflate) — both deserve to be called seasonal when that is what they are.
    let candidate = |r: &ColumnReport| {
        r.drifted
            || (r.status == Status::NoDrift
                && r.p_value_adjusted.unwrap_or(1.0) < options.alpha
                && r.effect.unwrap_or(0.0) > r.min_effect.unwrap_or(f64::INFINITY))
    };
    if !analysed.iter().any(candidate) {
        return Ok(());
    }
    let (Reference::Data(side), Some(side_rows), Some(times)) =
        (reference, reference_rows, current_times)
    else {
        if matches!(reference, Reference::Profile(_)) {
            notes.push("seasonality not checked: a profile keeps no per-season slices".into());
        }
        return Ok(());
    };
    let season = Season::DayOfWeek;
    let seasons: BTreeSet<u16> = times
        .iter()
        .filter(|t| **t != NULL_TIMESTAMP)
        .map(|t| season.key(*t))
        .collect();
    if seasons.is_empty() || seasons.len() == 7 {
        return Ok(());
    }
    let sliced = season_rows(side_rows, &seasons, season);
    if sliced.len() < options.min_rows {
        notes.push(format!(
            "seasonality not checked: the reference has only {} rows on the current data's days",
            sliced.len()
        ));
        return Ok(());
    }
    let slice = Rows::Some(sliced);
    for (report, planned) in analysed.iter_mut().zip(plan) {
        if !candidate(report) {
            continue;
        }
        let reference_column = side.read(&planned.name, planned.kind, &slice)?;
        let current_column = side_current(current, planned)?;
        let check = compare_raw(planned, &reference_column, &current_column, options);
        let still = check.p_value.unwrap_or(1.0) < options.alpha
            && check.effect.unwrap_or(0.0) > check.threshold.unwrap_or(0.0);
        report.seasonal_check = Some(SeasonalCheck {
            season: season.name().to_string(),
            n_ref: check.n_ref,
            effect: check.effect,
            p_value: check.p_value,
            threshold: check.threshold,
            drifted: still,
        });
        if !still {
            report.drifted = false;
            report.status = Status::Seasonal;
            report.reason = format!(
                "seasonal: differs from the whole reference ({} {:.4}) but not from the same days of the week ({:.4} <= {:.4}); compare with --seasonal day-of-week",
                report.effect_measure,
                report.effect.unwrap_or(0.0),
                check.effect.unwrap_or(0.0),
                check.threshold.unwrap_or(0.0)
            );
        }
    }
    Ok(())
}

fn side_current(current: &Side, planned: &Planned) -> Result<Column, DriftError> {
    current.read(&planned.name, planned.kind, &current.rows)
}

/// The summary of a side with all its rows (reads its timestamps).
pub(crate) fn summarize_side(
    side: &Side,
    timestamp: Option<&str>,
) -> Result<SideSummary, DriftError> {
    let times = match timestamp.filter(|t| side.dataset.field(t).is_ok()) {
        Some(name) => Some(read_times(&side.dataset, name)?),
        None => None,
    };
    Ok(side_summary(side, &side.rows, times.as_deref()))
}

/// A side's summary from timestamps already read (aligned with the data set's rows).
fn side_summary(side: &Side, rows: &Rows, times: Option<&[i64]>) -> SideSummary {
    let time_range = times.and_then(|times| {
        let valid: Box<dyn Iterator<Item = i64>> = match rows {
            Rows::All => Box::new(times.iter().copied()),
            Rows::Some(rows) => Box::new(rows.iter().map(|r| times[*r as usize])),
        };
        let (first, last) = valid
            .filter(|t| *t != NULL_TIMESTAMP)
            .fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        (first <= last).then(|| [rfc3339(first), rfc3339(last)])
    });
    SideSummary {
        location: side.label.clone(),
        rows: rows.count(&side.dataset),
        files: side.dataset.files().len(),
        time_range,
    }
}
