"""Known kinds of records: good default fields for records a description names.

The reader finds records in the description's own words; when one of them is
a kind listed here (``Invoice``, ``Task``), it gets these typed fields instead
of a bare name and description. The multi-word phrases of an entry also name
it ("time tracking" -> TimeEntry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from prazium_appgen.entities import Entity, fields


@dataclass(frozen=True)
class KnownEntity:
    entity: Entity
    phrases: tuple[str, ...]


def _known(name: str, phrases: str, *field_specs: str) -> KnownEntity:
    return KnownEntity(Entity(name, fields(*field_specs)), tuple(phrases.split(",")))


# fmt: off
VOCABULARY: tuple[KnownEntity, ...] = (
    _known("Project", "project,projects", "name:string!", "description:string",
           "archived:boolean", "budget:number"),
    _known("Board", "board,boards,kanban", "name:string!", "description:string",
           "position:integer", "archived:boolean"),
    _known("Task", "task,tasks,todo,todos,to-do,to-dos", "title:string!", "description:string",
           "done:boolean", "estimate_hours:number", "board_id:integer"),
    _known("TimeEntry", "time tracking,time entries,time entry,timesheet,timesheets,track time",
           "description:string!", "minutes:integer!", "task_id:integer", "billable:boolean"),
    _known("Sprint", "sprint,sprints", "name:string!", "goal:string", "starts_on:string",
           "ends_on:string"),
    _known("Milestone", "milestone,milestones", "title:string!", "due_date:string",
           "reached:boolean"),
    _known("Issue", "issues,bugs,bug tracker,bug tracking", "title:string!",
           "description:string", "severity:integer", "closed:boolean"),
    _known("Ticket", "ticket,tickets,helpdesk,help desk,support requests", "subject:string!",
           "description:string", "priority:integer", "resolved:boolean"),
    _known("Note", "notes,note-taking,note taking,notebook", "title:string!", "body:string",
           "pinned:boolean"),
    _known("Document", "documents,docs,wiki", "title:string!", "content:string",
           "version:integer"),
    _known("Post", "posts,blog,blogs,articles", "title:string!", "body:string",
           "published:boolean", "views:integer"),
    _known("Comment", "comment,comments,discussion,discussions", "body:string!",
           "author:string", "post_id:integer"),
    _known("Message", "message,messages,messaging,chat", "body:string!", "sender:string!",
           "channel:string", "read:boolean"),
    _known("Event", "events,meetups,conferences", "title:string!", "starts_at:string!",
           "ends_at:string", "location:string", "capacity:integer"),
    _known("Appointment", "appointment,appointments,booking,bookings,reservation,reservations",
           "title:string!", "starts_at:string!", "duration_minutes:integer",
           "confirmed:boolean"),
    _known("Contact", "contact,contacts,address book,crm", "name:string!", "email:string",
           "phone:string", "company:string"),
    _known("Lead", "leads,prospects", "name:string!", "email:string", "source:string",
           "score:integer"),
    _known("Deal", "deals,sales pipeline", "title:string!", "value:number", "stage:string",
           "won:boolean"),
    _known("Customer", "customer,customers,clients", "name:string!", "email:string",
           "phone:string", "vip:boolean"),
    _known("Invoice", "invoice,invoices,invoicing,billing", "number:string!",
           "customer_id:integer", "amount:number!", "paid:boolean", "due_date:string"),
    _known("Payment", "payment,payments", "amount:number!", "currency:string!",
           "order_id:integer", "succeeded:boolean"),
    _known("Subscription", "subscription,subscriptions,membership plans", "plan:string!",
           "price:number", "active:boolean"),
    _known("Product", "product,products,catalog,catalogue,online store,webshop,e-commerce",
           "name:string!", "sku:string", "price:number!", "stock:integer", "active:boolean"),
    _known("Order", "orders,checkout,shopping cart", "customer_id:integer!", "total:number!",
           "status:string", "paid:boolean"),
    _known("InventoryItem", "inventory,stock levels,warehouse", "name:string!",
           "quantity:integer!", "location:string"),
    _known("Review", "reviews,ratings", "rating:integer!", "body:string", "product_id:integer"),
    _known("Expense", "expense,expenses,spending", "description:string!", "amount:number!",
           "category:string", "reimbursed:boolean"),
    _known("Budget", "budget,budgets", "name:string!", "limit_amount:number!",
           "period:string"),
    _known("Employee", "employee,employees,staff,hr", "name:string!", "email:string",
           "position:string", "salary:number"),
    _known("Course", "course,courses,classes", "title:string!", "description:string",
           "credits:integer"),
    _known("Student", "student,students,pupils", "name:string!", "email:string",
           "grade:integer"),
    _known("Book", "books,library", "title:string!", "author:string", "isbn:string",
           "pages:integer", "available:boolean"),
    _known("Recipe", "recipe,recipes,cooking,meal planning", "title:string!",
           "ingredients:string", "servings:integer", "prep_minutes:integer",
           "vegetarian:boolean"),
    _known("Habit", "habit,habits", "name:string!", "frequency:string", "streak:integer"),
    _known("Workout", "workout,workouts,exercise,fitness", "name:string!",
           "duration_minutes:integer", "calories:number"),
    _known("Goal", "goals,okrs,objectives", "title:string!", "target:number",
           "achieved:boolean"),
    _known("Attachment", "file uploads,attachments,uploads,file sharing", "filename:string!",
           "content_type:string", "size_bytes:integer"),
    _known("Tag", "tag,tags,labels", "name:string!", "color:string"),
    _known("Category", "category,categories", "name:string!", "description:string",
           "position:integer"),
    _known("Notification", "notification,notifications,alerts,reminders", "message:string!",
           "channel:string", "read:boolean", "user_id:integer"),
    _known("Team", "team,teams,workspaces,organizations,organisations", "name:string!",
           "description:string", "member_limit:integer"),
    _known("User", "user accounts,user profiles,members,membership", "email:string!",
           "display_name:string", "role:string", "active:boolean"),
)
# fmt: on

KNOWN_BY_NAME: dict[str, Entity] = {known.entity.name: known.entity for known in VOCABULARY}


@cache
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive pattern; spaces and hyphens in a phrase are interchangeable."""
    words = re.split(r"[\s-]+", phrase.strip())
    return re.compile(r"\b" + r"[\s-]*".join(re.escape(word) for word in words) + r"\b", re.I)


CAPABILITY_ENTITIES = frozenset({"Notification", "Attachment"})
"""Known entities that stand for a capability; the reader lists those as features."""
_MULTI_WORD_PHRASES: dict[str, str] = {
    " ".join(re.split(r"[\s-]+", phrase.lower())): known.entity.name
    for known in VOCABULARY
    for phrase in known.phrases
    if len(re.split(r"[\s-]+", phrase)) > 1 and known.entity.name not in CAPABILITY_ENTITIES
}


def known_phrase_entity(phrase: str) -> str | None:
    """The known entity a multi-word phrase names exactly (``time tracking`` -> TimeEntry)."""
    return _MULTI_WORD_PHRASES.get(" ".join(re.split(r"[\s-]+", phrase.lower())))
