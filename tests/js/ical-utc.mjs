// Reads an iCalendar document on stdin with Mozilla's ical.js (Thunderbird's parser) and prints
// {uid: UTC ISO start} as JSON. The document's own VTIMEZONEs are registered first, as
// Thunderbird does for a subscribed feed, so the times depend on their definitions alone.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const root = new ICAL.Component(ICAL.parse(readFileSync(0, "utf8")));
for (const vtimezone of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(new ICAL.Timezone(vtimezone));
}
const out = {};
for (const vevent of root.getAllSubcomponents("vevent")) {
  const event = new ICAL.Event(vevent);
  const start = event.startDate.convertToZone(ICAL.Timezone.utcTimezone);
  out[event.uid] = start.toString();
}
process.stdout.write(JSON.stringify(out));
