//! Writing columns to Parquet (Snappy-compressed) — used by the data generator behind the
//! tests and benchmarks, and by commands that export a table.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::DataError;
use crate::column::{Column, ColumnValues, NULL_CODE, NULL_TIMESTAMP};

/// Rows per row group: big enough for fast scans, small enough to bound writer memory.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Writes row-aligned columns to a Parquet file. Categorical columns are stored as
/// dictionaries, as pandas and Spark write them.
pub fn write_parquet(path: &Path, columns: &[Column]) -> Result<(), DataError> {
    let io = |message: String| DataError::Io {
        path: path.to_path_buf(),
        message,
    };
    let rows = columns.first().map_or(0, Column::len);
    if columns.iter().any(|c| c.len() != rows) {
        return Err(io("columns have different lengths".into()));
    }
    let fields: Vec<Field> = columns
        .iter()
        .map(|column| {
            let data_type = match &column.values {
                ColumnValues::Numeric(_) => DataType::Float64,
                ColumnValues::Categorical { .. } => {
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
                }
                ColumnValues::Timestamp(_) => {
                    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
                }
            };
            Field::new(&column.name, data_type, true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let file = File::create(path).map_err(|e| io(e.to_string()))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))
        .map_err(|e| io(e.to_string()))?;
    let mut start = 0;
    while start < rows {
        let end = (start + ROW_GROUP_ROWS).min(rows);
        let arrays: Vec<ArrayRef> = columns
            .iter()
            .map(|column| slice_array(column, start, end))
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| io(e.to_string()))?;
        writer.write(&batch).map_err(|e| io(e.to_string()))?;
        start = end;
    }
    writer.close().map_err(|e| io(e.to_string()))?;
    Ok(())
}

fn slice_array(column: &Column, start: usize, end: usize) -> ArrayRef {
    match &column.values {
        ColumnValues::Numeric(values) => Arc::new(
            values[start..end]
                .iter()
                .map(|v| (!v.is_nan()).then_some(*v))
                .collect::<Float64Array>(),
        ),
        ColumnValues::Categorical { codes, levels } => {
            let keys: arrow_array::Int32Array = codes[start..end]
                .iter()
                .map(|c| (*c != NULL_CODE).then_some(*c as i32))
                .collect();
            let values = Arc::new(StringArray::from_iter_values(levels.iter()));
            Arc::new(DictionaryArray::<Int32Type>::new(keys, values))
        }
        ColumnValues::Timestamp(values) => Arc::new(
            values[start..end]
                .iter()
                .map(|v| (*v != NULL_TIMESTAMP).then_some(*v))
                .collect::<TimestampMillisecondArray>()
                .with_timezone("UTC"),
        ),
    }
}
