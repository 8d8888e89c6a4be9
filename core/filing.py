"""Information filing (信息填报): external-system pushes, attachments, Excel round trip.

:func:`install` wires the three parts into an app; it is called once from
:func:`core.wiring.add_core_views`.
"""
from __future__ import annotations


def install(appbuilder, state) -> None:
    from . import attachments, imports, systems
    systems.install(appbuilder, state)
    attachments.install(appbuilder, state)
    imports.install(appbuilder, state)
