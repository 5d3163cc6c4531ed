//! A data set: the files at a location, their unified schema with the type Warden inferred
//! for each column (and why), and column reads. Parquet is read column by column with a
//! projection; CSV and JSON lines are decoded once and kept, since they cannot be projected.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufReader, Seek};
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::DataError;
use crate::column::{Column, ColumnKind, ColumnValues, NULL_CODE, NULL_TIMESTAMP};
use crate::location::{DataFile, Format, S3Settings, resolve};

const BATCH_ROWS: usize = 65_536;

/// Columns already read, by name and kind.
type ColumnCache = HashMap<(String, ColumnKind), Arc<Column>>;

/// A column as found in the files, with the kind Warden will analyse it as.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    /// The column name.
    pub name: String,
    /// The storage type, as Arrow names it (e.g. `Int64`, `Utf8`).
    pub source_type: String,
    /// The inferred kind; `None` for types Warden does not analyse (lists, structs).
    pub kind: Option<ColumnKind>,
}

/// Files at one location with a unified schema.
pub struct Dataset {
    location: String,
    files: Vec<DataFile>,
    file_rows: Vec<usize>,
    fields: Vec<FieldInfo>,
    file_schemas: Vec<Arc<Schema>>,
    decoded_text: Mutex<HashMap<usize, Arc<Vec<RecordBatch>>>>,
    column_cache: Option<Mutex<ColumnCache>>,
    _downloads: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("location", &self.location)
            .field("files", &self.files.len())
            .finish()
    }
}

impl Dataset {
    /// Opens a location: a file, directory, glob or `s3://` prefix. Reads schemas (and
    /// decodes text files); column data is read later, on demand.
    pub fn open(location: &str) -> Result<Self, DataError> {
        Self::open_with(location, &S3Settings::from_env())
    }

    /// Opens a location with explicit S3 settings.
    pub fn open_with(location: &str, s3: &S3Settings) -> Result<Self, DataError> {
        let (files, downloads) = resolve(location, s3)?;
        let mut dataset = Dataset {
            location: location.to_string(),
            files: Vec::new(),
            file_rows: Vec::new(),
            fields: Vec::new(),
            file_schemas: Vec::new(),
            decoded_text: Mutex::new(HashMap::new()),
            column_cache: None,
            _downloads: downloads,
        };
        let mut first_seen: HashMap<String, (usize, DataType)> = HashMap::new();
        for (index, file) in files.into_iter().enumerate() {
            let (schema, rows) = match file.format {
                Format::Parquet => parquet_schema(&file)?,
                Format::Csv | Format::JsonLines => {
                    let (schema, batches) = decode_text(&file)?;
                    let rows = batches.iter().map(RecordBatch::num_rows).sum();
                    dataset
                        .decoded_text
                        .lock()
                        .map_err(|_| poisoned(&file))?
                        .insert(index, Arc::new(batches));
                    (schema, rows)
                }
            };
            for field in schema.fields() {
                let name = field.name().clone();
                match first_seen.get(&name) {
                    None => {
                        first_seen.insert(name.clone(), (index, field.data_type().clone()));
                        dataset.fields.push(FieldInfo {
                            name,
                            source_type: field.data_type().to_string(),
                            kind: infer_kind(field.data_type()),
                        });
                    }
                    Some((first_index, first_type)) => {
                        let (first_kind, other_kind) =
                            (infer_kind(first_type), infer_kind(field.data_type()));
                        let compatible = first_kind == other_kind
                            || matches!(first_type, DataType::Null)
                            || matches!(field.data_type(), DataType::Null);
                        if !compatible {
                            return Err(DataError::TypeConflict {
                                column: name,
                                first_file: dataset.files[*first_index].display.clone(),
                                first_kind: first_type.to_string(),
                                other_file: file.display.clone(),
                                other_kind: field.data_type().to_string(),
                            });
                        }
                        if matches!(first_type, DataType::Null) {
                            // The first file only had nulls here; the later one knows the type.
                            first_seen.insert(name.clone(), (index, field.data_type().clone()));
                            if let Some(info) = dataset.fields.iter_mut().find(|f| f.name == name) {
                                info.source_type = field.data_type().to_string();
                                info.kind = infer_kind(field.data_type());
                            }
                        }
                    }
                }
            }
            dataset.files.push(file);
            dataset.file_rows.push(rows);
            dataset.file_schemas.push(schema);
        }
        Ok(dataset)
    }

    /// What the user gave.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The files read.
    pub fn files(&self) -> &[DataFile] {
        &self.files
    }

    /// Total rows over all files.
    pub fn rows(&self) -> usize {
        self.file_rows.iter().sum()
    }

