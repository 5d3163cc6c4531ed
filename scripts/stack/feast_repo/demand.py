"""Feature definitions of the harness's Feast repository: daily demand features per store."""
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int64
from feast.value_type import ValueType

store = Entity(name="store_id", join_keys=["store_id"], value_type=ValueType.INT64)

store_daily_source = FileSource(
    name="store_daily_source",
    path="data/store_daily.parquet",
    timestamp_field="event_timestamp",
)

store_daily_features = FeatureView(
    name="store_daily_features",
    entities=[store],
    ttl=timedelta(hours=2),
    schema=[
        Field(name="sales_lag_7", dtype=Float64),
        Field(name="sales_lag_28", dtype=Float64),
        Field(name="promo", dtype=Int64),
    ],
    source=store_daily_source,
    online=True,
)
