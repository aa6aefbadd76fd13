"""/docs/assets/: Swagger UI's files, as the swagger-ui-bundle package ships them, so that
/docs works on a machine with no internet and shows the version pinned in setup.cfg."""

from flask import Blueprint, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

blp = Blueprint("docs_assets", __name__)


@blp.route("/docs/assets/<path:filename>")
def asset(filename: str) -> Response:
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