    /// The unified columns, in order of first appearance.
    pub fn fields(&self) -> &[FieldInfo] {
        &self.fields
    }

    /// One column's description.
    pub fn field(&self, name: &str) -> Result<&FieldInfo, DataError> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| DataError::MissingColumn {
                location: self.location.clone(),
                column: name.to_string(),
                available: self
                    .fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Keeps every column read in memory, for callers that read the same columns many times
    /// (a backtest runs one comparison per window over the same history).
    pub fn with_column_cache(mut self) -> Self {
        self.column_cache = Some(Mutex::new(HashMap::new()));
        self
    }

    /// Reads one column over all files as `kind`. Rows of a file that lacks the column are
    /// missing values, so columns stay row-aligned.
    pub fn read_column(&self, name: &str, kind: ColumnKind) -> Result<Column, DataError> {
        let Some(cache) = &self.column_cache else {
            return self.read_column_uncached(name, kind);
        };
        let key = (name.to_string(), kind);
        if let Some(column) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(column.as_ref().clone());
        }
        let column = self.read_column_uncached(name, kind)?;
        if let Ok(mut cache) = cache.lock() {
            cache.insert(key, Arc::new(column.clone()));
        }
        Ok(column)
    }

    fn read_column_uncached(&self, name: &str, kind: ColumnKind) -> Result<Column, DataError> {
        self.field(name)?;
        let mut builder = ColumnBuilder::new(kind, self.rows());
        for (index, file) in self.files.iter().enumerate() {
            let position = self.file_schemas[index].index_of(name).ok();
            let Some(position) = position else {
                builder.push_nulls(self.file_rows[index]);
                continue;
            };
            let bad = |message: String| DataError::BadValue {
                file: file.display.clone(),
                column: name.to_string(),
                message,
            };
            match file.format {
                Format::Parquet => {
                    let reader = File::open(&file.path).map_err(|error| DataError::Io {
                        path: file.path.clone(),
                        message: error.to_string(),
                    })?;
                    let builder_for_file = ParquetRecordBatchReaderBuilder::try_new(reader)
                        .map_err(|e| corrupt(file, e))?;
                    let mask = ProjectionMask::roots(builder_for_file.parquet_schema(), [position]);
                    let batches = builder_for_file
                        .with_projection(mask)
                        .with_batch_size(BATCH_ROWS)
                        .build()
                        .map_err(|e| corrupt(file, e))?;
                    for batch in batches {
                        let batch = batch.map_err(|e| corrupt(file, e))?;
                        builder.push(batch.column(0), &bad)?;
                    }
                }
                Format::Csv | Format::JsonLines => {
                    let batches = self
                        .decoded_text
                        .lock()
                        .map_err(|_| poisoned(file))?
                        .get(&index)
                        .cloned()
                        .unwrap_or_default();
                    for batch in batches.iter() {
                        builder.push(batch.column(position), &bad)?;
                    }
                }
            }
        }
        Ok(Column {
            name: name.to_string(),
            values: builder.finish(),
        })
    }
}

fn poisoned(file: &DataFile) -> DataError {
    DataError::Io {
        path: file.path.clone(),
        message: "an earlier read panicked".into(),
    }
}

fn corrupt(file: &DataFile, error: impl std::fmt::Display) -> DataError {
    DataError::Corrupt {
        file: file.display.clone(),
        format: file.format.name(),
        message: error.to_string(),
    }
}

/// The kind a storage type is analysed as: numbers are numeric, text and booleans
/// categorical, dates and times timestamps. `--categorical` overrides, e.g. for integer codes.
pub fn infer_kind(data_type: &DataType) -> Option<ColumnKind> {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => Some(ColumnKind::Numeric),
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Boolean
        | DataType::Null => Some(ColumnKind::Categorical),
        DataType::Dictionary(_, value) => infer_kind(value),
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            Some(ColumnKind::Timestamp)
        }
        _ => None,
    }
}

