"""Unbound singletons, bound to an app in ``create_app``.

Only the SQLAlchemy object is module-level (FAB's models need one class);
the AppBuilder is created per app, as FAB 5 breaks when two apps share one.
"""
from flask_appbuilder.utils.legacy import get_sqla_class

db = get_sqla_class()()
