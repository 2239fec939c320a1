"""Page texts of sign-in, first set-up and accounts (German first), merged into TEXTS."""

from __future__ import annotations

ACCOUNT_TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "signin_intro": "Melden Sie sich mit Ihrem Benutzernamen und Passwort an. Ein Konto "
        "legt das Team der Bibliothek für Sie an.",
        "signin_username": "Benutzername",
        "signin_password": "Passwort",
        "signin_wrong": "Benutzername oder Passwort stimmt nicht. Bitte prüfen Sie die Eingabe.",
        "signin_throttled": "Zu viele Fehlversuche. Bitte warten Sie {seconds} Sekunden und "
        "versuchen Sie es dann erneut.",
        "signin_no_account": "Knoten ist noch nicht eingerichtet. Den Einrichtungslink zeigt "
        "der Befehl „knoten serve“ (oder „make run“) beim Start auf dem Server an.",
        "start_signin": "Zur Anmeldung",
        "start_setup": "Knoten ist noch nicht eingerichtet: Den Einrichtungslink mit dem "
        "einmaligen Code zeigt „knoten serve“ beim Start auf dem Server an.",
        "setup_title": "Knoten einrichten",
        "setup_intro": "Legen Sie das erste Konto für das Team der Bibliothek an. Mit ihm "
        "legen Sie danach weitere Konten und Bildungsträger an.",
        "setup_display_name": "Ihr Name",
        "setup_password_repeat": "Passwort wiederholen",
        "setup_password_hint": "Mindestens 10 Zeichen.",
        "setup_passwords_differ": "Die beiden Passwörter sind verschieden.",
        "setup_invalid": "Dieser Einrichtungslink gilt nicht (mehr). Knoten ist schon "
        "eingerichtet, oder der Code ist falsch. Melden Sie sich an.",
        "setup_submit": "Konto anlegen und anmelden",
        "signed_in_as": "Angemeldet als",
        "nav_providers": "Bildungsträger",
        "state_requested": "angefragt",
        "series_link": "Ein Teilnahme-Link für alle Termine",
        "series_link_hint": "Öffnet immer den laufenden oder den nächsten Termin dieses "
        "Seminars. Die Links der einzelnen Termine gelten weiter.",
        "nav_audit": "Protokoll",
        "audit_title": "Protokoll",
        "audit_intro": "Wer hat wann was angelegt, geändert, gestartet, beendet oder gelöscht. "
        "Einträge bleiben ein Jahr.",
        "audit_action": "Aktion",
        "audit_object": "Objekt",
        "audit_when": "Wann",
        "audit_who": "Wer",
        "audit_filter": "Filtern",
        "audit_none": "Keine Einträge.",
        "nav_my_dates": "Meine Termine",
        "my_dates_title": "Meine Termine",
        "my_dates_no_partner": "Dieses Konto gehört zu keinem Partner.",
        "my_dates_intro_hls": "Ihre kommenden Termine mit der genauen Abruf-Adresse (HLS) für "
        "jeden Termin. Jede Adresse gilt nur im angegebenen Zeitraum: vom Vorlauf bis 15 Minuten "
        "nach dem Ende.",
        "my_dates_intro_push": "Ihre kommenden Termine. Knoten sendet zu diesen Zeiten an die "
        "Adresse, die die Bibliothek für Sie eingetragen hat.",
        "my_dates_feed": "Kalender-Abo Ihrer Termine (iCal)",
        "my_dates_when": "Termin",
        "my_dates_window": "Adresse gültig",
        "my_dates_pull": "Abruf-Adresse",
        "my_dates_none": "Zurzeit sind keine Termine geplant.",
        "request_title": "Angefragt",
        "request_text_host": "Diese Buchung ist angefragt: Sie hält den Raum frei, geht aber "
        "erst live, wenn die Bibliothek sie bestätigt hat.",
        "request_text_staff": "Ein Bildungsträger fragt diese Termine an. Sie halten den Raum "
        "frei, bis Sie bestätigen oder ablehnen.",
        "request_confirm": "Bestätigen",
        "request_decline": "Ablehnen",
        "request_decline_confirm": "Die Anfrage ablehnen? Die Termine werden gelöscht, der Raum "
        "ist wieder frei.",
        "request_confirmed": "Bestätigt: Die Termine sind geplant.",
        "request_declined": "Abgelehnt.",
        "series_link_invalid": "Dieser Teilnahme-Link ist nicht gültig. Bitte nutzen Sie den "
        "Link, den Sie bekommen haben.",
        "series_link_gone": "Diese Veranstaltung gibt es nicht mehr.",
        "providers_title": "Bildungsträger",
        "providers_intro": "Bildungsträger buchen den Raum. Ihre Hosts planen, starten und "
        "beenden nur die eigenen Seminare und sehen nur deren Aufzeichnungen; Partner sehen "
        "ihre Termine.",
        "provider_contact": "Ansprechperson",
        "provider_contact_hint": "Name, E-Mail oder Telefon.",
        "provider_hosts": "Hosts",
        "provider_partners": "Partner",
        "provider_new": "Neuer Bildungsträger",
        "provider_delete_confirm": "Den Bildungsträger „{name}“ löschen?",
        "provider_direct": "Darf direkt buchen",
        "provider_direct_short": "Direkt buchen",
        "provider_direct_hint": "Sonst sind Buchungen der Hosts Anfragen, die die Bibliothek "
        "bestätigt.",
        "account_partner": "Partner (Sendeziel)",
        "account_new": "Neues Konto",
        "account_role": "Rolle",
        "role_staff": "Mitarbeitende der Bibliothek (alles)",
        "role_host": "Host eines Bildungsträgers",
        "role_partner": "Partner (sieht seine Termine)",
        "account_provider": "Bildungsträger",
        "account_password": "Erstes Passwort",
        "account_password_hint": "Mindestens 10 Zeichen. Geben Sie es der Person persönlich.",
        "account_create": "Konto anlegen",
        "account_created": "Konto „{name}“ angelegt.",
    },
    "en": {
        "signin_intro": "Sign in with your user name and password. The library's team creates "
        "your account.",
        "signin_username": "User name",
        "signin_password": "Password",
        "signin_wrong": "User name or password is not right. Please check what you typed.",
        "signin_throttled": "Too many failed attempts. Please wait {seconds} seconds and try "
        "again.",
        "signin_no_account": "Knoten is not set up yet. The set-up link is shown by "
        "'knoten serve' (or 'make run') on the server when it starts.",
        "start_signin": "Sign in",
        "start_setup": "Knoten is not set up yet: 'knoten serve' shows the set-up link with the "
        "one-time code on the server when it starts.",
        "setup_title": "Set up Knoten",
        "setup_intro": "Create the first account for the library's team. With it you then "
        "create further accounts and providers.",
        "setup_display_name": "Your name",
        "setup_password_repeat": "Repeat the password",
        "setup_password_hint": "At least 10 characters.",
        "setup_passwords_differ": "The two passwords differ.",
        "setup_invalid": "This set-up link is not valid (any more). Knoten is set up already, "
        "or the code is wrong. Please sign in.",
        "setup_submit": "Create the account and sign in",
        "signed_in_as": "Signed in as",
        "nav_providers": "Providers",
        "state_requested": "requested",
        "series_link": "One join link for all dates",
        "series_link_hint": "Always opens the current or next date of this seminar. The links "
        "of the single dates keep working.",
        "nav_audit": "Audit log",
        "audit_title": "Audit log",
        "audit_intro": "Who created, changed, started, stopped or deleted what, and when. "
        "Entries are kept for a year.",
        "audit_action": "Action",
        "audit_object": "Object",
        "audit_when": "When",
        "audit_who": "Who",
        "audit_filter": "Filter",
        "audit_none": "No entries.",
        "nav_my_dates": "My dates",
        "my_dates_title": "My dates",
        "my_dates_no_partner": "This account belongs to no partner.",
        "my_dates_intro_hls": "Your coming dates with the exact pull address (HLS) for each. "
        "Each address is valid only in the period shown: from the lead-in until 15 minutes "
        "after the end.",
        "my_dates_intro_push": "Your coming dates. Knoten sends to the address the library "
        "entered for you at these times.",
        "my_dates_feed": "Calendar subscription of your dates (iCal)",
        "my_dates_when": "Date",
        "my_dates_window": "Address valid",
        "my_dates_pull": "Pull address",
        "my_dates_none": "No dates are planned at the moment.",
        "request_title": "Requested",
        "request_text_host": "This booking is requested: it holds the room but goes live only "
        "once the library has confirmed it.",
        "request_text_staff": "A provider asks for these dates. They hold the room until you "
        "confirm or decline.",
        "request_confirm": "Confirm",
        "request_decline": "Decline",
        "request_decline_confirm": "Decline the request? Its dates are deleted and the room is "
        "free again.",
        "request_confirmed": "Confirmed: the dates are scheduled.",
        "request_declined": "Declined.",
        "series_link_invalid": "This join link is not valid. Please use the link you were given.",
        "series_link_gone": "This course no longer exists.",
        "providers_title": "Education providers",
        "providers_intro": "Education providers book the room. Their hosts plan, start and stop "
        "only their own seminars and see only their recordings; partners see their dates.",
        "provider_contact": "Contact",
        "provider_contact_hint": "Name, e-mail or phone.",
        "provider_hosts": "Hosts",
        "provider_partners": "Partners",
        "provider_new": "New provider",
        "provider_delete_confirm": "Delete the provider “{name}”?",
        "provider_direct": "May book directly",
        "provider_direct_short": "Books directly",
        "provider_direct_hint": "Otherwise its hosts' bookings are requests the library confirms.",
        "account_partner": "Partner (broadcast destination)",
        "account_new": "New account",
        "account_role": "Role",
        "role_staff": "Library staff (everything)",
        "role_host": "Host of a provider",
        "role_partner": "Partner (sees its dates)",
        "account_provider": "Provider",
        "account_password": "First password",
        "account_password_hint": "At least 10 characters. Hand it over in person.",
        "account_create": "Create the account",
        "account_created": "Account “{name}” created.",
    },
}
