"""POST /api/notifications/test: send a test message to a URL."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.runtime import current as runtime
from app.schemas.notifications import NotificationTestResultSchema, NotificationTestSchema
from app.services import notifications as service

blp = Blueprint(
    "notifications", __name__, url_prefix="/api/notifications", description="Notifications."
)


@blp.route("/test")
class NotificationTest(MethodView):
    @blp.arguments(NotificationTestSchema(), example={"url": "https://example.com/hook"})
    @blp.response(200, NotificationTestResultSchema)
    @blp.alt_response(422, description="Not a URL a notification can go to.")
    @blp.alt_response(502, description="The receiver did not take the message.")
    def post(self, data):
        """Send a test message now, and answer with the receiver's result"""
        delivery = service.send_test(runtime(), data["url"])
        return {
            "url": service.masked_url(data["url"]),
            "delivered": delivery.ok,
            "detail": delivery.detail,
            "status_code": delivery.status_code,
        }
