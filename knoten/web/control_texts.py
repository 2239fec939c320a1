"""Texts of the live panel's safe controls and honest states (German first), merged into TEXTS:
what "Jetzt starten" and "Beenden" will do, moving a far date to now, resuming a date stopped by
mistake, what the camera is doing, the room microphone's level and a lost connection."""

from __future__ import annotations

CONTROL_TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "dialog_cancel": "Abbrechen",
        "start_confirm_title": "Jetzt starten?",
        "start_confirm_ok": "Starten",
        "start_move_ok": "Auf jetzt verschieben und starten",
        "start_too_early": "Dieser Termin beginnt erst am {day} um {time} Uhr. So früh lässt er "
        "sich nicht starten, ohne ihn zu verschieben: „Auf jetzt verschieben“ legt ihn auf "
        "jetzt (gleiche Dauer).",
        "start_what_camera": "Die Kamera im Raum „{room}“ geht auf Sendung ({source}).",
        "start_what_record": "Der Termin wird aufgezeichnet.",
        "start_what_no_record": "Es wird nicht aufgezeichnet.",
        "start_what_partners": "Partner erhalten die Übertragung: {names}.",
        "start_what_no_partners": "Kein Partner erhält die Übertragung.",
        "start_what_until": "Läuft bis {day}, {time} Uhr und endet dann von selbst.",
        "stop_confirm_ok": "Jetzt beenden",
        "stop_what": "Kamera, Aufzeichnung und Partner werden gestoppt; die Teilnehmenden sehen "
        "das Ende.",
        "stop_what_undo": "Aus Versehen beendet? Bis {time} Uhr lässt sich der Termin fortsetzen.",
        "resume": "Fortsetzen",
        "resume_hint": "Aus Versehen beendet? Bis {time} Uhr lässt sich der Termin fortsetzen "
        "(Kamera, Aufzeichnung und Partner laufen dann wieder).",
        "src_kind_testsrc": "Testbild",
        "camera_lost": "Kamera nicht erreichbar ({source}): Ersatzbild läuft",
        "camera_retry_in": "neuer Versuch in {s} s",
        "camera_retrying": "neuer Versuch läuft",
        "camera_error": "Meldung: {error}",
        "details": "Einzelheiten",
        "connection_lost": "Verbindung unterbrochen – Knoten ist nicht erreichbar. "
        "Die Seite versucht es weiter.",
        "audio_level": "Mikrofon im Raum",
        "audio_level_value": "{db} dB",
        "audio_silent": "Seit {s} s kein Ton vom Mikrofon im Raum – ist es eingeschaltet?",
        "preview_sound_on": "Ton an",
        "preview_sound_off": "Ton aus",
        "room_check_ok": "Kamera getestet: erreichbar, Bild {size} ({codec}).",
        "room_check_no_picture": "Kamera getestet: {address} ist erreichbar, liefert aber kein "
        "Bild.",
        "room_check_unreachable": "Kamera getestet: {address} ist nicht erreichbar – der Raum "
        "ist trotzdem gespeichert. Bitte Adresse, Netz und Zugangsdaten prüfen. Meldung: {error}",
    },
    "en": {
        "dialog_cancel": "Cancel",
        "start_confirm_title": "Start now?",
        "start_confirm_ok": "Start",
        "start_move_ok": "Move to now and start",
        "start_too_early": "This date begins only on {day} at {time}. It cannot be started this "
        "early without moving it: “Move to now” puts it at the present (same length).",
        "start_what_camera": "The camera in the room “{room}” goes on air ({source}).",
        "start_what_record": "The date is recorded.",
        "start_what_no_record": "Nothing is recorded.",
        "start_what_partners": "Partners receive the broadcast: {names}.",
        "start_what_no_partners": "No partner receives the broadcast.",
        "start_what_until": "Runs until {day}, {time} and then ends by itself.",
        "stop_confirm_ok": "Stop now",
        "stop_what": "Camera, recording and partners are stopped; participants see the end.",
        "stop_what_undo": "Stopped by mistake? The date can be resumed until {time}.",
        "resume": "Resume",
        "resume_hint": "Stopped by mistake? The date can be resumed until {time} (camera, "
        "recording and partners run again).",
        "src_kind_testsrc": "test pattern",
        "camera_lost": "Camera not reachable ({source}): stand-in picture on air",
        "camera_retry_in": "next try in {s} s",
        "camera_retrying": "trying again",
        "camera_error": "Message: {error}",
        "details": "Details",
        "connection_lost": "Connection lost – Knoten cannot be reached. The page keeps trying.",
        "audio_level": "Room microphone",
        "audio_level_value": "{db} dB",
        "audio_silent": "No sound from the room microphone for {s} s – is it switched on?",
        "preview_sound_on": "Sound on",
        "preview_sound_off": "Sound off",
        "room_check_ok": "Camera tested: reachable, picture {size} ({codec}).",
        "room_check_no_picture": "Camera tested: {address} is reachable but sends no picture.",
        "room_check_unreachable": "Camera tested: {address} cannot be reached – the room is "
        "saved anyway. Please check the address, network and credentials. Message: {error}",
    },
}
