"""Words of the conversation panel (static/chat.js) and of the recording notice, German first.

Error codes from the server are shown as ``chat_<code>``; every code the conversation can send
has a sentence here (a test walks them).
"""

from __future__ import annotations

CHAT_TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "chat_title": "Chat und Fragen",
        "chat_questions_title": "Fragen",
        "chat_name_label": "Ihr Name im Chat",
        "chat_placeholder": "Nachricht (höchstens 500 Zeichen)",
        "chat_send": "Senden",
        "chat_as_question": "als Frage",
        "chat_question": "Frage",
        "chat_votes": "Stimmen",
        "chat_vote_one": "Stimme",
        "chat_messages_title": "Chat",
        "chat_vote_button": "+1",
        "chat_voted_button": "✓ abgestimmt",
        "chat_state_answering": "wird gerade beantwortet",
        "chat_state_answered": "beantwortet",
        "chat_state_open": "offen",
        "chat_now_answering": "Jetzt beantwortet",
        "chat_host": "Kursleitung",
        "chat_mode_label": "Chat",
        "chat_mode_open": "offen für alle",
        "chat_mode_questions": "nur Fragen",
        "chat_mode_off": "aus",
        "chat_hide": "Ausblenden",
        "chat_mark_answering": "Jetzt beantworten",
        "chat_mark_answered": "Beantwortet",
        "chat_mute": "Stummschalten",
        "chat_unmute": "Wieder zulassen",
        "chat_participants": "Teilnehmende",
        "chat_offline": "Keine Verbindung – die Nachricht wurde nicht gesendet.",
        "chat_reconnecting": "Verbindung unterbrochen – verbinde erneut …",
        "chat_consent_first": "Bitte bestätigen Sie zuerst den Hinweis oben, um mitzuschreiben.",
        "chat_consent_button": "Verstanden – ich möchte mitschreiben",
        "chat_closed": "Der Chat dieses Termins ist geschlossen.",
        "chat_invalid": "Das konnte nicht verarbeitet werden.",
        "chat_empty": "Die Nachricht ist leer.",
        "chat_too_long": "Die Nachricht ist zu lang (höchstens 500 Zeichen).",
        "chat_invalid_name": "Bitte einen Namen mit 1 bis 40 Zeichen angeben.",
        "chat_consent_required": "Bitte bestätigen Sie zuerst den Hinweis zur Aufzeichnung.",
        "chat_muted": "Die Kursleitung hat Ihren Chat stummgeschaltet.",
        "chat_chat_off": "Der Chat ist gerade ausgeschaltet.",
        "chat_questions_only": "Gerade sind nur Fragen möglich.",
        "chat_rate_limited": "Bitte etwas langsamer – höchstens eine Nachricht pro Sekunde.",
        "chat_answered": "Diese Frage ist schon beantwortet.",
        "chat_voted": "Sie haben für diese Frage schon abgestimmt.",
        "chat_not_a_question": "Das ist keine Frage.",
        "chat_no_such_message": "Diese Nachricht gibt es nicht mehr.",
        "chat_no_such_participant": "Diese Person nimmt nicht teil.",
        "chat_not_allowed": "Das ist hier nicht erlaubt.",
        "chat_removed": "Sie wurden von diesem Termin entfernt.",
        "chat_full": "Der Chat ist voll. Sie können weiter zuschauen.",
        "chat_hello_expected": "Die Verbindung wurde abgelehnt.",
        "chat_unknown": "Diese Veranstaltung gibt es nicht.",
        "chat_already_on_stage": "Sie sind schon auf der Bühne.",
        "chat_hands_full": (
            "Gerade haben sich schon 25 Personen gemeldet. Bitte später noch einmal."
        ),
        "chat_stage_full": "Auf der Bühne ist kein Platz mehr (höchstens 4 Personen).",
        "chat_not_connected": "Diese Person ist gerade nicht verbunden.",
        "chat_not_a_participant": "Diese Seite ist keiner Teilnahme zugeordnet.",
        "floor_hand_raise": "✋ Hand heben",
        "floor_hand_lower": "Hand senken",
        "floor_hands": "Meldungen",
        "floor_stage": "Auf der Bühne",
        "floor_nobody": "niemand",
        "floor_on_stage": "Sie sind jetzt zu hören.",
        "floor_invited": "Die Kursleitung hat Sie auf die Bühne geholt.",
        "floor_leave_stage": "Bühne verlassen",
        "floor_mic_denied": "Das Mikrofon wurde nicht freigegeben – so kann Sie niemand hören.",
        "floor_publish_failed": (
            "Ihr Mikrofon konnte nicht verbunden werden – bitte erneut versuchen."
        ),
        "floor_allow": "Auf die Bühne",
        "floor_off": "Von der Bühne",
        "floor_remove": "Entfernen",
        "floor_remove_confirm": (
            "{name} von diesem Termin entfernen? Die Person kann mit "
            "diesem Browser nicht wieder teilnehmen."
        ),
        "floor_hand": "✋",
        "floor_hear": "Sprechende hier hören",
        "floor_hear_stop": "Nicht mehr hören",
    },
    "en": {
        "chat_title": "Chat and questions",
        "chat_questions_title": "Questions",
        "chat_name_label": "Your name in the chat",
        "chat_placeholder": "Message (500 characters at most)",
        "chat_send": "Send",
        "chat_as_question": "as a question",
        "chat_question": "Question",
        "chat_votes": "votes",
        "chat_vote_one": "vote",
        "chat_messages_title": "Chat",
        "chat_vote_button": "+1",
        "chat_voted_button": "✓ voted",
        "chat_state_answering": "being answered",
        "chat_state_answered": "answered",
        "chat_state_open": "open",
        "chat_now_answering": "Now answering",
        "chat_host": "host",
        "chat_mode_label": "Chat",
        "chat_mode_open": "open to all",
        "chat_mode_questions": "questions only",
        "chat_mode_off": "off",
        "chat_hide": "Hide",
        "chat_mark_answering": "Answer now",
        "chat_mark_answered": "Answered",
        "chat_mute": "Mute",
        "chat_unmute": "Allow again",
        "chat_participants": "Participants",
        "chat_offline": "No connection – the message was not sent.",
        "chat_reconnecting": "Connection lost – reconnecting …",
        "chat_consent_first": "Please acknowledge the notice above to write.",
        "chat_consent_button": "Understood – I want to write",
        "chat_closed": "The chat of this date is closed.",
        "chat_invalid": "That could not be processed.",
        "chat_empty": "The message is empty.",
        "chat_too_long": "The message is too long (500 characters at most).",
        "chat_invalid_name": "Please give a name of 1 to 40 characters.",
        "chat_consent_required": "Please acknowledge the recording notice first.",
        "chat_muted": "The host has muted your chat.",
        "chat_chat_off": "The chat is switched off right now.",
        "chat_questions_only": "Only questions right now.",
        "chat_rate_limited": "A little slower, please – one message per second at most.",
        "chat_answered": "This question has been answered already.",
        "chat_voted": "You have voted for this question already.",
        "chat_not_a_question": "That is not a question.",
        "chat_no_such_message": "This message is gone.",
        "chat_no_such_participant": "This person is not taking part.",
        "chat_not_allowed": "That is not allowed here.",
        "chat_removed": "You have been removed from this date.",
        "chat_full": "The chat is full. You can keep watching.",
        "chat_hello_expected": "The connection was refused.",
        "chat_unknown": "This event does not exist.",
        "chat_already_on_stage": "You are on stage already.",
        "chat_hands_full": "25 people have raised a hand already. Please try again later.",
        "chat_stage_full": "The stage is full (4 people at most).",
        "chat_not_connected": "This person is not connected right now.",
        "chat_not_a_participant": "This page belongs to no participant.",
        "floor_hand_raise": "✋ Raise hand",
        "floor_hand_lower": "Lower hand",
        "floor_hands": "Raised hands",
        "floor_stage": "On stage",
        "floor_nobody": "nobody",
        "floor_on_stage": "You can be heard now.",
        "floor_invited": "The host has invited you on stage.",
        "floor_leave_stage": "Leave the stage",
        "floor_mic_denied": "The microphone was not allowed – nobody can hear you.",
        "floor_publish_failed": "Your microphone could not be connected – please try again.",
        "floor_allow": "On stage",
        "floor_off": "Off stage",
        "floor_remove": "Remove",
        "floor_remove_confirm": (
            "Remove {name} from this date? They cannot take part again from this browser."
        ),
        "floor_hand": "✋",
        "floor_hear": "Hear the speakers here",
        "floor_hear_stop": "Stop hearing them",
    },
}


def recording_notice(lang: str, recorded: bool, partners: tuple[str, ...]) -> str | None:
    """ "Diese Veranstaltung wird aufgezeichnet und an … übertragen", or None when neither."""
    names = ", ".join(partners)
    if lang == "en":
        if recorded and partners:
            return f"This event is recorded and broadcast to {names}."
        if recorded:
            return "This event is recorded."
        return f"This event is broadcast to {names}." if partners else None
    if recorded and partners:
        return f"Diese Veranstaltung wird aufgezeichnet und an {names} übertragen."
    if recorded:
        return "Diese Veranstaltung wird aufgezeichnet."
    return f"Diese Veranstaltung wird an {names} übertragen." if partners else None
