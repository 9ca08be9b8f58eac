"""Product features the template agent recognises in a description.

Detection is keyword based and deterministic: a feature is present when any of
its phrases occurs as whole words (case-insensitive; spaces and hyphens in a
phrase are interchangeable). Each detected feature contributes one clarifying
question, so the catalogue also carries that question.
"""

from __future__ import annotations

from dataclasses import dataclass

from prazium_appgen.vocabulary import phrase_pattern
from prazium_kit.agentapi import QuestionType


@dataclass(frozen=True)
class Feature:
    key: str
    title: str
    phrases: tuple[str, ...]
    question: str
    question_type: QuestionType
    options: tuple[str, ...] = ()

    def mentioned_in(self, text: str) -> bool:
        return any(phrase_pattern(phrase).search(text) for phrase in self.phrases)


def _feature(
    key: str,
    title: str,
    phrases: str,
    question: str,
    question_type: QuestionType,
    options: str = "",
) -> Feature:
    return Feature(
        key,
        title,
        tuple(phrases.split(",")),
        question,
        question_type,
        tuple(options.split("|")) if options else (),
    )


AUTHENTICATION = "authentication"
TEAMS = "teams"

# fmt: off
FEATURES: tuple[Feature, ...] = (
    _feature(AUTHENTICATION, "User authentication",
             "login,log in,logins,sign in,sign-in,sign up,signup,register,registration,"
             "authentication,authenticate,password,passwords,account,accounts,oauth,sso",
             "What authentication method should users use?", "single_choice",
             "Email/Password|OAuth (Google, GitHub)|Magic Link|All of the above"),
    _feature(TEAMS, "Teams and roles",
             "team,teams,collaboration,collaborate,collaborative,team members,roles,permissions,"
             "workspace,workspaces,organization,organizations,organisation,organisations",
             "How many team members should a workspace support?", "single_choice",
             "1-5|5-20|20-100|Unlimited"),
    _feature("realtime", "Real-time updates",
             "real time,realtime,live,live updates,instant,instantly,websocket,websockets,"
             "chat,multiplayer",
             "Should the app support real-time collaboration?", "boolean"),
    _feature("payments", "Payments",
             "payment,payments,pay,billing,checkout,subscription,subscriptions,stripe,paypal,"
             "invoice,invoices,purchase,purchases",
             "Which payment methods must be accepted?", "multi_choice",
             "Credit card|PayPal|Bank transfer|Invoice"),
    _feature("notifications", "Notifications",
             "notification,notifications,notify,alert,alerts,reminder,reminders,digest",
             "Through which channels should notifications be sent?", "multi_choice",
             "In-app|Email|SMS|Push"),
    _feature("file_uploads", "File uploads",
             "upload,uploads,file,files,attachment,attachments,image,images,photo,photos,"
             "avatar,avatars",
             "What is the largest file users may upload?", "single_choice",
             "5 MB|25 MB|100 MB|1 GB"),
    _feature("search", "Search",
             "search,searchable,find,filter,filters,filtering,lookup,look up",
             "Should search cover the full text of every record, not only titles?", "boolean"),
    _feature("integrations", "Third-party integrations",
             "integration,integrations,integrate,webhook,webhooks,slack,github,zapier,"
             "google calendar,third party,third-party,api access,public api",
             "Which third-party services must the app integrate with?", "text"),
    _feature("reporting", "Reports and analytics",
             "report,reports,reporting,analytics,dashboard,dashboards,chart,charts,metrics,"
             "insights,statistics",
             "What should reports focus on?", "multi_choice",
             "Activity over time|Per-user activity|Financial totals|Custom filters"),
    _feature("scheduling", "Scheduling and calendars",
             "calendar,calendars,schedule,schedules,scheduling,booking,bookings,appointment,"
             "appointments,deadline,deadlines,due date,due dates",
             "Which calendar view matters most?", "single_choice",
             "Day|Week|Month|Agenda list"),
    _feature("data_export", "Import and export",
             "export,exports,import,imports,csv,excel,backup,backups",
             "Which export formats are required?", "multi_choice", "CSV|JSON|PDF"),
    _feature("localization", "Localization",
             "language,languages,multilingual,multi-language,translation,translations,i18n,"
             "localization,localisation,locale,locales",
             "Which languages must be supported at launch?", "text"),
    _feature("mobile", "Mobile access",
             "mobile,ios,android,smartphone,phone app,offline",
             "Is a mobile-friendly interface required at launch?", "boolean"),
)
# fmt: on

FEATURES_BY_KEY: dict[str, Feature] = {feature.key: feature for feature in FEATURES}


def detect_features(text: str) -> list[Feature]:
    """Features mentioned in ``text``, in catalogue order."""
    return [feature for feature in FEATURES if feature.mentioned_in(text)]
