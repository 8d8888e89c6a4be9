"""Bureaus: loading the province's clean seed table (``seeds/bureaus.csv``)."""
from __future__ import annotations

import csv
import io
from importlib import resources

from .extensions import db
from .models import Bureau


def seed_rows() -> list[dict]:
    text = resources.files("seeds").joinpath("bureaus.csv").read_text(encoding="utf-8")
    return [dict(r) for r in csv.DictReader(io.StringIO(text)) if not r["code"].startswith("#")]


def load_seed() -> list[str]:
    added = updated = 0
    for row in seed_rows():
        bureau = db.session.get(Bureau, row["code"])
        values = dict(name=row["name"], city=row["city"], division_code=row["division_code"],
                      host_code=row.get("host_code") or None, parent_city_code=row.get("parent_city_code") or None)
        if bureau is None:
            db.session.add(Bureau(code=row["code"], **values))
            added += 1
        elif any(getattr(bureau, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(bureau, k, v)
            updated += 1
    db.session.commit()
    return [f"审批主体：新增 {added} 个，更新 {updated} 个"]
