"""Capabilities a description may ask for that the offline agent does not build.

The template agent builds a JSON API: records with validation, relations and
optional email/password accounts. Everything else the text mentions (sending
email, PDFs, payments, real-time push...) is listed in SPEC.md under "Not built
by the offline agent", so the user knows what an LLM agent or a person must add.
"""

from __future__ import annotations

from dataclasses import dataclass

from prazium_appgen.vocabulary import phrase_pattern


@dataclass(frozen=True)
class Capability:
    title: str
    phrases: tuple[str, ...]
    needs: str
    """What has to be added to deliver it."""

    def mention_in(self, text: str) -> str | None:
        """The first phrase of this capability found in ``text`` (as written), if any."""
        found = [match for phrase in self.phrases if (match := phrase_pattern(phrase).search(text))]
        return min(found, key=lambda match: match.start()).group(0) if found else None


def _capability(title: str, phrases: str, needs: str) -> Capability:
    return Capability(title, tuple(phrases.split(",")), needs)


# fmt: off
CAPABILITIES: tuple[Capability, ...] = (
    _capability("Sending email", "email,emails,e-mail,emailed,newsletter,newsletters",
                "an email provider (SMTP or an API) and the messages and their triggers"),
    _capability("SMS and text messages", "sms,text message,text messages,texting",
                "an SMS gateway and the messages and their triggers"),
    _capability("Push notifications", "push,push notification,push notifications",
                "a push service for browsers or phones"),
    _capability("Notifications and reminders",
                "notification,notifications,notify,notified,alert,alerts,reminder,reminders,"
                "remind,reminded",
                "a scheduler that finds due records and a delivery channel"),
    _capability("Real-time updates",
                "real time,realtime,live updates,websocket,websockets,instantly,live",
                "a push channel (WebSocket or server-sent events); the API answers requests only"),
    _capability("Payment processing",
                "payment processing,pay online,online payment,online payments,checkout,stripe,"
                "paypal,credit card,credit cards,card payment,card payments,pay by card",
                "a payment provider; the app only records amounts"),
    _capability("PDF documents", "pdf,pdfs,printable,print,printed",
                "PDF rendering of the records"),
    _capability("File and photo uploads",
                "upload,uploads,uploaded,photo,photos,image,images,picture,pictures,file,files,"
                "attachment,attachments,scan,scans,receipt photo,receipt photos",
                "file storage and upload routes"),
    _capability("Search", "search,searchable,full-text,full text,look up,lookup",
                "a search route; lists filter only by parent record"),
    _capability("Reports, dashboards and charts",
                "report,reports,reporting,dashboard,dashboards,chart,charts,graph,graphs,"
                "analytics,statistics,stats,summary,summaries,insights,totals",
                "aggregation routes and their views"),
    _capability("Calendar views", "calendar,calendars,agenda,timeline",
                "a calendar view over the dated records"),
    _capability("Import and export", "export,exports,import,imports,csv,excel,spreadsheet,"
                "spreadsheets,backup,backups",
                "export and import routes in the formats asked for"),
    _capability("Maps and locations", "map,maps,gps,geolocation,directions,route planning",
                "a map provider and location fields"),
    _capability("Third-party integrations",
                "integration,integrations,integrate,webhook,webhooks,slack,zapier,"
                "google calendar,sync,synced,syncing",
                "clients for the named services"),
    _capability("Roles and permissions", "role,roles,permission,permissions,admin,admins,"
                "administrator,administrators,approve,approval,approvals",
                "per-role access rules; accounts, where built, all have the same rights"),
    _capability("Barcode and QR scanning", "barcode,barcodes,qr,qr code,qr codes,scanner",
                "a scanner in the client"),
    _capability("Recurring schedules", "recurring,recurrence,repeat,repeats,repeating",
                "rules that create the next occurrence"),
    _capability("Translations", "language,languages,multilingual,translation,translations,"
                "i18n,localization,localisation",
                "translated texts and locale handling"),
)
# fmt: on

USER_INTERFACE = (
    "A user interface",
    "a web or mobile client; the offline agent builds the JSON API only",
)


def unbuilt_capabilities(text: str) -> list[tuple[str, str, str]]:
    """(title, phrase as written, what it needs) for each capability the text mentions."""
    result = []
    for capability in CAPABILITIES:
        phrase = capability.mention_in(text)
        if phrase is not None:
            result.append((capability.title, phrase, capability.needs))
    return result
