"""Benchmark: milliseconds per certificate PDF, against the bare xhtml2pdf render of the same HTML.

The full path is ``core.certificates.certificate_pdf``: the plugin's
template, the QR code, xhtml2pdf with the embedded fonts, the SHA-256, the
``permit.print`` audit record and its commit -- the first print of each of
``--runs`` different issued certificates.  The bare render is
``pisa.CreatePDF`` of the very same HTML with the same resource policy,
and nothing else.  Both are measured in the same run, interleaved, after
one warm-up render (the first render of a process loads the fonts).

Usage::

    python bench/certificates.py [--runs 30] [--type land_use_permit]

Targets: median ≤ 150 ms, and ≤ 1.3 × the bare render.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE = {
    "project_name": "中原区西流湖片区安置住房项目", "holder": "郑州市中原区某城建开发有限公司",
    "location": "郑州市中原区西流湖街道，桐柏路以西、陇海路以北", "approving_authority": "郑州市人民政府",
    "approval_doc": "郑政土〔2025〕118号", "total_area": "27506.67", "net_area": "23871.50",
    "road_green_area": "3635.17", "land_use": "二类城镇住宅用地", "acquisition": "划拨",
    "construction_scale": "总建筑面积约9.5万平方米，其中住宅约8.6万平方米，配套公共服务设施约0.9万平方米",
    "site_selection_no": "用字第4101022025XS0000001号", "attachments_note": "附图一份",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    from core import audit, certificates, create_app, numbering, records, setup
    from core.extensions import db
    from xhtml2pdf import pisa

    with tempfile.TemporaryDirectory(prefix="permits-bench-") as tmp:
        app = create_app({"INSTANCE_PATH": str(Path(tmp) / "instance"), "SECRET_KEY": "bench",
                          "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "PERMITS_BASE_URL": "http://bench.local"})
        with app.app_context():
            setup.initialise(admin_name="admin", password_source=lambda _p: ("Bench-pass-2026", None))
        with app.test_request_context(), audit.acting_as("bench", "job"):
            state = app.extensions["permits"]
            ptype, model = state.registry["land_use_permit"], state.models["land_use_permit"]
            values, errors = ptype.clean(SAMPLE)
            assert not errors, errors
            permits = []
            for i in range(args.runs + 1):         # a different certificate each time: first prints
                permit = records.create(ptype, model, dict(values, project_name=f"{values['project_name']}{i + 1}号地块"),
                                        "41010201", via="bench")
                db.session.commit()
                numbering.issue_permit(permit, today=dt.date(2025, 6, 1))
                permits.append(permit)
            policy = certificates.policy()

            def bare(html):
                buf = io.BytesIO()
                pisa.CreatePDF(html, dest=buf, encoding="utf-8", resource_policy=policy)
                return buf.getvalue()

            first = time.perf_counter()
            certificates.certificate_pdf(permits[0], ptype)
            first = (time.perf_counter() - first) * 1000
            bare(certificates.render_html(permits[0], ptype))
            times = {"full": [], "bare": []}
            for permit in permits[1:]:           # interleaved, so machine load hits both alike
                t0 = time.perf_counter()
                pdf = certificates.certificate_pdf(permit, ptype)
                times["full"].append((time.perf_counter() - t0) * 1000)
                html = certificates.render_html(permit, ptype)
                t0 = time.perf_counter()
                bare(html)
                times["bare"].append((time.perf_counter() - t0) * 1000)
    med_full, med_bare = statistics.median(times["full"]), statistics.median(times["bare"])
    print(f"bench/certificates.py: {args.runs} runs each, {os.cpu_count()} CPUs, PDF {len(pdf) / 1024:.1f} KiB")
    print(f"first certificate (fonts loaded):        {first:8.1f} ms")
    print(f"certificate PDF, median (full path):     {med_full:8.1f} ms   (p90 "
          f"{sorted(times['full'])[int(0.9 * len(times['full'])) - 1]:.1f})")
    print(f"bare xhtml2pdf render, median:           {med_bare:8.1f} ms")
    print(f"ratio full / bare:                       {med_full / med_bare:8.2f}")
    ok = med_full <= 150 and med_full <= 1.3 * med_bare
    print("targets (<= 150 ms, <= 1.3 x bare):      " + ("met" if ok else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
