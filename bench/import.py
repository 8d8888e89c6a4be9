"""Benchmark: importing a 10,000-row workbook of one permit type.

Builds the type's template, fills 10,000 rows (every column the clerk would
fill, dates as text and as date cells, a few areas in 亩), then in the same
run measures

* ``pandas.read_excel`` of that file (``dtype=str``, the data sheet) -- the limit;
* the real import (:func:`core.imports.run_import`: read, validate every cell
  with the declaration, insert every draft, append an audit record for each,
  commit) -- and checks that all rows were saved and the audit chain verifies;

and prints both times, their ratio (target <= 3x) and the peak memory.

Usage::

    python bench/import.py [--rows 10000] [--type construction_permit] [--pg-url URL]

Without ``--pg-url`` (or ``PERMITS_BENCH_PG_URL``) it runs on SQLite in a
temporary folder.  A PostgreSQL database is wiped: its name must contain
``bench`` or ``test``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_workbook(ptype, rows: int) -> bytes:
    from openpyxl import load_workbook
    from core.imports import DATA_SHEET, template_workbook
    wb = load_workbook(io.BytesIO(template_workbook(ptype)))
    ws = wb[DATA_SHEET]
    fields = ptype.all_fields
    for r in range(2, rows + 2):
        i = r - 1
        for c, f in enumerate(fields, start=1):
            value = sample_value(f, i)
            if value is not None:
                ws.cell(row=r, column=c, value=value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def sample_value(f, i):
    from core.registry import Choice, Date, Decimal_, Integer, Text, YesNo
    kind = f.kind
    if f.name == "project_code":
        return f"2026-410102-47-03-{i:06d}"
    if isinstance(kind, Date):
        return dt.datetime(2026, 1 + i % 12, 1 + i % 28) if i % 2 else f"2026年{1 + i % 12}月{1 + i % 28}日"
    if isinstance(kind, Choice):
        return kind.options[i % len(kind.options)]
    if isinstance(kind, YesNo):
        return "否"
    if isinstance(kind, Integer):
        return (kind.min or 0) + i % 5 + 1 if kind.max is None else min(kind.max, (kind.min or 0) + 1)
    if isinstance(kind, Decimal_):
        if kind.unit == "%":
            return "35.50"
        if kind.unit == "平方米" and i % 10 == 0:
            return f"{i % 97 + 1}亩"
        return f"{1000 + i}.{i % 100:02d}"
    if isinstance(kind, Text):
        if f.personal or f.validate is not None:
            return None
        return f"{f.label}{i}"[: kind.max_length]
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--type", default="construction_permit")
    parser.add_argument("--pg-url", default=os.environ.get("PERMITS_BENCH_PG_URL"))
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)

    import pandas as pd
    from sqlalchemy import create_engine, func, select, text
    from core import create_app

    tmp = Path(tempfile.mkdtemp(prefix="bench_import_"))
    config = {"INSTANCE_PATH": str(tmp / "instance"), "SECRET_KEY": "bench", "TESTING": True,
              "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}
    db_name = "SQLite"
    if args.pg_url:
        name = args.pg_url.rsplit("/", 1)[-1]
        if "bench" not in name and "test" not in name:
            sys.exit("refusing to wipe a database whose name contains neither 'bench' nor 'test'")
        engine = create_engine(args.pg_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        config["SQLALCHEMY_DATABASE_URI"] = args.pg_url
        db_name = "PostgreSQL"
    app = create_app(config)
    with app.app_context():
        from core import audit, setup
        setup.initialise(admin_name="admin", password_source=lambda _p: ("Bench2026pass", None), demo=False)
    ptype = app.extensions["permits"].registry[args.type]

    t = time.perf_counter()
    content = build_workbook(ptype, args.rows)
    print(f"workbook: {args.rows} rows of {ptype.name}, {len(ptype.all_fields)} columns, "
          f"{len(content) / 1e6:.1f} MB, built in {time.perf_counter() - t:.1f} s")

    rss_before = rss_mb()
    t = time.perf_counter()
    frame = pd.read_excel(io.BytesIO(content), sheet_name="许可信息", dtype=str, keep_default_na=False)
    pandas_s = time.perf_counter() - t
    assert len(frame) == args.rows, len(frame)
    del frame

    with app.app_context(), app.test_request_context("/bench"):
        from core.extensions import db
        from core.imports import run_import
        from core.models import Permit
        t = time.perf_counter()
        with audit.acting_as("bench-import", "job", "41010201"):
            result = run_import(ptype, "bench.xlsx", content, "41010201")
        import_s = time.perf_counter() - t
        assert result.ok, [p.as_dict() for p in result.problems[:5]]
        saved = db.session.scalar(select(func.count()).select_from(Permit))
        assert saved == args.rows, saved
        count, _head, problem = audit.verify()
        assert problem is None, problem
    peak = rss_mb()
    print(f"database: {db_name}")
    print(f"pandas.read_excel (dtype=str):           {pandas_s:7.2f} s")
    print(f"import (read, validate, save, audit):   {import_s:7.2f} s   "
          f"({args.rows / import_s:,.0f} rows/s, {result.notes} areas converted)")
    print(f"ratio import / read_excel:               {import_s / pandas_s:7.2f}x   (target <= 3x)")
    print(f"peak memory (max RSS): {peak:.0f} MB (before reading: {rss_before:.0f} MB); "
          f"audit chain verified: {count} records")


if __name__ == "__main__":
    main()
