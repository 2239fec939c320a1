// Errors of the JSON API in the page's language. The API keeps its English messages, codes and
// fields (scripts read those); the pages word an error from its code, the validation ``type`` and
// its ``ctx`` limits, naming the field with the label the form shows. What the service itself
// said stays available as ``detail`` (shown on demand, never instead of the sentence).

let zone = "Europe/Berlin";

/** The time zone conflict times are shown in (the room's; the live panel sets it). */
export function setZone(timeZone) {
  if (timeZone) zone = timeZone;
}

const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));

function fieldLabel(T, field) {
  if (!field) return "";
  const name = String(field).split(".")[0];
  return T[`fl_${name}`] || name;
}

const VALIDATION_TYPES = {
  missing: "v_missing",
  extra_forbidden: "v_extra_forbidden",
  string_too_short: "v_string_too_short",
  string_too_long: "v_string_too_long",
  too_long: "v_too_long",
  too_short: "v_too_short",
  less_than_equal: "v_less_than_equal",
  greater_than_equal: "v_greater_than_equal",
  less_than: "v_less_than",
  greater_than: "v_greater_than",
  int_parsing: "v_int",
  int_type: "v_int",
  int_from_float: "v_int",
  float_parsing: "v_number",
  float_type: "v_number",
  bool_parsing: "v_bool",
  bool_type: "v_bool",
  string_type: "v_text",
  datetime_parsing: "v_datetime",
  datetime_from_date_parsing: "v_datetime",
  datetime_type: "v_datetime",
  literal_error: "v_choice",
  enum: "v_choice",
  list_type: "v_list",
};

// Sentences of the schedule and media checks that come with the generic code
// ``validation_error`` or ``invalid_media_url``: matched on the service's English words.
const KNOWN_MESSAGES = [
  [/lies (entirely )?in the past/, "m_in_the_past"],
  [/end must be after the start/, "e_end_before_start"],
  [/may last at most (\d+) hours/, "m_too_long_hours"],
  [/into the past/, "m_move_past"],
  [/room \d+ does not exist/, "m_room_gone"],
  [/positive whole number of minutes/, "m_extend_minutes"],
  [/needs a scheme|is not allowed here|needs an? .* URL/, "m_url_scheme"],
  [/needs an application and stream key/, "m_url_rtmp_path"],
  [/srt URL needs a port/, "m_url_srt_port"],
  [/URL is empty/, "m_url_empty"],
  [/contains the mask/, "m_url_mask"],
  [/cannot start an occurrence that is over|extend an occurrence that is over/, "m_date_over"],
  [/only a running occurrence can be stopped/, "m_not_running"],
  [/source must be 'testsrc'/, "m_source_kinds"],
  [/must be the first occurrence of the rule, which is \w+ (\d{4}-\d{2}-\d{2})/, "m_first_date", "day"],
  [/inside the data directory|may not contain '\.\.'/, "m_source_outside"],
];

const CODES = {
  invalid_recurrence: "c_invalid_recurrence",
  series_too_long: "c_series_too_long",
  invalid_timezone: "c_invalid_timezone",
  nonexistent_local_time: "c_nonexistent_local_time",
  invalid_media_url: "c_invalid_media_url",
  invalid_partner: "c_invalid_media_url",
  room_name_taken: "c_room_name_taken",
  room_in_use: "c_room_in_use",
  partner_name_taken: "c_partner_name_taken",
  invalid_occurrence_state: "c_invalid_occurrence_state",
  recording_busy: "c_recording_busy",
  recording_not_available: "c_recording_busy",
  not_found: "c_not_found",
  room_not_found: "c_not_found",
  seminar_not_found: "c_not_found",
  occurrence_not_found: "c_not_found",
  partner_not_found: "c_not_found",
  recording_not_found: "c_not_found",
  forbidden: "c_forbidden",
  unavailable: "c_busy",
  busy: "c_busy",
  too_many_requests: "c_busy",
  internal_error: "c_internal",
  malformed_json: "c_bad_request",
  bad_request: "c_bad_request",
  payload_too_large: "c_bad_request",
  not_live: "c_not_live",
};

// The page's locale: dates in a sentence read as the page's language does.
const LOCALE = document.documentElement.lang === "en" ? "en-GB" : "de-DE";

function known(T, message, field) {
  for (const [pattern, key, kind] of KNOWN_MESSAGES) {
    const match = pattern.exec(message || "");
    if (!match || !T[key]) continue;
    // A calendar day from the message ("2027-03-16") is written out: "Dienstag, 16. März 2027".
    const n = kind === "day" ? day(match[1]) : match[1];
    return fill(T[key], { field: fieldLabel(T, field), n });
  }
  return null;
}

