"""Benchmark: issuing certificates from 1, 4 and 8 concurrent processes (PostgreSQL and SQLite).

For each database and each process count it prints

* issued numbers per second through the real issuing path
  (``core.numbering.issue_permit``: validation, font check, digest, counter,
  number, Ed25519 signature, audit record, commit);
* in the same run, on the same database, a bare counter loop -- the same
  ``UPDATE number_counter SET value = value + 1 … RETURNING value``, each in
  its own transaction and nothing else -- as the limit;
* the ratio of the two, and the number of duplicate numbers and gaps
  (both must be 0);
* for both loops, the machine's CPU time per operation (every process:
  the workers and the database server) and how busy its CPUs were.  When
  issuing keeps every CPU busy, the ratio measures the CPU cost of an issue
  against that of a bare bump, not how long the counter row is held.

Usage::

    python bench/numbering.py [--pg-url URL] [--total 800] [--procs 1,4,8] [--no-sqlite]

The PostgreSQL database (``--pg-url`` or ``PERMITS_BENCH_PG_URL``) is wiped
and rebuilt: its name must contain ``bench`` or ``test``.  Without a URL
only SQLite is measured.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CTX = multiprocessing.get_context("fork")
SAMPLE = {"project_name": "基准测试用地项目", "holder": "郑州某置业有限公司", "location": "郑州市中原区某路",
          "total_area": "12345.67", "land_use": "二类城镇住宅用地", "acquisition": "划拨"}


def build_app(instance, url=None):
    from core import create_app, setup
    config = {"INSTANCE_PATH": str(instance), "SECRET_KEY": "bench", "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
              "PERMITS_BASE_URL": "http://bench.local"}
    if url:
        config["SQLALCHEMY_DATABASE_URI"] = url
    app = create_app(config)
    with app.app_context():
        setup.initialise(admin_name="admin", password_source=lambda _p: ("Bench-pass-2026", None))
    return app


def reset_pg(url):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    name = make_url(url).database or ""
    if "bench" not in name and "test" not in name:
        raise SystemExit(f"refusing to wipe database {name!r}: use a database whose name contains 'bench' or 'test'")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_drafts(app, n):
    from core.extensions import db
    with app.app_context():
        state = app.extensions["permits"]
        ptype, model = state.registry["land_use_permit"], state.models["land_use_permit"]
        values, errors = ptype.clean(SAMPLE)
        assert not errors, errors
        items = [model(**values, bureau_code="41010201", status="draft") for _ in range(n)]
        db.session.add_all(items)
        db.session.commit()
        ids = [i.id for i in items]
        db.session.remove()
        db.engine.dispose()
        return ids


def _issue_worker(app, ids, day, start, done):
    from core import audit, numbering
    from core.extensions import db
    logging.disable(logging.WARNING)
    with app.app_context():
        # loaded through the type's own class, as the issuing page and API do (one joined SELECT)
        model = app.extensions["permits"].models["land_use_permit"]
        db.engine.dispose(close=False)
        with audit.acting_as(f"bench-{os.getpid()}", "job"):
            db.session.get(model, ids[0])         # connect before the clock starts
            db.session.rollback()
            start.wait()
            for pk in ids:
                numbering.issue_permit(db.session.get(model, pk), today=day)
    done.put(len(ids))


def _bare_worker(app, n, key, start, done):
    from sqlalchemy import and_, update
    from core.extensions import db
    from core.numbering import NumberCounter
    with app.app_context():
        db.engine.dispose(close=False)
        stmt = (update(NumberCounter)
                .where(and_(NumberCounter.scope_key == key, NumberCounter.letters == "ZZ",
                            NumberCounter.year == 2000, NumberCounter.trial.is_(False)))
                .values(value=NumberCounter.value + 1).returning(NumberCounter.value))
        with db.engine.connect() as conn:
            conn.commit()
            start.wait()
            for _ in range(n):
                conn.execute(stmt).scalar_one()
                conn.commit()
    done.put(n)


def _cpu_times():
    """(busy, all) CPU seconds of the whole machine so far (Linux /proc/stat; zeros elsewhere)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]                     # idle + iowait
    everything = sum(fields[:8])                     # user … steal (guest time is inside user)
    return (everything - idle) / tick, everything / tick


