"""Word classes the description reader needs, as small closed lists of general English.

There is no part-of-speech model offline, so the reader recognises the words
that are *not* record names (function words, common verbs and adjectives,
vague nouns, capabilities, attributes) and treats the remaining nouns as the
user's own vocabulary. The lists hold general English only, never the names of
particular domains' records.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTION_WORDS = _words(
    """
    a an the this that these those there here it its it's they them their theirs we us our
    ours you your yours i me my mine he him his she her hers who whom whose which what when
    where why how whether if then than so as such both either neither each every all any some
    no not nor none only also too very just even still already yet again ever never always
    often sometimes usually and or but plus versus vs etc eg ie yes ok okay please
    of for per with without within in into onto on at by from to toward towards about above
    below under over after before during between among across along around against via
    through throughout until till upon off out up down near next inside outside beside
    besides like unlike except including regarding
    is are was were be been being am do does did doing done have has had having
    can could may might must shall should will would need needs ought
    one two three four five six seven eight nine ten many much more most few fewer less least
    several lots lot other others another same own else
    """
)

DETERMINERS = _words(
    "a an the this that these those their its his her our your my each every all any some "
    "one many several multiple various different own"
)

VERBS = _words(
    """
    track tracks tracked tracking manage manages managed managing log logs logged logging
    keep keeps kept keeping store stores stored storing organize organizes organized
    organizing organise organises organised organising create creates created creating add
    adds added adding edit edits edited editing view views viewed viewing see sees saw seen
    assign assigns assigned assigning share shares shared sharing send sends sent sending
    receive receives received receiving invite invites invited inviting sell sells sold
    selling buy buys bought buying borrow borrows borrowed borrowing lend lends lent lending
    pay pays paid paying upload uploads uploaded uploading attach attaches attached attaching
    follow follows followed following search searches searched searching find finds found
    finding filter filters filtered filtering sort sorts sorted sorting export exports
    exported exporting import imports imported importing print prints printed printing
    monitor monitors monitored monitoring handle handles handled handling run runs ran
    running hold holds held holding contain contains contained containing include includes
    included belong belongs belonged belonging own owns owned owning want wants wanted
    allow allows allowed allowing let lets help helps helped helping support supports
    supported supporting mark marks marked marking check checks checked checking measure
    measures measured measuring compare compares compared comparing collect collects
    collected collecting browse browses browsed browsing submit submits submitted submitting
    approve approves approved approving reject rejects rejected rejecting complete completes
    completed completing close closes closed closing open opens opened opening update
    updates updated updating delete deletes deleted deleting remove removes removed removing
    cancel cancels cancelled canceled cancelling canceling confirm confirms confirmed
    confirming write writes wrote written writing read reads reading enter enters entered
    entering choose chooses chose chosen choosing pick picks picked picking link links
    linked linking connect connects connected connecting vote votes voted voting answer
    answers answered answering ask asks asked asking reply replies replied replying join
    joins joined joining leave leaves left leaving reserve reserves reserved reserving
    return returns returned returning ship ships shipped shipping deliver delivers delivered
    delivering cook cooks cooked cooking bake bakes baked baking teach teaches taught
    teaching learn learns learned learning study studies studied studying grow grows grew
    grown growing feed feeds fed feeding clean cleans cleaned repair repairs repaired
    repairing fix fixes fixed fixing maintain maintains maintained maintaining inspect
    inspects inspected inspecting get gets got gotten getting give gives gave given giving
    take takes took taken taking make makes made making use uses used using know knows
    knew known show shows showed shown showing display displays displayed displaying notify
    notifies notified notifying remind reminds reminded reminding register registers
    registered registering sign signs signed signing attend attends attended attending
    bring brings brought bringing drive drives drove driven driving ride rides rode ridden
    play plays played playing watch watches watched watching listen listens listened
    donate donates donated donating adopt adopts adopted adopting hire hires hired hiring
    employ employs employed employing earn earns earned earning spend spends spent spending
    save saves saved saving owe owes owed owing split splits transfer transfers transferred
    withdraw withdraws withdrew prescribe prescribes prescribed diagnose diagnoses diagnosed
    treat treats treated treating vaccinate vaccinated groom groomed walk walks walked
    sow sows sowed prune prunes pruned fertilize fertilized weigh weighs weighed allocate
    allocates allocated distribute distributes distributed rate rated rank ranks ranked
    calculate calculates calculated calculating generate generates generated generating
    import imported sync syncs synced set sets setting become becomes became go goes went
    come comes came lets let's want wants like likes liked love loves loved hate hates
    happen happens happened happening tell tells told say says said call calls called
    appear appears appeared belong move moves moved moving count counts counted counting
    offer offers offered offering provide provides provided providing require requires
    required requiring plan plans planned planning schedule scheduled scheduling book
    booked booking order ordered ordering record recorded recording note noted
    review reviewed reviewing post posted posting report reported reporting request
    requested requesting comment commented commenting visit visited visiting list listed
    listing rent rented renting charge charged charging bill billed billing invoice
    invoiced invoicing quote quoted quoting estimate estimated estimating budget budgeted
    tag tagged tagging label labelled labeled labeling labelling score scored scoring
    stock stocked stocking restock restocked water watered plant planted harvest harvested
    want needs wish wishes hope hopes try tries tried start starts started starting end
    ends ended finish finishes finished stop stops stopped pause paused resume resumed
    register
    """
)
"""Verb forms; a noun spelled like a verb (``visits``, ``orders``) is told apart by
:data:`NOUN_VERBS` and its position."""

NOUN_VERBS = _words(
    """
    plan plans schedule schedules book books order orders record records note notes review
    reviews post posts report reports request requests comment comments visit visits list
    lists rent rents charge charges bill bills invoice invoices quote quotes estimate
    estimates budget budgets tag tags label labels score scores stock water plant plants
    harvest harvests log logs check checks view views vote votes answer answers reply
    replies return returns ship ships repair repairs fix fixes walk walks ride rides play
    plays watch watches transfer transfers split splits rate rates rank ranks call calls
    move moves count counts offer offers match matches show shows set sets treat treats
    run runs feed feeds filter filters link links sign signs print prints search searches stops
    export exports import imports update updates message messages start end finish stop
    issue issues cover covers process processes
    """
)
"""Words that are nouns as often as verbs: nouns unless a verb reading is clear."""

GERUND_NOUNS = _words(
    """
    meeting meetings parking training trainings building buildings booking bookings listing
    listings wedding weddings clothing housing shopping painting paintings recording
    recordings setting settings landing heating lighting seating spending earnings
    savings belongings holdings offering offerings opening openings filling fillings
    cleaning serving servings sewing knitting fishing hiking camping cooking baking
    sighting sightings sibling siblings pudding ceiling ceilings evening evenings morning
    mornings string strings thing things king kings ring rings wing wings spring
    outing outings reading readings screening screenings tasting tastings fitting
    fittings ticketing accounting marketing planning routing bedding feeding feedings
    gathering gatherings warning warnings greeting greetings tracking spacing pricing
    funding rating ratings ranking rankings heading headings
    """
)
"""Words ending in -ing that name things, so they may start a compound noun."""

LY_NOUNS = _words("family families supply supplies assembly assemblies ally allies rally rallies")

ADJECTIVES = _words(
    """
    new old upcoming overdue past future recurring daily weekly monthly yearly annual
    quarterly hourly simple small large big little local shared personal private public
    favorite favourite multiple several many various different current online offline
    digital basic main full free available important easy quick internal external whole
    entire single individual separate specific certain particular related relevant recent
    latest first last next previous regular special general common popular top best good
    great nice tiny huge custom optional required incoming outgoing pending existing
    potential possible nearby open late early long short high low real actual
    complete detailed own every each any such own extra additional basic free premium
    upcoming active inactive internal lost missing broken used unused empty fresh frozen
    """
)

VAGUE_NOUNS = _words(
    """
    app apps application applications tool tools system systems platform platforms website
    websites site sites service services software program programs portal portals way ways
    place places thing things something everything anything nothing stuff information info
    detail details data list lists kind kinds lot lots bunch number numbers set sets
    collection collections overview overviews view views history histories track record
    records item items entry entries management tracking tracker trackers organizer
    organiser planner planners solution solutions feature features option
    options side sides bit bits area areas life lives
    day days time times week weeks month months year years friend friends family families
    everyone someone anyone nobody anybody everybody people person user users admin admins
    administrator administrators me myself ourselves yourself i we business businesses
    company companies organisation organization help use uses access simple
    """
)
"""Nouns too vague to name a table on their own. As the head of a compound they
still may (``line items``, ``maintenance records``, ``time entries``)."""

ACTOR_NOUNS = _words(
    "user users people person admin admins administrator administrators item items entry "
    "entries record records company companies business businesses organisation organisations "
    "organization organizations part parts piece pieces"
)
"""Who uses the app, and generic containers; such nouns become records only where the
text relates them ("the items in each room")."""

UNIT_NOUNS = _words(
    """
    centimetre centimetres centimeter centimeters cm metre metres meter meters km kilometre
    kilometres kilometer kilometers mile miles kg kilogram kilograms gram grams pound pounds
    lbs litre litres liter liters ml minute minutes hour hours second seconds day days week
    weeks month months year years euro euros dollar dollars percent degree degrees inch
    inches foot feet star stars
    """
)
"""Units of measure: "a spacing in centimetres" is about a field, not a record."""

CAPABILITY_NOUNS = _words(
    """
    search searches notification notifications reminder reminders report reports reporting
    calendar calendars export exports import imports update updates dashboard dashboards
    analytics chart charts graph graphs statistics stats summary summaries insight insights
    backup backups sync integration integrations webhook webhooks api login logins signup
    registration authentication password passwords permission permissions role roles email
    emails sms alert alerts pdf pdfs upload uploads photo photos image images picture
    pictures file files map maps feed feeds printout printouts barcode barcodes qr
    checkout
    """
)
"""Things an app *does*; they name a table only when the text treats them as records
(gives them fields or relations, or names a kind: ``incident reports``)."""

CAPABILITY_MODIFIERS = _words(
    """
    push email e-mail sms text in-app real-time realtime live instant automatic automated
    browser mobile desktop web pdf csv excel json full-text calendar slack whatsapp user
    users admin account status progress
    """
)
"""Words that say how a capability works ("push notifications"), not what records it holds."""

PEOPLE_NOUNS = _words(
    """
    client customer guest patient member student pupil parent child kid teacher tutor trainer
    coach instructor doctor nurse vet driver owner tenant landlord volunteer donor agent artist
    player employee staff worker user attendee speaker author reader subscriber supplier vendor
    contractor technician mechanic cleaner walker host participant applicant candidate
    resident visitor camper passenger rider traveler traveller buyer seller partner contact
    friend person singer musician dancer athlete caregiver therapist dentist lawyer
    accountant photographer chef cook waiter manager admin administrator teammate colleague
    """
)
"""Roles people play: "appointments with clients" refers to clients, it does not own them."""
