"""Calendars: /api/calendars. Reading them is open to every role; changing them is an
admin's."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.runtime import current as runtime
from app.schemas.calendars import CalendarCreateSchema, CalendarSchema, CalendarUpdateSchema
from app.services import calendars as service

blp = Blueprint(
    "calendars",
    __name__,
    url_prefix="/api/calendars",
    description="Named sets of times when jobs must not run.",
)


@blp.route("")
class Calendars(MethodView):
    @blp.response(200, CalendarSchema(many=True))
    def get(self):
        """List calendars"""
        return service.list_calendars(runtime())

    @blp.arguments(
        CalendarCreateSchema(),
        example={
            "id": "bavaria", "name": "Bavarian holidays and weekends",
            "timezone": "Europe/Berlin", "dates": ["2026-12-24"],
            "holidays": {"country": "DE", "subdivision": "BY"},
            "windows": [{"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}],
        },
    )  # fmt: skip
    @blp.response(201, CalendarSchema)
    @blp.alt_response(409, description="The id is taken.")
    def post(self, data):
        """Make a calendar (admin)"""
        return service.create_calendar(runtime(), data)


@blp.route("/<string:calendar_id>")
class CalendarById(MethodView):
    @blp.response(200, CalendarSchema)
    @blp.alt_response(404, description="Unknown calendar.")
    def get(self, calendar_id):
        """Get a calendar"""
        return service.get_calendar(runtime(), calendar_id)

    @blp.arguments(CalendarUpdateSchema())
    @blp.response(200, CalendarSchema)
    @blp.alt_response(404, description="Unknown calendar.")
    def put(self, data, calendar_id):
        """Change the fields given (admin)"""
        return service.update_calendar(runtime(), calendar_id, data)

    @blp.response(204)
    @blp.alt_response(404, description="Unknown calendar.")
    @blp.alt_response(409, description="A job uses it (the error names the jobs).")
    def delete(self, calendar_id):
        """Delete a calendar no job uses (admin)"""
        service.delete_calendar(runtime(), calendar_id)
