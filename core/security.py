"""Security manager: FAB's, extended with the bureau of each user."""
from __future__ import annotations

from flask_appbuilder.security.sqla.manager import SecurityManager

from .models import PermitUser


class PermitsSecurityManager(SecurityManager):
    user_model = PermitUser
