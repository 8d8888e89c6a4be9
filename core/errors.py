"""Error pages and JSON errors: Chinese, and never a stack trace."""
from __future__ import annotations

import logging

from flask import current_app, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def _messages():
    return {
        400: _("The request could not be understood"),
        401: _("Please log in"),
        403: _("You are not allowed to do this"),
        404: _("Not found"),
        405: _("This method is not allowed here"),
        409: _("This record has changed its state; reload and try again"),
        413: _("The file is too large"),
        500: _("Something went wrong on the server. The error has been logged."),
    }


def _respond(code, message):
    if request.path.startswith("/api/"):
        return jsonify(message=message), code
    try:
        return render_template("permits/error.html", code=code, message=message,
                               base_template=current_app.appbuilder.base_template,
                               appbuilder=current_app.appbuilder), code
    except Exception:  # the error page itself must not fail
        log.exception("error page failed")
        return f"<h1>{code}</h1><p>{message}</p>", code


def register(app) -> None:
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return _respond(400, _("This form has expired or did not come from this system. Go back, reload the "
                               "page and submit it again."))

    @app.errorhandler(HTTPException)
    def _http(exc):
        code = exc.code or 500
        if code in (301, 302, 303, 307, 308):
            return exc
        return _respond(code, _messages().get(code, exc.name))

    @app.errorhandler(Exception)
    def _any(exc):
        log.exception("unhandled error on %s", request.path)
        from .extensions import db
        db.session.rollback()
        return _respond(500, _messages()[500])