fn parquet_schema(file: &DataFile) -> Result<(Arc<Schema>, usize), DataError> {
    let reader = File::open(&file.path).map_err(|error| DataError::Io {
        path: file.path.clone(),
        message: error.to_string(),
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(reader).map_err(|e| corrupt(file, e))?;
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    Ok((builder.schema().clone(), rows))
}

/// A text file's schema and record batches. A CSV file with a header and no rows still names
/// its columns (typed `Null`: no value says what they hold), so a log part written before any
/// row arrived does not hide them.
fn decode_text(file: &DataFile) -> Result<(Arc<Schema>, Vec<RecordBatch>), DataError> {
    let io = |error: std::io::Error| DataError::Io {
        path: file.path.clone(),
        message: error.to_string(),
    };
    let mut handle = File::open(&file.path).map_err(io)?;
    // A row takes at least two bytes, so a small file never needs a full-size batch: the
    // decoders allocate (and zero) the whole batch up front, which for many small parts (a log
    // shipper's hourly files) cost more than reading them.
    let length = handle.metadata().map_err(io)?.len();
    let batch_rows =
        usize::try_from(length / 2 + 1).map_or(BATCH_ROWS, |rows| rows.min(BATCH_ROWS));
    let mut header_only = Arc::new(Schema::empty());
    let batches: Result<Vec<RecordBatch>, arrow_schema::ArrowError> = match file.format {
        Format::Csv => {
            let format = arrow_csv::reader::Format::default().with_header(true);
            let (schema, _) = format
                .infer_schema(&mut handle, None)
                .map_err(|e| corrupt(file, e))?;
            header_only = Arc::new(Schema::new(
                schema
                    .fields()
                    .iter()
                    .map(|f| arrow_schema::Field::new(f.name(), DataType::Null, true))
                    .collect::<Vec<_>>(),
            ));
            handle.rewind().map_err(io)?;
            arrow_csv::ReaderBuilder::new(Arc::new(schema))
                .with_format(format)
                .with_batch_size(batch_rows)
                .build(handle)
                .map_err(|e| corrupt(file, e))?
                .collect()
        }
        Format::JsonLines => {
            let (schema, _) =
                arrow_json::reader::infer_json_schema(BufReader::new(&mut handle), None)
                    .map_err(|e| corrupt(file, e))?;
            handle.rewind().map_err(io)?;
            arrow_json::ReaderBuilder::new(Arc::new(schema))
                .with_batch_size(batch_rows)
                .build(BufReader::new(handle))
                .map_err(|e| corrupt(file, e))?
                .collect()
        }
        Format::Parquet => Ok(Vec::new()),
    };
    let batches = batches.map_err(|e| corrupt(file, e))?;
    let schema = batches.first().map_or(header_only, RecordBatch::schema);
    Ok((schema, batches))
}

/// FxHash: category interning hashes every row, and SipHash's DoS resistance buys nothing on
/// local files.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

enum ColumnBuilder {
    Numeric(Vec<f64>),
    Categorical {
        codes: Vec<u32>,
        levels: Vec<String>,
        index: FxMap<String, u32>,
    },
    Timestamp(Vec<i64>),
}

impl ColumnBuilder {
    fn new(kind: ColumnKind, rows: usize) -> Self {
        match kind {
            ColumnKind::Numeric => Self::Numeric(Vec::with_capacity(rows)),
            ColumnKind::Categorical => Self::Categorical {
                codes: Vec::with_capacity(rows),
                levels: Vec::new(),
                index: FxMap::default(),
            },
            ColumnKind::Timestamp => Self::Timestamp(Vec::with_capacity(rows)),
        }
    }

    fn push_nulls(&mut self, rows: usize) {
        match self {
            Self::Numeric(values) => values.extend(std::iter::repeat_n(f64::NAN, rows)),
            Self::Categorical { codes, .. } => codes.extend(std::iter::repeat_n(NULL_CODE, rows)),
            Self::Timestamp(values) => values.extend(std::iter::repeat_n(NULL_TIMESTAMP, rows)),
        }
    }

    fn push(
        &mut self,
        array: &ArrayRef,
        bad: &dyn Fn(String) -> DataError,
    ) -> Result<(), DataError> {
        if matches!(array.data_type(), DataType::Null) {
            self.push_nulls(array.len());
            return Ok(());
        }
        match self {
            Self::Numeric(values) => {
                let cast;
                let floats = if array.data_type() == &DataType::Float64 {
                    array.as_primitive::<Float64Type>()
                } else {
                    let options = arrow_cast::CastOptions {
                        safe: false,
                        ..Default::default()
                    };
                    cast = arrow_cast::cast_with_options(array, &DataType::Float64, &options)
                        .map_err(|e| bad(format!("not numeric ({}): {e}", array.data_type())))?;
                    cast.as_primitive::<Float64Type>()
                };
                if floats.null_count() == 0 {
                    values.extend_from_slice(floats.values());
                } else {
                    values.extend(floats.iter().map(|v| v.unwrap_or(f64::NAN)));
                }
            }
            Self::Categorical {
                codes,
                levels,
                index,
            } => {
                let mut intern = |text: &str| -> u32 {
                    if let Some(code) = index.get(text) {
                        return *code;
                    }
                    let code = levels.len() as u32;
                    levels.push(text.to_string());
                    index.insert(text.to_string(), code);
                    code
                };
                if let DataType::Dictionary(key_type, _) = array.data_type()
                    && matches!(key_type.as_ref(), DataType::Int32)
                {
                    let dictionary = array.as_dictionary::<Int32Type>();
                    let values = arrow_cast::cast(dictionary.values(), &DataType::Utf8)
                        .map_err(|e| bad(format!("dictionary values are not text: {e}")))?;
                    let values = values.as_string::<i32>();
                    let mapped: Vec<u32> = (0..values.len())
                        .map(|i| {
                            if values.is_null(i) {
                                NULL_CODE
                            } else {
                                intern(values.value(i))
                            }
                        })
                        .collect();
                    codes.extend(
                        dictionary
                            .keys()
                            .iter()
                            .map(|k| k.map_or(NULL_CODE, |k| mapped[k as usize])),
                    );
                    return Ok(());
                }
                let text = arrow_cast::cast(array, &DataType::Utf8)
                    .map_err(|e| bad(format!("cannot read {} as text: {e}", array.data_type())))?;
                let text = text.as_string::<i32>();
                codes.extend(text.iter().map(|v| v.map_or(NULL_CODE, &mut intern)));
            }
            Self::Timestamp(values) => push_timestamps(values, array, bad)?,
        }
        Ok(())
    }

    fn finish(self) -> ColumnValues {
        match self {
            Self::Numeric(values) => ColumnValues::Numeric(values),
            Self::Categorical { codes, levels, .. } => ColumnValues::Categorical { codes, levels },
            Self::Timestamp(values) => ColumnValues::Timestamp(values),
        }
    }
}

const MS_PER_DAY: i64 = 86_400_000;
/// Integers above this are taken as epoch milliseconds, below as epoch seconds (1e11 s is the
/// year 5138; 1e11 ms is 1973).
const EPOCH_MILLIS_ABOVE: i64 = 100_000_000_000;

fn push_timestamps(
    values: &mut Vec<i64>,
    array: &ArrayRef,
    bad: &dyn Fn(String) -> DataError,
) -> Result<(), DataError> {
    match array.data_type() {
        DataType::Timestamp(_, _) | DataType::Date64 => {
            let millis = arrow_cast::cast(array, &DataType::Timestamp(TimeUnit::Millisecond, None))
                .map_err(|e| bad(format!("not a timestamp: {e}")))?;
            values.extend(
                millis
                    .as_primitive::<TimestampMillisecondType>()
                    .iter()
                    .map(|v| v.unwrap_or(NULL_TIMESTAMP)),
            );
        }
        DataType::Date32 => {
            let days = arrow_cast::cast(array, &DataType::Int32)
                .map_err(|e| bad(format!("not a date: {e}")))?;
            values.extend(
                days.as_primitive::<Int32Type>()
                    .iter()
                    .map(|v| v.map_or(NULL_TIMESTAMP, |d| i64::from(d) * MS_PER_DAY)),
            );
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = arrow_cast::cast(array, &DataType::Utf8).map_err(|e| bad(e.to_string()))?;
            for (row, value) in text.as_string::<i32>().iter().enumerate() {
                match value {
                    None => values.push(NULL_TIMESTAMP),
                    Some(text) => values.push(parse_timestamp(text).ok_or_else(|| {
                        bad(format!(
                            "row {row}: `{text}` is not an RFC 3339 time or YYYY-MM-DD date"
                        ))
                    })?),
                }
            }
        }
        other if infer_kind(other) == Some(ColumnKind::Numeric) => {
            let ints = arrow_cast::cast(array, &DataType::Int64).map_err(|e| bad(e.to_string()))?;
            values.extend(ints.as_primitive::<Int64Type>().iter().map(|v| {
                v.map_or(NULL_TIMESTAMP, |v| {
                    if v.abs() > EPOCH_MILLIS_ABOVE {
                        v
                    } else {
                        v * 1000
                    }
                })
            }));
        }
        other => return Err(bad(format!("{other} cannot be read as a timestamp"))),
    }
    Ok(())
}

/// Epoch milliseconds of an RFC 3339 time, a `YYYY-MM-DD HH:MM:SS[.f]` time (UTC) or a date.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Some(time.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_in_the_usual_forms() {
        assert_eq!(parse_timestamp("1970-01-02"), Some(MS_PER_DAY));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.5"), Some(1500));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn kinds_follow_storage_types() {
        assert_eq!(infer_kind(&DataType::Int64), Some(ColumnKind::Numeric));
        assert_eq!(infer_kind(&DataType::Utf8), Some(ColumnKind::Categorical));
        assert_eq!(infer_kind(&DataType::Date32), Some(ColumnKind::Timestamp));
        assert_eq!(
            infer_kind(&DataType::Dictionary(
                Box::new(DataType::Int32),
                Box::new(DataType::Utf8)
            )),
            Some(ColumnKind::Categorical)
        );
    }
}
