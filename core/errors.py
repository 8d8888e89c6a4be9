"""Error pages and JSON errors: Chinese, and never a stack trace."""
from __future__ import annotations

import json
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


#: FAB's REST API answers its errors with fixed English messages; these are shown in Chinese.
def _fab_api_messages():
    return {
        "Not found": _("Not found"),
        "Forbidden": _("You are not allowed to do this"),
        "Fatal error": _("Something went wrong on the server. The error has been logged."),
        "Not authorized": _("Wrong user name or password, or the account is locked, disabled or still on its "
                            "first password (log in on the web page to change it)"),
        "Request is not JSON": _("The request body must be a JSON object"),
        "Missing Authorization Header": _("Please log in"),
        "Token has expired": _("Your login has expired; log in again"),
    }


def _translate_api_error(response):
    if response.status_code < 400 or not request.path.startswith("/api/") or not response.is_json:
        return response
    body = response.get_json(silent=True)
    if isinstance(body, dict) and isinstance(body.get("message") or body.get("msg"), str):
        key = "message" if isinstance(body.get("message"), str) else "msg"
        text = body[key]
        translated = _fab_api_messages().get(text)
        if translated is None and text.startswith("Filter column:"):
            translated = _("This field cannot be used as a filter")
        if translated is not None:
            body[key] = translated
            response.set_data(json.dumps(body, ensure_ascii=False))
    return response


def register(app) -> None:
    from flask_wtf.csrf import CSRFError

    app.after_request(_translate_api_error)

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
