"""The home page: for a logged-in user, the permit types they work with and their counts."""
from __future__ import annotations

from flask import current_app
from flask_appbuilder import IndexView, expose
from sqlalchemy import func, select

from . import toggles
from .extensions import db
from .models import STATUSES, Permit
from .scope import current_actor, restrict


def type_counts() -> list[dict]:
    """Per enabled type: counts by status over the records the current actor may see."""
    registry = current_app.extensions["permits"].registry
    query = select(Permit.type_code, Permit.status, func.count()).group_by(Permit.type_code, Permit.status)
    rows = db.session.execute(restrict(query, Permit)).all()
    counts: dict = {}
    for code, status, n in rows:
        counts.setdefault(code, {})[status] = n
    return [{"type": t, "counts": {s: counts.get(t.code, {}).get(s, 0) for s in STATUSES}}
            for t in registry if toggles.is_enabled(t.code)]


class HomeView(IndexView):
    index_template = "permits/index.html"

    @expose("/")
    def index(self):
        user = current_actor()
        rows = type_counts() if user is not None else []
        return self.render_template(self.index_template, appbuilder=self.appbuilder, rows=rows,
                                    statuses=STATUSES)
