"""How the pages word errors of the JSON API (static/dashboard/explain.js), the public error
pages and the share page, German first.

The API answers in English with stable codes; a page never shows those words. ``fl_<field>`` is
the label an error names, ``v_<kind>`` a validation type (with its limits, e.g. ``{le}``),
``c_<code>`` an error code and ``m_<kind>`` a known sentence of the schedule and media checks.
"""

from __future__ import annotations

ERROR_TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "fl_title": "Titel",
        "fl_description": "Beschreibung",
        "fl_host": "Kursleitung",
        "fl_room_id": "Raum",
        "fl_timezone": "Zeitzone",
        "fl_start": "Beginn",
        "fl_end": "Ende",
        "fl_recurrence": "Wiederholung",
        "fl_exdates": "Ausgelassene Termine",
        "fl_record": "Aufzeichnen",
        "fl_partner_ids": "Partner",
        "fl_lead_in_minutes": "Vorlauf (Minuten)",
        "fl_lead_out_minutes": "Nachlauf (Minuten)",
        "fl_name": "Name",
        "fl_source": "Kamera",
        "fl_url": "Ziel-Adresse",
        "fl_kind": "Art",
        "fl_profile": "Qualität",
        "fl_audio_only": "Nur Ton",
        "fl_enabled": "Aktiv",
        "fl_minutes": "Minuten",
        "fl_state": "Status",
        "fl_keep": "Behalten",
        "fl_q": "Suche",
        "fl_expires_in_hours": "Gültigkeit (Stunden)",
        "v_missing": "Bitte füllen Sie „{field}“ aus.",
        "v_extra_forbidden": "„{field}“ ist hier nicht vorgesehen.",
        "v_string_too_short": "„{field}“ braucht mindestens {min_length} Zeichen.",
        "v_string_too_long": "„{field}“ darf höchstens {max_length} Zeichen lang sein.",
        "v_too_long": "„{field}“ darf höchstens {max_length} Einträge haben.",
        "v_too_short": "„{field}“ braucht mindestens {min_length} Einträge.",
        "v_less_than_equal": "„{field}“ darf höchstens {le} sein.",
        "v_greater_than_equal": "„{field}“ muss mindestens {ge} sein.",
        "v_less_than": "„{field}“ muss kleiner als {lt} sein.",
        "v_greater_than": "„{field}“ muss größer als {gt} sein.",
        "v_int": "„{field}“ muss eine ganze Zahl sein.",
        "v_number": "„{field}“ muss eine Zahl sein.",
        "v_bool": "„{field}“ muss „ja“ oder „nein“ sein.",
        "v_text": "„{field}“ muss ein Text sein.",
        "v_datetime": "„{field}“ ist kein gültiges Datum mit Uhrzeit.",
        "v_choice": "„{field}“ hat keinen der möglichen Werte.",
        "v_list": "„{field}“ muss eine Liste sein.",
        "v_other": "Die Angabe „{field}“ wurde nicht angenommen. Bitte prüfen Sie sie.",
        "m_in_the_past": "Das Seminar liegt ganz in der Vergangenheit. Bitte ein künftiges Datum "
        "wählen.",
        "m_too_long_hours": "Ein Seminar darf höchstens {n} Stunden dauern.",
        "m_move_past": "Ein Termin kann nicht in die Vergangenheit verschoben werden.",
        "m_room_gone": "Diesen Raum gibt es nicht mehr. Bitte einen anderen Raum wählen.",
        "m_extend_minutes": "Bitte um eine ganze Zahl von Minuten größer als 0 verlängern.",
        "m_url_scheme": "Die Adresse in „{field}“ braucht am Anfang die Art der Übertragung, "
        "z. B. rtmp://, rtmps:// oder srt:// (für eine Kamera auch rtsp://).",
        "m_url_rtmp_path": "Nach der rtmp-Adresse fehlen Anwendung und Streamschlüssel, "
        "z. B. rtmp://server/live/SCHLÜSSEL.",
        "m_url_srt_port": "Eine srt-Adresse braucht eine Portnummer, z. B. srt://server:9000.",
        "m_url_empty": "Bitte eine Adresse eingeben.",
        "m_url_mask": "Die Adresse enthält noch die Sternchen der Anzeige. Bitte den echten "
        "Streamschlüssel eingeben.",
        "m_source_kinds": "Als Kamera sind möglich: „testsrc“ (Testbild), „srt-push“, „whip“, "
        "eine Adresse mit rtsp://, rtmp:// oder srt://, ein Gerät /dev/videoN oder eine Datei im "
        "Datenverzeichnis.",
        "m_source_outside": "Eine Videodatei als Kamera muss im Datenverzeichnis von Knoten "
        "liegen.",
        "m_first_date": "Das Datum muss der erste Termin der Regel sein; nach der Regel wäre das "
        "{n}. Bitte das Datum oder die Wochentage (BYDAY) anpassen.",
        "m_date_over": "Dieser Termin ist schon vorbei.",
        "m_not_running": "Dieser Termin läuft gerade nicht.",
        "c_invalid_recurrence": "Die Wiederholungsregel ist ungültig. Beispiel: "
        "FREQ=WEEKLY;BYDAY=DI;COUNT=10 (Wochentage MO DI MI DO FR SA SO).",
        "c_series_too_long": "Die Serie hätte zu viele Termine. Bitte weniger Termine oder ein "
        "früheres Ende wählen.",
        "c_invalid_timezone": "„{field}“ ist keine bekannte Zeitzone (z. B. Europe/Berlin).",
        "c_nonexistent_local_time": "Diese Uhrzeit gibt es an diesem Tag wegen der "
        "Zeitumstellung nicht. Bitte eine andere Uhrzeit wählen.",
        "c_invalid_media_url": "Die Adresse in „{field}“ wurde nicht angenommen. Bitte prüfen "
        "Sie Art (z. B. rtmp://), Server und Pfad.",
        "c_room_name_taken": "Es gibt schon einen Raum mit diesem Namen.",
        "c_room_in_use": "Der Raum hat noch Seminare und kann nicht gelöscht werden.",
        "c_partner_name_taken": "Es gibt schon einen Partner mit diesem Namen.",
        "c_invalid_occurrence_state": "Das ist in diesem Zustand des Termins nicht möglich. "
        "Bitte laden Sie die Seite neu.",
        "c_recording_busy": "Die Aufzeichnung wird gerade noch geschrieben oder fertiggestellt.",
        "c_not_found": "Das gibt es nicht (mehr). Bitte laden Sie die Seite neu.",
        "c_forbidden": "Das ist nicht erlaubt. Bitte laden Sie die Seite neu und melden Sie "
        "sich gegebenenfalls wieder an.",
        "c_busy": "Der Dienst ist gerade ausgelastet. Bitte gleich noch einmal versuchen.",
        "c_internal": "Im Dienst ist ein Fehler aufgetreten. Bitte versuchen Sie es erneut.",
        "c_bad_request": "Die Anfrage konnte nicht verarbeitet werden. Bitte laden Sie die "
        "Seite neu.",
        "c_not_live": "Der Termin läuft gerade nicht.",
        "c_unknown": "Das hat nicht geklappt. Bitte prüfen Sie die Angaben und versuchen Sie "
        "es erneut.",
        "error_detail": "Einzelheiten",
        "rr_disk_full": "Vorzeitig beendet: Der Speicherplatz wurde knapp.",
        "rr_restart": "Nach einem Neustart des Dienstes in derselben Aufzeichnung fortgesetzt.",
        "rr_resumed": "Der Termin wurde nach dem Beenden fortgesetzt: beide Teile sind in "
        "dieser Aufzeichnung, die Datei wurde dafür neu erstellt.",
        "rr_resumed_apart": "Der Termin wurde fortgesetzt, ließ sich aber nicht an diese "
        "Aufzeichnung anhängen: der zweite Teil ist eine eigene Aufzeichnung.",
        "rr_waiting": "Wartet auf freien Speicherplatz, um fertiggestellt zu werden.",
        "rr_failed": "Die Aufzeichnung ist fehlgeschlagen.",
        "o_refused": "Das Ziel nimmt keine Verbindung an.",
        "o_dns": "Den Server des Ziels gibt es unter diesem Namen nicht – bitte die Adresse des "
        "Partners prüfen.",
        "o_network": "Das Netz zum Ziel ist nicht erreichbar.",
        "o_timeout": "Das Ziel antwortet nicht.",
        "o_refused_key": "Das Ziel lehnt die Übertragung ab – bitte den Streamschlüssel des "
        "Partners prüfen.",
        "o_dropped": "Das Ziel hat die Verbindung getrennt.",
        "o_broken": "Die Übertragung an dieses Ziel ist abgebrochen.",
        "o_retrying": "Knoten versucht es von selbst erneut.",
        "o_gave_up": "Knoten hat es aufgegeben; die anderen Ziele und die Aufzeichnung laufen "
        "weiter.",
        "page_home": "Zur Startseite",
        "page_not_found_title": "Seite nicht gefunden",
        "page_not_found_text": "Diese Adresse gibt es bei Knoten nicht. Bitte prüfen Sie, ob der "
        "Link vollständig ist, oder beginnen Sie auf der Startseite.",
        "page_share_unknown_title": "Aufzeichnung nicht gefunden",
        "page_share_unknown_text": "Zu diesem Freigabe-Link gibt es keine Aufzeichnung. Bitte "
        "prüfen Sie, ob der Link vollständig kopiert wurde, oder fragen Sie die Bibliothek nach "
        "einem neuen Link.",
        "share_recorded_on": "Aufgezeichnet am",
        "share_cannot_play": "Ihr Browser kann dieses Video nicht abspielen.",
        "share_download_short": "Herunterladen",
        "share_download": "Video herunterladen (MP4)",
        "share_valid_until": "Dieser Link gilt bis",
        "page_share_expired_title": "Freigabe-Link abgelaufen",
        "page_share_expired_text": "Dieser Freigabe-Link gilt nicht mehr. Die Bibliothek kann "
        "Ihnen einen neuen Link schicken.",
    },
    "en": {
        "fl_title": "Title",
        "fl_description": "Description",
        "fl_host": "Host",
        "fl_room_id": "Room",
        "fl_timezone": "Time zone",
        "fl_start": "Start",
        "fl_end": "End",
        "fl_recurrence": "Repeat",
        "fl_exdates": "Left-out dates",
        "fl_record": "Record",
        "fl_partner_ids": "Partners",
        "fl_lead_in_minutes": "Lead-in (minutes)",
        "fl_lead_out_minutes": "Lead-out (minutes)",
        "fl_name": "Name",
        "fl_source": "Camera",
        "fl_url": "Destination address",
        "fl_kind": "Kind",
        "fl_profile": "Quality",
        "fl_audio_only": "Audio only",
        "fl_enabled": "Active",
        "fl_minutes": "Minutes",
        "fl_state": "State",
        "fl_keep": "Keep",
        "fl_q": "Search",
        "fl_expires_in_hours": "Valid for (hours)",
        "v_missing": "Please fill in “{field}”.",
        "v_extra_forbidden": "“{field}” is not expected here.",
        "v_string_too_short": "“{field}” needs at least {min_length} characters.",
        "v_string_too_long": "“{field}” may be at most {max_length} characters long.",
        "v_too_long": "“{field}” may have at most {max_length} entries.",
        "v_too_short": "“{field}” needs at least {min_length} entries.",
        "v_less_than_equal": "“{field}” may be at most {le}.",
        "v_greater_than_equal": "“{field}” must be at least {ge}.",
        "v_less_than": "“{field}” must be less than {lt}.",
        "v_greater_than": "“{field}” must be more than {gt}.",
        "v_int": "“{field}” must be a whole number.",
        "v_number": "“{field}” must be a number.",
        "v_bool": "“{field}” must be yes or no.",
        "v_text": "“{field}” must be text.",
        "v_datetime": "“{field}” is not a valid date and time.",
        "v_choice": "“{field}” has none of the possible values.",
        "v_list": "“{field}” must be a list.",
        "v_other": "“{field}” was not accepted. Please check it.",
        "m_in_the_past": "The seminar lies entirely in the past. Please choose a future date.",
        "m_too_long_hours": "A seminar may last at most {n} hours.",
        "m_move_past": "A date cannot be moved into the past.",
        "m_room_gone": "This room no longer exists. Please choose another room.",
        "m_extend_minutes": "Please extend by a whole number of minutes above 0.",
        "m_url_scheme": "The address in “{field}” needs its kind at the start, e.g. rtmp://, "
        "rtmps:// or srt:// (for a camera also rtsp://).",
        "m_url_rtmp_path": "The rtmp address lacks the application and stream key, e.g. "
        "rtmp://server/live/KEY.",
        "m_url_srt_port": "An srt address needs a port number, e.g. srt://server:9000.",
        "m_url_empty": "Please enter an address.",
        "m_url_mask": "The address still holds the asterisks of the display. Please enter the "
        "real stream key.",
        "m_source_kinds": "A camera can be “testsrc” (test pattern), “srt-push”, “whip”, an "
        "rtsp://, rtmp:// or srt:// address, a /dev/videoN device or a file in the data "
        "directory.",
        "m_source_outside": "A video file used as camera must lie in Knoten's data directory.",
        "m_first_date": "The date must be the rule's first date; by the rule that would be {n}. "
        "Please change the date or the weekdays (BYDAY).",
        "m_date_over": "This date is over.",
        "m_not_running": "This date is not running.",
        "c_invalid_recurrence": "The repeat rule is not valid. Example: "
        "FREQ=WEEKLY;BYDAY=TU;COUNT=10.",
        "c_series_too_long": "The series would have too many dates. Please choose fewer dates "
        "or an earlier end.",
        "c_invalid_timezone": "“{field}” is not a known time zone (e.g. Europe/Berlin).",
        "c_nonexistent_local_time": "This time does not exist on that day (clock change). "
        "Please choose another time.",
        "c_invalid_media_url": "The address in “{field}” was not accepted. Please check its kind "
        "(e.g. rtmp://), server and path.",
        "c_room_name_taken": "There is already a room with this name.",
        "c_room_in_use": "The room still has seminars and cannot be deleted.",
        "c_partner_name_taken": "There is already a partner with this name.",
        "c_invalid_occurrence_state": "This is not possible in the date's current state. "
        "Please reload the page.",
        "c_recording_busy": "The recording is still being written or finished.",
        "c_not_found": "This does not exist (any more). Please reload the page.",
        "c_forbidden": "This is not allowed. Please reload the page and sign in again if asked.",
        "c_busy": "The service is busy. Please try again in a moment.",
        "c_internal": "The service ran into an error. Please try again.",
        "c_bad_request": "The request could not be processed. Please reload the page.",
        "c_not_live": "The date is not running.",
        "c_unknown": "That did not work. Please check what you entered and try again.",
        "error_detail": "Details",
        "rr_disk_full": "Closed early: the disk was almost full.",
        "rr_restart": "Continued in the same recording after a service restart.",
        "rr_resumed": "The date was resumed after a stop: both parts are in this recording, "
        "its file was made anew for that.",
        "rr_resumed_apart": "The date was resumed but could not be added to this recording: "
        "its second part is a recording of its own.",
        "rr_waiting": "Waiting for disk space to be finished.",
        "rr_failed": "The recording failed.",
        "o_refused": "The destination accepts no connection.",
        "o_dns": "There is no server of that name – please check the partner's address.",
        "o_network": "The network to the destination cannot be reached.",
        "o_timeout": "The destination does not answer.",
        "o_refused_key": "The destination refuses the stream – please check the partner's "
        "stream key.",
        "o_dropped": "The destination closed the connection.",
        "o_broken": "Sending to this destination broke off.",
        "o_retrying": "Knoten tries again by itself.",
        "o_gave_up": "Knoten gave up; the other destinations and the recording go on.",
        "page_home": "To the start page",
        "page_not_found_title": "Page not found",
        "page_not_found_text": "This address does not exist at Knoten. Please check that the link "
        "is complete, or begin on the start page.",
        "page_share_unknown_title": "Recording not found",
        "page_share_unknown_text": "There is no recording for this share link. Please check that "
        "the whole link was copied, or ask the library for a new one.",
        "share_recorded_on": "Recorded on",
        "share_cannot_play": "Your browser cannot play this video.",
        "share_download_short": "Download",
        "share_download": "Download the video (MP4)",
        "share_valid_until": "This link is valid until",
        "page_share_expired_title": "Share link expired",
        "page_share_expired_text": "This share link is no longer valid. The library can send you "
        "a new one.",
    },
}
