"""The web UI's blueprint: pages under /ui, its templates and static files."""

from flask import Blueprint
from flask_wtf.csrf import CSRFProtect

bp = Blueprint(
    "ui",
    __name__,
    url_prefix="/ui",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: Flask-WTF's CSRF protection, applied to the UI's forms only (app/ui/auth.py).
csrf = CSRFProtect()
