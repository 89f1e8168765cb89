"""The console's two languages and how it writes amounts and times.

Texts are written in English in the templates and the routes (`_("Top up")`); GERMAN maps each
to its German. tests/test_console.py checks that every text the templates and routes use has a
German one. Messages of the domain (hub.core.errors, e.g. "no card 04A1") are translated by
their code where they have one (`REASONS`), else by their English wording (`domain_message`).

Amounts are minor units (cents) of the site's currency, written with the currency's decimals;
times are shown in the site's time zone (sites.tz)."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

LOCALES = ("en", "de")
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}

# Currencies without minor units; every other has two decimals (CHF, EUR, …).
_NO_DECIMALS = frozenset({"JPY", "KRW", "ISK", "CLP", "VND", "XAF", "XOF"})

GERMAN: dict[str, str] = {
    # frame and navigation
    "tapgift console": "tapgift Konsole",
    "Cards": "Karten",
    "Live": "Live",
    "Machines": "Maschinen",
    "Admin": "Verwaltung",
    "Log out": "Abmelden",
    "Language": "Sprache",
    "Save": "Speichern",
    "Signed in as {name} ({role})": "Angemeldet als {name} ({role})",
    "Skip to content": "Zum Inhalt springen",
    # login
    "Log in": "Anmelden",
    "User name": "Benutzername",
    "Password": "Passwort",
    "Wrong user name or password.": "Benutzername oder Passwort falsch.",
    "Too many wrong passwords: try again in {seconds} s.": "Zu viele falsche Passwörter: erneut versuchen in {seconds} s.",
    "Enter your user name.": "Benutzernamen eingeben.",
    "Enter your password.": "Passwort eingeben.",
    "You are logged out.": "Sie sind abgemeldet.",
    # errors
    "Not allowed": "Nicht erlaubt",
    "Your role ({role}) may not open this page.": "Ihre Rolle ({role}) darf diese Seite nicht öffnen.",
    "Not found": "Nicht gefunden",
    "This form came from another site: it was not sent.": "Dieses Formular kam von einer anderen Seite: es wurde nicht gesendet.",
    # cards
    "Look up a card": "Karte suchen",
    "Card UID": "Karten-UID",
    "Look up": "Suchen",
    "Enter a card UID (4-64 letters, digits, _ : . -).": "Karten-UID eingeben (4-64 Buchstaben, Ziffern, _ : . -).",
    "No card {uid}.": "Keine Karte {uid}.",
    "Card {uid}": "Karte {uid}",
    "Status": "Status",
    "active": "aktiv",
    "blocked": "gesperrt",
    "replaced": "ersetzt",
    "Label": "Bezeichnung",
    "Kind": "Art",
    "Holder": "Inhaber",
    "Balance": "Saldo",
    "Held": "Reserviert",
    "Available": "Verfügbar",
    "Credit limit": "Kreditlimit",
    "Points": "Punkte",
    "Points available": "Verfügbare Punkte",
    "Expires": "Verfällt",
    "never": "nie",
    "Gifts": "Geschenke",
    "Gift": "Geschenk",
    "Units": "Einheiten",
    "No points.": "Keine Punkte.",
    "No gifts.": "Keine Geschenke.",
    "History": "Verlauf",
    "When": "Wann",
    "What": "Was",
    "Amount": "Betrag",
    "Device": "Gerät",
    "Outlet": "Verkaufsstelle",
    "Nothing yet.": "Noch nichts.",
    "Older entries": "Ältere Einträge",
    "Newest entries": "Neueste Einträge",
    "Top up": "Aufladen",
    "Continue": "Weiter",
    "Cancel": "Abbrechen",
    "Confirm the top-up": "Aufladung bestätigen",
    "Top-up": "Aufladung",
    "Bonus": "Bonus",
    "New balance": "Neuer Saldo",
    "Bonus for this amount: {bonus}": "Bonus für diesen Betrag: {bonus}",
    "No bonus for this amount.": "Kein Bonus für diesen Betrag.",
    "Top up {amount}": "{amount} aufladen",
    "Topped up {amount}, bonus {bonus}.": "{amount} aufgeladen, Bonus {bonus}.",
    "Enter an amount such as 50 or 50.00.": "Betrag wie 50 oder 50.00 eingeben.",
    "The amount must be above 0.": "Der Betrag muss über 0 liegen.",
    "The amount is too large.": "Der Betrag ist zu gross.",
    "Block": "Sperren",
    "Unblock": "Entsperren",
    "Card blocked: every tap with it is denied.": "Karte gesperrt: jede Buchung damit wird abgelehnt.",
    "Card unblocked.": "Karte entsperrt.",
    "Refund": "Auszahlen",
    "Confirm the refund": "Auszahlung bestätigen",
    "Paid back": "Ausbezahlt",
    "Bonus that lapses": "Verfallender Bonus",
    "Pay back {amount}": "{amount} auszahlen",
    "Refunded {amount}.": "{amount} ausbezahlt.",
    "Nothing to pay back.": "Nichts auszuzahlen.",
    "The top-up was not booked: {reason}": "Die Aufladung wurde nicht gebucht: {reason}",
    "Not done: {reason}": "Nicht ausgeführt: {reason}",
    "A QR scanner types a digital card's UID into the field.": "Ein QR-Scanner tippt die UID einer digitalen Karte ins Feld.",
    "Holder's name": "Name des Inhabers",
    "Search": "Suchen",
    "Enter 2-100 letters of the name.": "2-100 Buchstaben des Namens eingeben.",
    "No card of a holder named so.": "Keine Karte eines Inhabers dieses Namens.",
    # issue, replace, link
    "Issue a card": "Karte ausgeben",
    "Medium": "Medium",
    "RFID card or wristband": "RFID-Karte oder Armband",
    "Digital card (QR code)": "Digitale Karte (QR-Code)",
    "UID on the card (RFID; empty: the hub makes one)": "UID auf der Karte (RFID; leer: der Hub vergibt eine)",
    "value": "Guthaben",
    "debit": "Debit",
    "employee": "Mitarbeiter",
    "Credit limit (debit cards)": "Kreditlimit (Debitkarten)",
    "Holder (empty: anonymous)": "Inhaber (leer: anonym)",
    "Issue": "Ausgeben",
    "An RFID UID is 8-20 hex digits (or empty: the hub makes one).": "Eine RFID-UID hat 8-20 Hex-Ziffern (oder leer: der Hub vergibt eine).",
    "A debit card needs a credit limit above 0.": "Eine Debitkarte braucht ein Kreditlimit über 0.",
    "At most 100 characters.": "Höchstens 100 Zeichen.",
    "Card {uid} issued.": "Karte {uid} ausgegeben.",
    "QR code": "QR-Code",
    "QR code of card {uid}": "QR-Code der Karte {uid}",
    "Download the QR code": "QR-Code herunterladen",
    "Replace a lost card": "Verlorene Karte ersetzen",
    "Link to a digital card": "Mit digitaler Karte verknüpfen",
    "UID of the new card (empty: the hub makes one)": "UID der neuen Karte (leer: der Hub vergibt eine)",
    "Replace": "Ersetzen",
    "Digital card UID": "UID der digitalen Karte",
    "Link": "Verknüpfen",
    "Linked to the digital card {uid}.": "Verknüpft mit der digitalen Karte {uid}.",
    "Card linked: its wallet is the digital card's.": "Karte verknüpft: ihr Guthaben ist das der digitalen Karte.",
    "Card {old} is blocked; its balance is on {uid}.": "Karte {old} ist gesperrt; ihr Guthaben ist auf {uid}.",
    # history kinds
    "tap": "Bezug",
    "offline_vend": "Offline-Bezug",
    "topup": "Aufladung",
    "topup_bonus": "Aufladebonus",
    "refund": "Auszahlung",
    "bonus_forfeit": "Bonus verfallen",
    "sale": "Verkauf",
    "sale_refund": "Rückerstattung",
    "settlement": "Begleichung",
    "balance_moved": "Saldo übertragen",
    "points_earned": "Punkte erhalten",
    "points_bought": "Punkte gekauft",
    "points_spent": "Punkte eingelöst",
    "points_returned": "Punkte zurück",
    "points_clawback": "Punkte zurückgebucht",
    "points_expired": "Punkte verfallen",
    "points_reset": "Punkte zurückgesetzt",
    "points_moved": "Punkte übertragen",
    "gift_received": "Geschenk erhalten",
    "gift_redeemed": "Geschenk eingelöst",
    "gift_returned": "Geschenk zurück",
    "gift_expired": "Geschenk verfallen",
    "gift_reset": "Geschenk zurückgesetzt",
    "gifts_moved": "Geschenke übertragen",
    "other": "Sonstiges",
    "pending": "offen",
    "posted": "gebucht",
    "voided": "storniert",
    "expired": "abgelaufen",
    # live
    "Controllers": "Steuerungen",
    "online": "online",
    "offline": "offline",
    "unknown": "unbekannt",
    "Last seen": "Zuletzt gesehen",
    "Free heap": "Freier Speicher",
    "RSSI": "RSSI",
    "Reader resets": "Leser-Neustarts",
    "Journal": "Journal",
    "Firmware": "Firmware",
    "Taps/min": "Bezüge/min",
    "Denials/min": "Ablehnungen/min",
    "Refused messages": "Abgewiesene Nachrichten",
    "Reason": "Grund",
    "Count": "Anzahl",
    "Last": "Zuletzt",
    "None.": "Keine.",
    "No controllers.": "Keine Steuerungen.",
    "Updated {time}": "Aktualisiert {time}",
    "Hub: {received} messages, {refused} refused; broker {broker}.": "Hub: {received} Nachrichten, {refused} abgewiesen; Broker {broker}.",
    "connected": "verbunden",
    "not connected": "nicht verbunden",
    "no MQTT": "kein MQTT",
    # machines
    "Name": "Name",
    "Site": "Standort",
    "Price": "Preis",
    "Change price": "Preis ändern",
    "Price of {device} is now {price}.": "Preis von {device} ist jetzt {price}.",
    "The price may be 0 only for a turnstile.": "Der Preis darf nur bei einem Drehkreuz 0 sein.",
    "Enter a price such as 2.50.": "Preis wie 2.50 eingeben.",
    "Last command": "Letzter Befehl",
    "Machine {id}": "Maschine {id}",
    "Deny list": "Sperrliste",
    "The controller holds {told} of the {blocked} blocked cards on its deny list.": "Die Steuerung führt {told} der {blocked} gesperrten Karten auf ihrer Sperrliste.",
    "Not yet: {cards}": "Noch nicht: {cards}",
    "Health": "Zustand",
    "No health report yet.": "Noch kein Zustandsbericht.",
    "Commands": "Befehle",
    "Sells {article} for {outlet}": "Verkauft {article} für {outlet}",
    "hands out {gift}": "gibt {gift} aus",
    "Not in the loyalty engine: taps cost the unit price.": "Nicht im Treueprogramm: Bezüge kosten den Stückpreis.",
    "Gift it hands out (optional)": "Ausgegebenes Geschenk (optional)",
    "Leave the loyalty engine": "Aus dem Treueprogramm nehmen",
    "Loyalty settings saved.": "Treue-Einstellungen gespeichert.",
    "The machine charges its unit price only.": "Die Maschine verrechnet nur ihren Stückpreis.",
    "Choose a gift item.": "Geschenk wählen.",
    "Reboot": "Neustart",
    "Reboot sent to {device}.": "Neustart an {device} gesendet.",
    "applied": "ausgeführt",
    "refused": "abgelehnt",
    "Register a controller": "Steuerung registrieren",
    "Controller {id} is registered. Its key, shown only now:": "Steuerung {id} ist registriert. Ihr Schlüssel, nur jetzt sichtbar:",
    "A technician writes its provisioning file and flashes the board with:": "Ein Techniker schreibt ihre Provisionierungsdatei und flasht die Platine mit:",
    "Device id": "Geräte-ID",
    "Register": "Registrieren",
    "A device id is 1-40 letters, digits or _ . -.": "Eine Geräte-ID hat 1-40 Buchstaben, Ziffern oder _ . -.",
    "Choose a site.": "Standort wählen.",
    "Choose a kind.": "Art wählen.",
    # loyalty and money
    "Loyalty": "Treue",
    "Money": "Geld",
    "Sites and outlets": "Standorte und Verkaufsstellen",
    "Time zone": "Zeitzone",
    "Top-up bonus tiers": "Aufladebonus-Stufen",
    "From a top-up of": "Ab einer Aufladung von",
    "Bonus in %": "Bonus in %",
    "Save the tiers": "Stufen speichern",
    "Top-up tiers saved.": "Aufladestufen gespeichert.",
    "A percentage from 0 to 100, e.g. 5 or 2.5.": "Ein Prozentsatz von 0 bis 100, z. B. 5 oder 2.5.",
    "Two tiers start at the same amount.": "Zwei Stufen beginnen beim selben Betrag.",
    "The highest tier a top-up reaches gives its percentage of the whole top-up. An empty row is left out.": "Die höchste erreichte Stufe gibt ihren Prozentsatz auf die ganze Aufladung. Leere Zeilen entfallen.",
    "Bonus-point rules": "Bonuspunkte-Regeln",
    "Active": "Aktiv",
    "Stores": "Filialen",
    "Weekdays": "Wochentage",
    "Valid": "Gültig",
    "all": "alle",
    "No rules.": "Keine Regeln.",
    "Add an outlet": "Verkaufsstelle hinzufügen",
    "Outlet {id} added.": "Verkaufsstelle {id} hinzugefügt.",
    "An id is 1-40 letters, digits or _ . -.": "Eine ID hat 1-40 Buchstaben, Ziffern oder _ . -.",
    "A kind is 1-20 small letters or _, e.g. bar, shop, slide.": "Eine Art hat 1-20 Kleinbuchstaben oder _, z. B. bar, shop, slide.",
    "Switch off": "Ausschalten",
    "Switch on": "Einschalten",
    "Discount groups": "Rabattgruppen",
    "Rates": "Sätze",
    "Gift items": "Geschenke",
    "Value": "Wert",
    "Points price": "Preis in Punkten",
    "Valid (days)": "Gültig (Tage)",
    "Gift chain rules": "Geschenkketten-Regeln",
    "{activities} activities → {units} × {item}": "{activities} Aktivitäten → {units} × {item}",
    "What would this basket earn?": "Was brächte dieser Warenkorb?",
    "Ordered at": "Bestellt über",
    "Handed over": "Übergabe",
    "Article": "Artikel",
    "Quantity": "Menge",
    "Preview": "Vorschau",
    "Total": "Total",
    "Discount": "Rabatt",
    "Points earned": "Erhaltene Punkte",
    "Rule": "Regel",
    "Choose an outlet.": "Verkaufsstelle wählen.",
    "Choose an article.": "Artikel wählen.",
    "A quantity from 1 to 10000.": "Eine Menge von 1 bis 10000.",
    "Takings by outlet and machine": "Einnahmen nach Verkaufsstelle und Maschine",
    "Dark: outlets (baskets paid at tills); light: machines (taps).": "Dunkel: Verkaufsstellen (an Kassen bezahlte Warenkörbe); hell: Maschinen (Bezüge).",
    "Activities": "Aktivitäten",
    "Cards used for the first time": "Erstmals benutzte Karten",
    "Gifts collected": "Abgeholte Geschenke",
    "Ledgers": "Hauptbücher",
    "Ledger": "Hauptbuch",
    "Posted": "Gebucht",
    "Pending": "Offen",
    "Sums to zero": "Summe null",
    "Gift settlement between outlets": "Geschenk-Abrechnung zwischen Verkaufsstellen",
    "Owed to the outlet": "Der Verkaufsstelle geschuldet",
    "Owed by the outlet": "Von der Verkaufsstelle geschuldet",
    "Net": "Netto",
    "Kept for gifts never redeemed: {amount}; open at the node: {open}.": "Einbehalten für nie eingelöste Geschenke: {amount}; offen beim Knoten: {open}.",
    "Offline overspends": "Offline-Überziehungen",
    "Card": "Karte",
    "Short": "Fehlbetrag",
    # admin
    "Users": "Benutzer",
    "API keys": "API-Schlüssel",
    "Audit log": "Protokoll",
    "Role": "Rolle",
    "Scope": "Bereich",
    "everything": "alles",
    "Disabled": "Deaktiviert",
    "yes": "ja",
    "no": "nein",
    "Add a user": "Benutzer hinzufügen",
    "Add": "Hinzufügen",
    "Outlet (optional)": "Verkaufsstelle (optional)",
    "Site (optional)": "Standort (optional)",
    "Disable": "Deaktivieren",
    "Enable": "Aktivieren",
    "New password": "Neues Passwort",
    "Set password": "Passwort setzen",
    "User {name} added.": "Benutzer {name} hinzugefügt.",
    "User {name} changed.": "Benutzer {name} geändert.",
    "A user name is 1-64 letters, digits or _ . @ -.": "Ein Benutzername hat 1-64 Buchstaben, Ziffern oder _ . @ -.",
    "A password has at least {n} characters.": "Ein Passwort hat mindestens {n} Zeichen.",
    "Choose a role.": "Rolle wählen.",
    "Create a key": "Schlüssel erstellen",
    "Create": "Erstellen",
    "What uses it": "Wofür",
    "Rate per minute": "Anfragen pro Minute",
    "Revoke": "Widerrufen",
    "Revoked": "Widerrufen",
    "Created": "Erstellt",
    "By": "Von",
    "Expires at": "Läuft ab",
    "Name what uses the key (1-100 characters).": "Angeben, wofür der Schlüssel ist (1-100 Zeichen).",
    "A rate is a whole number from 1 to 100000.": "Eine Rate ist eine ganze Zahl von 1 bis 100000.",
    "The new key, shown only now: copy it into the till.": "Der neue Schlüssel, nur jetzt sichtbar: in die Kasse kopieren.",
    "Key {id} revoked.": "Schlüssel {id} widerrufen.",
    "Actor": "Wer",
    "Action": "Aktion",
    "From": "Von wo",
    "Path": "Pfad",
    "Filter": "Filtern",
    "Download CSV": "Als CSV herunterladen",
    "Transfers": "Buchungen",
    # bonus-point rules (seed 003's words)
    "Add a bonus-point rule": "Bonuspunkte-Regel hinzufügen",
    "New bonus-point rule": "Neue Bonuspunkte-Regel",
    "Bonus-point rule {id}": "Bonuspunkte-Regel {id}",
    "Bonus-point rule {id} saved.": "Bonuspunkte-Regel {id} gespeichert.",
    "Bonus-point rule {id} deleted.": "Bonuspunkte-Regel {id} gelöscht.",
    "Add the rule": "Regel hinzufügen",
    "Save the rule": "Regel speichern",
    "Delete the rule": "Regel löschen",
    "Not done": "Nicht ausgeführt",
    "A rule with no store acts as switched off.": "Ist für die Regel kein Store hinterlegt, zählt sie wie deaktiviert.",
    "Valid from": "Gültig ab",
    "Valid until": "Gültig bis",
    "On holidays": "An Feiertagen",
    "Monday": "Montag",
    "Tuesday": "Dienstag",
    "Wednesday": "Mittwoch",
    "Thursday": "Donnerstag",
    "Friday": "Freitag",
    "Saturday": "Samstag",
    "Sunday": "Sonntag",
    "Targets: articles, product groups, toppings, topping groups": "Ziele: Artikel, Warengruppen, Toppings, Toppinggruppen",
    "The points are given per article (or topping) of the target. Voucher types and the menu exclusion are for article rules.": "Die Punkte gibt es pro Artikel (oder Topping) des Ziels. Gutscheintypen und der Menü-Ausschluss gelten nur für Artikelregeln.",
    "Target": "Ziel",
    "Exclusive voucher types": "Exklusive Gutscheintypen",
    "No points on a menu's contents": "Punkte auf Artikel innerhalb dieses Menüs ausschließen",
    "Basket value": "Warenkorbwert",
    "Amount per point": "Wert je Punkt",
    "Including the value paid with points": "Inklusive eingelöstem Warenwert",
    "Including the small-quantity surcharge": "Inklusive Mindermengenzuschlag",
    "Including the delivery fee": "Inklusive Liefergebühr",
    "Account registration": "Kontoregistrierung",
    "Points once at registration": "Punkte einmalig bei der Registrierung",
    "Expiry": "Verfallsart",
    "Expire after days": "Verfallen in (x) Tagen",
    "Expire on": "Verfallen am",
    "Points can be spent at once": "Punkte sofort einlösbar",
    "article": "Artikel",
    "product_group": "Warengruppe",
    "topping": "Topping",
    "topping_group": "Toppinggruppe",
    "basket_value": "Warenkorbwert",
    "registration": "Kontoregistrierung",
    "webshop": "Webshop",
    "app": "App",
    "till": "Kasse",
    "machine": "Automat",
    "pickup": "Abholung",
    "delivery": "Lieferung",
    "counter": "Thekenverkauf",
    "standard": "Standard-Verfallsdatum",
    "in_days": "in (x) Tagen",
    "on_date": "an einem Datum",
    "Enter a name of at most 100 characters.": "Einen Namen mit höchstens 100 Zeichen eingeben.",
    "A date and time such as 2026-07-01 10:00.": "Datum und Uhrzeit, z. B. 2026-07-01 10:00.",
    "A date such as 2026-12-31.": "Ein Datum, z. B. 2026-12-31.",
    "The end comes before the start.": "Das Ende liegt vor dem Beginn.",
    "Choose how the points expire.": "Wählen, wie die Punkte verfallen.",
    "Choose an article, product group or topping group.": "Einen Artikel, eine Warengruppe oder eine Toppinggruppe wählen.",
    "This target is named twice.": "Dieses Ziel ist doppelt genannt.",
    "Only article, group and topping rules have targets.": "Nur Artikel-, Gruppen- und Toppingregeln haben Ziele.",
    "Name at least one target and its points.": "Mindestens ein Ziel mit seinen Punkten angeben.",
    "Voucher and menu exclusions are for article rules only.": "Gutschein- und Menü-Ausschlüsse gibt es nur bei Artikelregeln.",
    "Voucher types separated by commas, e.g. goods, points.": "Gutscheintypen durch Kommas getrennt, z. B. goods, points.",
    "Enter the amount that earns one point, e.g. 10.00.": "Den Betrag eingeben, der einem Punkt entspricht, z. B. 10,00.",
    "Whole points from 0 to {max}.": "Ganze Punkte von 0 bis {max}.",
    "Whole days from 0 to {max}.": "Ganze Tage von 0 bis {max}.",
    # provisioning file
    "Provisioning file": "Provisionierungsdatei",
    "The file a technician copies to the board: the controller's key, the broker, the Wi-Fi. Keep it like a password; each download is in the audit log.": "Die Datei, die ein Techniker auf die Platine kopiert: der Schlüssel der Steuerung, der Broker, das WLAN. Wie ein Passwort aufbewahren; jeder Download steht im Prüfprotokoll.",
    "Broker as the controllers reach it": "Broker, wie die Steuerungen ihn erreichen",
    "Wi-Fi name (SSID)": "WLAN-Name (SSID)",
    "Wi-Fi password": "WLAN-Passwort",
    "Profile (JSON, optional)": "Profil (JSON, optional)",
    "Pins (JSON, optional)": "Pins (JSON, optional)",
    "CA certificate of an mqtts:// broker (PEM)": "CA-Zertifikat eines mqtts://-Brokers (PEM)",
    "Download the provisioning file": "Provisionierungsdatei herunterladen",
    "Then, at the board:": "Dann an der Platine:",
    "Download its provisioning file on its page,": "Ihre Provisionierungsdatei auf ihrer Seite herunterladen,",
    "or a technician writes it and flashes the board with:": "oder ein Techniker schreibt sie und flasht die Platine mit:",
    "The broker as the controllers reach it, e.g. mqtt://10.0.0.2:1883.": "Der Broker, wie die Steuerungen ihn erreichen, z. B. mqtt://10.0.0.2:1883.",
    "The Wi-Fi's name (SSID), 1-32 characters.": "Der Name des WLANs (SSID), 1-32 Zeichen.",
    "At most 64 characters (empty for an open network).": "Höchstens 64 Zeichen (leer für ein offenes Netz).",
    "A JSON object such as {example}, or empty.": "Ein JSON-Objekt wie {example}, oder leer.",
    "The profile's kind must be the machine's: {kind}.": "Die Art im Profil muss die der Maschine sein: {kind}.",
    "A {kind} needs its sensor's pin, e.g. {example}.": "Ein(e) {kind} braucht den Pin seines Sensors, z. B. {example}.",
    "A PEM certificate (-----BEGIN CERTIFICATE----- …).": "Ein PEM-Zertifikat (-----BEGIN CERTIFICATE----- …).",
    "An mqtts:// broker needs the CA that signed its certificate.": "Ein mqtts://-Broker braucht die CA, die sein Zertifikat signiert hat.",
    # discount groups, gift items, chain rules
    "Add a discount group": "Rabattgruppe hinzufügen",
    "Add a gift item": "Geschenk hinzufügen",
    "Add a gift chain rule": "Geschenkketten-Regel hinzufügen",
    "New discount group": "Neue Rabattgruppe",
    "New gift item": "Neues Geschenk",
    "New gift chain rule": "Neue Geschenkketten-Regel",
    "Add the discount group": "Rabattgruppe hinzufügen",
    "Add the gift item": "Geschenk hinzufügen",
    "Add the chain rule": "Regel hinzufügen",
    "Discount group added.": "Rabattgruppe hinzugefügt.",
    "Gift item added.": "Geschenk hinzugefügt.",
    "Chain rule added.": "Geschenkketten-Regel hinzugefügt.",
    "Employee consumption, say, is a general rate of 100 %. An empty row is left out.": "Mitarbeiterverzehr etwa ist ein allgemeiner Satz von 100 %. Eine leere Zeile wird weggelassen.",
    "Group id": "Gruppen-ID",
    "Applies to": "Gilt für",
    "Revenue group or article": "Umsatzgruppe oder Artikel",
    "Discount in %": "Rabatt in %",
    "general": "alles",
    "revenue_group": "Umsatzgruppe",
    "Choose what the rate applies to.": "Wählen, wofür der Satz gilt.",
    "A general rate has no target.": "Ein allgemeiner Satz hat kein Ziel.",
    "Name the revenue group or article.": "Die Umsatzgruppe oder den Artikel angeben.",
    "Two rates apply to the same thing.": "Zwei Sätze gelten für dasselbe.",
    "What a chain rule or staff give, or a card buys with points; its value is what outlets settle.": "Was eine Kettenregel oder das Personal schenkt oder eine Karte mit Punkten kauft; sein Wert ist, was die Verkaufsstellen abrechnen.",
    "Gift id": "Geschenk-ID",
    "e.g. DRINK: letters, digits, _ or -": "z. B. DRINK: Buchstaben, Ziffern, _ oder -",
    "Voucher type": "Gutscheintyp",
    "goods": "Ware",
    "service": "Dienstleistung",
    "Article it pays in a basket (optional)": "Artikel, den es im Warenkorb bezahlt (optional)",
    "Redeemable at outlets of kinds": "Einlösbar bei Verkaufsstellen der Arten",
    "… and at these outlets": "… und bei diesen Verkaufsstellen",
    "Separated by commas, e.g. bar, shop.": "Durch Kommas getrennt, z. B. bar, shop.",
    "Points price (optional)": "Preis in Punkten (optional)",
    "Points a card must have to choose it (optional)": "Punkte, die eine Karte zum Wählen haben muss (optional)",
    "Valid for days (optional)": "Gültig für Tage (optional)",
    "1-32 letters, digits, _ or -.": "1-32 Buchstaben, Ziffern, _ oder -.",
    "Enter an amount such as 4.00.": "Einen Betrag wie 4,00 eingeben.",
    "Choose goods or service.": "Ware oder Dienstleistung wählen.",
    "Outlet kinds are small letters or _, separated by commas.": "Arten von Verkaufsstellen sind Kleinbuchstaben oder _, durch Kommas getrennt.",
    "A whole number from {low} to {high}, or empty.": "Eine ganze Zahl von {low} bis {high}, oder leer.",
    "A whole number from {low} to {high}.": "Eine ganze Zahl von {low} bis {high}.",
    "A points level needs a points price.": "Eine Punkteschwelle braucht einen Preis in Punkten.",
    "Activities within one visit at the outlets chosen earn the gift (no outlet or kind chosen: every outlet counts).": "Aktivitäten während eines Besuchs bei den gewählten Verkaufsstellen bringen das Geschenk (keine gewählt: jede zählt).",
    "Activities that earn it": "Aktivitäten, die es bringen",
    "Units given": "Geschenkte Einheiten",
    "Counting at outlets of kinds": "Zählt bei Verkaufsstellen der Arten",
    "Again every so many activities": "Wieder nach jeweils so vielen Aktivitäten",
    "At most per visit (optional)": "Höchstens pro Besuch (optional)",
    "Gift chain rule {id}": "Geschenkketten-Regel {id}",
    "Gift item {id}": "Geschenk {id}",
    "Discount group {id}": "Rabattgruppe {id}",
    "Save the discount group": "Rabattgruppe speichern",
    "Discount group saved.": "Rabattgruppe gespeichert.",
    "Discount group deleted.": "Rabattgruppe gelöscht.",
    "Save the gift item": "Geschenk speichern",
    "Gift item saved.": "Geschenk gespeichert.",
    "Save the chain rule": "Regel speichern",
    "Chain rule saved.": "Geschenkketten-Regel gespeichert.",
    "Chain rule deleted.": "Geschenkketten-Regel gelöscht.",
    "Delete": "Löschen",
    # money charts
    "From day": "Vom Tag",
    "To day": "Bis Tag",
    "Per": "Pro",
    "hour": "Stunde",
    "day": "Tag",
    "Show": "Anzeigen",
    "At most {days} days.": "Höchstens {days} Tage.",
    "Times in {tz}. A card paying at two outlets counts once in the attendance.": "Zeiten in {tz}. Eine Karte, die bei zwei Verkaufsstellen zahlt, zählt bei den Besuchern einmal.",
    "Sales per outlet": "Umsatz pro Verkaufsstelle",
    "Attendance: distinct cards": "Besucher: verschiedene Karten",
    "Activities and campaigns": "Aktivitäten und Kampagnen",
    "Nothing in this period.": "Nichts in diesem Zeitraum.",
    "Who owes whom for the cards' money in this period": "Wer wem das Kartengeld dieses Zeitraums schuldet",
    "Cash taken in": "Bar eingenommen",
    "Paid with cards": "Mit Karten bezahlt",
    "Bonus given": "Bonus gewährt",
    "{payer} pays {payee} {amount}": "{payer} zahlt {payee} {amount}",
    "Nobody owes anybody.": "Niemand schuldet jemandem etwas.",
    "Each figure's ledger transfers are in the CSV; an admin closes a period through the API.": "Die Buchungen hinter jeder Zahl stehen in der CSV-Datei; einen Zeitraum schliesst ein Admin über die API ab.",
    "all outlets": "alle Verkaufsstellen",
    "no outlet": "keine Verkaufsstelle",
    "Taken": "Eingenommen",
    "Campaigns": "Kampagnen",
}


# Reasons by their code: a controller's denials (protocol.messages), the refusals of its
# messages (protocol), offline overspends, and the ledger's errors (hub.core.errors' `code`).
REASONS: dict[str, tuple[str, str]] = {
    "insufficient_funds": ("insufficient funds", "Guthaben reicht nicht"),
    "blocked_card": ("card blocked", "Karte gesperrt"),
    "unknown_card": ("unknown card", "Karte unbekannt"),
    "unknown_device": ("unknown device", "Gerät unbekannt"),
    "unknown_hold": ("unknown reservation", "Reservierung unbekannt"),
    "bad_request": ("bad request", "ungültige Anfrage"),
    "hub_busy": ("hub busy", "Hub ausgelastet"),
    "bad_sun": ("card check failed (NTAG 424)", "Kartenprüfung fehlgeschlagen (NTAG 424)"),
    "id_reused": ("request id reused", "Anfragenummer wiederverwendet"),
    "bad_topic": ("bad topic", "ungültiges Topic"),
    "bad_frame": ("bad frame", "ungültiger Rahmen"),
    "bad_tag": ("bad signature", "ungültige Signatur"),
    "bad_json": ("not JSON", "kein JSON"),
    "bad_field": ("bad field", "ungültiges Feld"),
    "too_large": ("too large", "zu groß"),
    "bad_config": ("settings refused", "Einstellungen abgelehnt"),
    "ledger_error": ("booking refused", "Buchung abgelehnt"),
    "ledger_mismatch": ("the books do not match", "Buchungen stimmen nicht überein"),
}


def reason(code: str | None, locale: str) -> str:
    """A reason code in words (an unknown code as it is)."""
    if not code:
        return ""
    words = REASONS.get(code)
    if words is None:
        return code
    return words[1] if locale == "de" else words[0]


# The domain's messages that carry no code (hub.core.errors: most do not), matched by their
# English wording, with their German. Each pattern matches a whole message; its groups are
# put into the German in order. A message matched by none stays English.
_DOMAIN_DE: list[tuple[str, str]] = [
    (r"no card (\S+)", "Keine Karte {0}."),
    (r"card (\S+) is (\w+)", "Karte {0} ist {1}."),
    (r"card (\S+) exists", "Karte {0} gibt es schon."),
    (
        r"card (\S+) has (-?\d+) held for taps not reported yet; try again",
        "Auf Karte {0} sind {1} für noch nicht gemeldete Buchungen reserviert; bitte erneut versuchen.",
    ),
    (
        r"card (\S+) is a debit card, paid later: settle what it owes instead",
        "Karte {0} ist eine Debitkarte (später bezahlt): stattdessen die Schuld begleichen.",
    ),
    (
        r"card (\S+) has (\d+) points available now, needs (\d+)",
        "Karte {0} hat jetzt {1} Punkte verfügbar, braucht {2}.",
    ),
    (
        r"(.+) would take you over your daily ceiling of (\d+)",
        "{0} würde Ihr Tageslimit von {1} überschreiten.",
    ),
    (
        r"no (device|outlet|site|user|key|counter|basket|article|bonus rule|gift item|chain rule|product group|discount group) (.+)",
        "Nicht vorhanden: {0} {1}.",
    ),
    (
        r"(device|outlet|site|user|counter|article|gift item|product group|discount group) (\S+) exists",
        "Schon vorhanden: {0} {1}.",
    ),
    (r"outlet (\S+) is not yours", "Die Verkaufsstelle {0} gehört nicht zu Ihnen."),
    (r"site (\S+) is not yours", "Der Standort {0} gehört nicht zu Ihnen."),
    (
        r"this concerns every outlet: only a caller not bound to an outlet or site may",
        "Das betrifft alle Verkaufsstellen: nur wer an keine Verkaufsstelle und keinen Standort gebunden ist, darf das.",
    ),
    (
        r"idempotency key (\S+) was used for another (booking|basket)",
        "Der Schlüssel {0} wurde schon für eine andere Buchung verwendet.",
    ),
    (
        r"(\w+): no article, product group or topping group (.+)",
        "{0}: kein Artikel, keine Warengruppe und keine Toppinggruppe {1}.",
    ),
    (r"(\w+): no outlet (.+)", "{0}: keine Verkaufsstelle {1}."),
    (r"too many wrong passwords: try again later", "Zu viele falsche Passwörter: später erneut versuchen."),
    (
        r"a refund of (\d+) is over your limit of (\d+): a manager books it",
        "Eine Rückzahlung von {0} liegt über Ihrem Limit von {1}: das bucht eine Leitung.",
    ),
    (
        r"card (\S+) is a (\w+) card; only a debit card is settled",
        "Karte {0} ist keine Debitkarte; nur eine Debitkarte wird beglichen.",
    ),
    (
        r"card (\S+) owes (\d+); a settlement pays between 1 and that",
        "Karte {0} schuldet {1}; beglichen wird zwischen 1 und diesem Betrag.",
    ),
    (r"more than (\d+) requests a minute", "Mehr als {0} Anfragen pro Minute."),
    (r"two tiers start at the same amount", "Zwei Stufen beginnen beim selben Betrag."),
    (r"rule \d+: (.+)", "Regel: {0}"),
]
_DOMAIN_PATTERNS = [(re.compile(p), german) for p, german in _DOMAIN_DE]
_WORDS_DE = {
    "device": "Gerät",
    "outlet": "Verkaufsstelle",
    "site": "Standort",
    "user": "Benutzer",
    "key": "Schlüssel",
    "counter": "Kasse",
    "basket": "Warenkorb",
    "article": "Artikel",
    "bonus rule": "Bonusregel",
    "gift item": "Geschenk",
    "chain rule": "Geschenkketten-Regel",
    "product group": "Warengruppe",
    "discount group": "Rabattgruppe",
    "booking": "Buchung",
    "top_up": "Die Aufladung",
    "refund": "Die Rückzahlung",
    "active": "aktiv",
    "blocked": "gesperrt",
    "replaced": "ersetzt",
}


def domain_message(exc: Exception, locale: str) -> str:
    """What the domain refused, in the operator's language: by the error's code where it has
    one, else by its English wording (_DOMAIN_DE); English where neither is known."""
    text = str(exc)
    code = getattr(exc, "code", None)
    if code in REASONS:
        words = reason(code, locale)
        return words if locale == "de" else f"{words} ({text})"
    if locale != "de":
        return text
    for pattern, german in _DOMAIN_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return german.format(*(_WORDS_DE.get(g, g) for g in match.groups()))
    return text


def translator(locale: str):
    """`_(text, **values)` in `locale`: the German of `text` for "de" (the English where a text
    has none), with `values` filled in."""
    table = GERMAN if locale == "de" else {}

    def _(text: str, **values) -> str:
        out = table.get(text, text)
        return out.format(**values) if values else out

    return _


def pick_locale(value: str | None, accept_language: str = "") -> str:
    """The operator's locale if it is one of ours, else the browser's first language we have."""
    if value in LOCALES:
        return value
    for part in accept_language.split(","):
        lang = part.split(";")[0].strip().lower()[:2]
        if lang in LOCALES:
            return lang
    return "en"


def decimals(currency: str) -> int:
    return 0 if currency.upper() in _NO_DECIMALS else 2


def money(cents: int | None, currency: str, locale: str) -> str:
    """12345 CHF → "CHF 123.45" (en) or "123,45 CHF" (de)."""
    if cents is None:
        return ""
    places = decimals(currency)
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 10**places)
    grouped = f"{whole:,}"
    if locale == "de":
        grouped = grouped.replace(",", ".")
        number = f"{grouped},{frac:0{places}d}" if places else grouped
        return f"{sign}{number} {currency}"
    number = f"{grouped}.{frac:0{places}d}" if places else grouped
    return f"{currency} {sign}{number}"


def plain_amount(cents: int, currency: str) -> str:
    """12345 → "123.45": what an amount field shows, as parse_amount reads it back."""
    places = decimals(currency)
    whole, frac = divmod(cents, 10**places)
    return f"{whole}.{frac:0{places}d}" if places else str(whole)


_AMOUNT = re.compile(r"(\d{1,12})(?:[.,](\d{1,2}))?")


def parse_amount(text: str, currency: str) -> int | None:
    """ "50", "50.5", "50,50", "1'000.00" → minor units; None if it is not an amount. Grouping
    marks (spaces, apostrophes) are ignored; a decimal point or comma takes the currency's
    decimals at most."""
    cleaned = re.sub(r"[\s'’_]", "", text or "")
    match = _AMOUNT.fullmatch(cleaned)
    if match is None:
        return None
    places = decimals(currency)
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > places:
        return None
    return int(whole) * 10**places + int(frac.ljust(places, "0") or 0)


def local_time(moment: dt.datetime | None, tz: ZoneInfo, locale: str, seconds: bool = False) -> str:
    """A UTC moment in the site's time zone: "30.11.2026 14:05" (de), "2026-11-30 14:05" (en)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(tz)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return local.strftime(("%d.%m.%Y " if locale == "de" else "%Y-%m-%d ") + clock)
