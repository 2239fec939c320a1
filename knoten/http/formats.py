"""JSON Schema formats for API fields that are text on the wire, so generated clients type them.

Timestamps are written by Knoten as RFC 3339 text with the offset of the seminar's time zone
(``2027-03-30T18:00:00+02:00``): a client reads the local wall time and the instant from one
value. Declared as ``str`` they would reach generated clients as plain strings; with
``format: date-time`` they become ``datetime`` values.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, WithJsonSchema

#: RFC 3339 date-time text (``YYYY-MM-DDTHH:MM:SS±HH:MM``) that Knoten writes itself.
DateTimeText = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]

#: How time zones are written everywhere in the API.
TIMEZONE_DESCRIPTION = "IANA time zone name, e.g. Europe/Berlin"
TimezoneName = Annotated[str, Field(description=TIMEZONE_DESCRIPTION, examples=["Europe/Berlin"])]