def _run(procs):
    """Run the workers from one start signal; (operations, seconds, machine CPU seconds used)."""
    start, done = CTX.Event(), CTX.Queue()
    workers = [CTX.Process(target=t, args=(*a, start, done)) for t, a in procs]
    for w in workers:
        w.start()
    time.sleep(1.0)                    # every worker connected and waiting
    busy0, _ = _cpu_times()
    t0 = time.perf_counter()
    start.set()
    total = sum(done.get(timeout=600) for _ in workers)
    elapsed = time.perf_counter() - t0
    busy1, _ = _cpu_times()
    for w in workers:
        w.join(60)
        if w.exitcode != 0:
            raise SystemExit(f"a worker failed (exit code {w.exitcode})")
    return total, elapsed, busy1 - busy0


def measure(app, nprocs, total, year):
    from sqlalchemy import select
    from core.extensions import db
    from core.numbering import NumberCounter, ensure_counter
    from core.models import Permit
    day = dt.date(year, 6, 1)
    ids = make_drafts(app, total)
    chunks = [ids[i::nprocs] for i in range(nprocs)]
    issued, t_issue, cpu_issue = _run([(_issue_worker, (app, chunk, day)) for chunk in chunks])
    key = f"bench{nprocs}"
    with app.app_context():
        ensure_counter(db.session, key, "ZZ", 2000, False)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    per = total // nprocs
    bare, t_bare, cpu_bare = _run([(_bare_worker, (app, per, key)) for _ in range(nprocs)])
    with app.app_context():
        serials = db.session.scalars(select(Permit.serial).where(Permit.id.in_(ids))).all()
        numbers = db.session.scalars(select(Permit.number).where(Permit.id.in_(ids))).all()
        final = db.session.get(NumberCounter, (key, "ZZ", 2000, False)).value
        db.session.remove()
        db.engine.dispose()
    duplicates = len(numbers) - len(set(numbers))
    gaps = len(set(range(1, total + 1)) - set(serials))
    assert final == bare, "bare loop lost an increment"
    cpus = os.cpu_count() or 1
    return Figures(issued / t_issue, bare / t_bare, duplicates, gaps,
                   cpu_issue / issued * 1000, cpu_issue / (t_issue * cpus) * 100,
                   cpu_bare / bare * 1000, cpu_bare / (t_bare * cpus) * 100)


@dataclass
class Figures:
    issued: float          # issues per second
    bare: float            # bare counter bumps per second
    duplicates: int
    gaps: int
    issue_cpu_ms: float    # machine CPU (every process: workers and database) per issue
    issue_busy: float      # % of the machine's CPUs busy while issuing
    bare_cpu_ms: float
    bare_busy: float


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=os.environ.get("PERMITS_BENCH_PG_URL"))
    parser.add_argument("--total", type=int, default=800, help="issues per measurement (default 800)")
    parser.add_argument("--procs", default="1,4,8")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    levels = [int(x) for x in args.procs.split(",")]
    targets = []
    if args.pg_url:
        targets.append(("PostgreSQL", args.pg_url))
    if not args.no_sqlite:
        targets.append(("SQLite", None))
    print(f"bench/numbering.py: {args.total} issues per measurement, {os.cpu_count()} CPUs")
    print(f"{'database':<11} {'procs':>5} {'issued/s':>10} {'bare loop/s':>12} {'ratio':>6} {'dups':>5} {'gaps':>5}"
          f" {'cpu ms/issue':>13} {'busy%':>6} {'cpu ms/bump':>12} {'busy%':>6}")
    failed = False
    for label, url in targets:
        with tempfile.TemporaryDirectory(prefix="permits-bench-") as tmp:
            if url:
                reset_pg(url)
            app = build_app(Path(tmp) / "instance", url)
            for i, n in enumerate(levels):
                f = measure(app, n, args.total - args.total % n, 2001 + i)
                failed |= bool(f.duplicates or f.gaps)
                print(f"{label:<11} {n:>5} {f.issued:>10.1f} {f.bare:>12.1f} {f.issued / f.bare:>6.2f} "
                      f"{f.duplicates:>5} {f.gaps:>5} {f.issue_cpu_ms:>13.2f} {f.issue_busy:>6.0f} "
                      f"{f.bare_cpu_ms:>12.2f} {f.bare_busy:>6.0f}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
