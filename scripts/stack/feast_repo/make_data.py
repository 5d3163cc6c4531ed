"""Writes the offline source of the harness's Feast repository: 10 stores, hourly rows for the
last 24 hours, seeded so tests can compute the expected online values from the same rule."""
import sys
from datetime import datetime, timedelta, timezone

import pandas as pd

now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
rows = []
for hours_ago in range(24, -1, -1):
    ts = now - timedelta(hours=hours_ago)
    for store_id in range(1, 11):
        rows.append(
            {
                "store_id": store_id,
                "event_timestamp": ts,
                "sales_lag_7": float(store_id * 10 + hours_ago),
                "sales_lag_28": float(store_id * 20 + hours_ago),
                "promo": int((store_id + hours_ago) % 2),
            }
        )
pd.DataFrame(rows).to_parquet(sys.argv[1], index=False)
