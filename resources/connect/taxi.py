"""A deterministic NYC-yellow-taxi-like dataset (no real sample can be downloaded here).

The real yellow-trip schema's columns and types, values drawn from a seeded RNG with plausible
shapes (skewed pickup zones, fares from distance, tips mostly on card payments, some NULL
passenger counts), and a 265-row zone lookup. Written with pyarrow in a few seconds per million
rows: the same seed and size give the same files, so answers are comparable across runs.
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ZONES = 265
BOROUGHS = ("Manhattan", "Brooklyn", "Queens", "Bronx", "Staten Island", "EWR")
# Zones no trip starts in (263: "Unknown", 264/265: "Outside of NYC" in the real lookup, and a
# few quiet ones): zones_without_pickups has something to find.
NO_PICKUPS = (7, 99, 263, 264, 265)
START = np.datetime64("2024-01-01T00:00:00", "us")
DAYS = 31
FILES = 4


def zones() -> pa.Table:
    ids = np.arange(1, ZONES + 1, dtype=np.int32)
    borough = [BOROUGHS[0] if i <= 69 else BOROUGHS[1] if i <= 130 else BOROUGHS[2] if i <= 200
               else BOROUGHS[3] if i <= 240 else BOROUGHS[4] if i <= 262 else BOROUGHS[5]
               for i in ids]
    return pa.table({
        "LocationID": pa.array(ids, pa.int32()),
        "Borough": pa.array(borough, pa.string()),
        "Zone": pa.array([f"{b} zone {i:03d}" for i, b in zip(ids, borough)], pa.string()),
        "service_zone": pa.array(["Yellow Zone" if b == "Manhattan" else "EWR" if b == "EWR"
                                  else "Boro Zone" for b in borough], pa.string()),
    })


def trips(rows: int, seed: int = 2024) -> pa.Table:
    rng = np.random.default_rng(seed)
    allowed = np.setdiff1d(np.arange(1, ZONES + 1), NO_PICKUPS)
    weights = 1.0 / np.arange(1, len(allowed) + 1) ** 0.8  # a few busy zones, a long tail
    weights /= weights.sum()
    pickup_zone = rng.choice(allowed, size=rows, p=weights[rng.permutation(len(allowed))])
    dropoff_zone = rng.integers(1, ZONES + 1, size=rows)
    # Pickups over a month, busier in the day than at night.
    day = rng.integers(0, DAYS, size=rows)
    hour = (rng.normal(14, 5, size=rows).round() % 24).astype(np.int64)
    second = rng.integers(0, 3600, size=rows)
    pickup = START + ((day * 24 + hour) * 3600 + second) * 1_000_000
    distance = np.round(rng.gamma(1.6, 1.9, size=rows), 2)
    duration_us = ((distance * rng.uniform(150, 400, size=rows)) + 60).astype(np.int64) * 1_000_000
    ratecode = rng.choice([1, 2, 3, 4, 5, 99], size=rows, p=[0.9, 0.04, 0.01, 0.01, 0.03, 0.01])
    payment = rng.choice([1, 2, 3, 4], size=rows, p=[0.72, 0.24, 0.02, 0.02])
    fare = np.round(3.0 + distance * 2.5 + rng.uniform(0, 4, size=rows), 2)
    fare[ratecode == 2] = 70.0  # JFK flat fare
    tip = np.where(payment == 1, np.round(fare * rng.uniform(0.0, 0.3, size=rows), 2), 0.0)
    tolls = np.where(rng.random(rows) < 0.05, 6.94, 0.0)
    extra = rng.choice([0.0, 1.0, 2.5], size=rows)
    congestion = np.where(rng.random(rows) < 0.8, 2.5, 0.0)
    airport = np.where(ratecode == 2, 1.75, 0.0)
    total = np.round(fare + extra + 0.5 + tip + tolls + 1.0 + congestion + airport, 2)
    passengers = rng.choice([1, 1, 1, 1, 2, 2, 3, 4, 5, 6], size=rows)
    passenger_null = rng.random(rows) < 0.03
    return pa.table({
        "VendorID": pa.array(rng.choice([1, 2], size=rows, p=[0.3, 0.7]).astype(np.int32)),
        "tpep_pickup_datetime": pa.array(pickup, pa.timestamp("us")),
        "tpep_dropoff_datetime": pa.array(pickup + duration_us, pa.timestamp("us")),
        "passenger_count": pa.array(passengers, pa.int64(), mask=passenger_null),
        "trip_distance": pa.array(distance, pa.float64()),
        "RatecodeID": pa.array(ratecode, pa.int64()),
        "store_and_fwd_flag": pa.array(np.where(rng.random(rows) < 0.01, "Y", "N"), pa.string()),
        "PULocationID": pa.array(pickup_zone.astype(np.int32)),
        "DOLocationID": pa.array(dropoff_zone.astype(np.int32)),
        "payment_type": pa.array(payment, pa.int64()),
        "fare_amount": pa.array(fare, pa.float64()),
        "extra": pa.array(extra, pa.float64()),
        "mta_tax": pa.array(np.full(rows, 0.5), pa.float64()),
        "tip_amount": pa.array(tip, pa.float64()),
        "tolls_amount": pa.array(tolls, pa.float64()),
        "improvement_surcharge": pa.array(np.full(rows, 1.0), pa.float64()),
        "total_amount": pa.array(total, pa.float64()),
        "congestion_surcharge": pa.array(congestion, pa.float64()),
        "Airport_fee": pa.array(airport, pa.float64()),
    })


def write(root: Path, rows: int = 1_000_000, seed: int = 2024) -> dict[str, int]:
    """root/trips/part-*.parquet and root/zones/zones.parquet; returns row counts."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, not {rows}")
    table = trips(rows, seed)
    (root / "trips").mkdir(parents=True, exist_ok=True)
    (root / "zones").mkdir(parents=True, exist_ok=True)
    step = -(-rows // FILES)
    for index, offset in enumerate(range(0, rows, step)):
        pq.write_table(table.slice(offset, step), root / "trips" / f"part-{index:03d}.parquet")
    pq.write_table(zones(), root / "zones" / "zones.parquet")
    return {"trips": rows, "zones": ZONES}