function day(isoDay) {
  const options = { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" };
  return new Intl.DateTimeFormat(LOCALE, options).format(new Date(`${isoDay}T12:00:00Z`));
}

function clock(iso, options) {
  try {
    return new Intl.DateTimeFormat(LOCALE, { ...options, timeZone: zone }).format(new Date(iso));
  } catch {
    return iso;
  }
}

/** The clash of a 409 ``seminar_conflict`` in the room's local time. */
function conflict(T, details) {
  const clash = details?.[0]?.existing;
  if (!clash || !T.e_conflict) return null;
  const text = fill(T.e_conflict, {
    title: clash.title,
    date: clock(clash.start, { weekday: "short", day: "numeric", month: "long", year: "numeric" }),
    start: clock(clash.start, { hour: "2-digit", minute: "2-digit" }),
    end: clock(clash.end, { hour: "2-digit", minute: "2-digit" }),
  });
  const more = details.length - 1;
  return more > 0 ? `${text} (${fill(T.e_conflict_more, { n: more })})` : text;
}

/** One entry of ``error.details`` (or the error itself) as a sentence. */
export function explainDetail(T, detail, code = "validation_error") {
  const label = fieldLabel(T, detail.field);
  const typeKey = VALIDATION_TYPES[detail.type];
  if (typeKey && T[typeKey]) return fill(T[typeKey], { field: label, ...(detail.ctx || {}) });
  const sentence = known(T, detail.message, detail.field);
  if (sentence) return sentence;
  const codeKey = CODES[code];
  if (codeKey && T[codeKey]) return fill(T[codeKey], { field: label });
  return label && T.v_other ? fill(T.v_other, { field: label }) : T.c_unknown || detail.message;
}

/** The whole error as one sentence for a notice. */
export function explain(T, status, error) {
  if (error.code === "seminar_conflict") {
    const text = conflict(T, error.details);
    if (text) return text;
  }
  if (error.details?.length && error.details[0].type) return explainDetail(T, error.details[0], error.code);
  if (error.code === "network" || error.code === "unauthorized") return error.message;
  const sentence = known(T, error.message, error.field);
  if (sentence) return sentence;
  const codeKey = CODES[error.code] || (status === 404 ? "c_not_found" : status >= 500 ? "c_internal" : null);
  if (codeKey && T[codeKey]) return fill(T[codeKey], { field: fieldLabel(T, error.field) });
  if (error.field) return explainDetail(T, { field: error.field, message: error.message }, error.code);
  return T.c_unknown || error.message || `HTTP ${status}`;
}

// What FFmpeg said when a partner output broke ("Connection refused … Conversion failed!"),
// as a sentence a host understands; the raw lines stay available as the detail.
const OUTPUT_PROBLEMS = [
  [/connection refused/i, "o_refused"],
  [/resolve|name or service not known|no address associated/i, "o_dns"],
  [/network is unreachable|no route to host/i, "o_network"],
  [/timed out|timeout|stale|no progress/i, "o_timeout"],
  [/\b40[13]\b|unauthori[sz]ed|forbidden|authenticat|publish.*(denied|refused)/i, "o_refused_key"],
  [/broken pipe|connection reset|end of file|input\/output error/i, "o_dropped"],
];

/** A sentence for an output's ``last_error`` and ``state`` (retrying or failed). */
export function explainOutput(T, lastError, state) {
  const match = OUTPUT_PROBLEMS.find(([pattern]) => pattern.test(lastError || ""));
  const what = T[match ? match[1] : "o_broken"] || lastError;
  const next = T[state === "failed" ? "o_gave_up" : "o_retrying"] || "";
  return `${what} ${next}`.trim();
}

// Why a recording is in the state it is (the catalog's ``reason``), as a sentence.
const RECORDING_REASONS = [
  [/disk almost full/i, "rr_disk_full"],
  [/continued after a service restart/i, "rr_restart"],
  [/its rest is a separate recording/i, "rr_resumed_apart"],
  [/the date was resumed/i, "rr_resumed"],
  [/waiting for disk space/i, "rr_waiting"],
];

/** A recording's ``reason`` in the page's language (anything else: it failed). */
export function explainReason(T, reason) {
  if (!reason) return "";
  const match = RECORDING_REASONS.find(([pattern]) => pattern.test(reason));
  return T[match ? match[1] : "rr_failed"] || reason;
}
