"""The clinic's one rule for patient-facing medicine advice (design notes, invariant 7).

No text that reaches a patient, written by the clinic or by any member of staff, may tell them to stop,
pause, hold, skip, miss, not take, come off or discontinue an anticoagulant or antiplatelet medicine (or a
"blood thinner" in general). Stopping one can cause a stroke or a clot; only the prescriber, who knows
why it was prescribed, may advise it. A practitioner may pass such advice on only when they record that the
patient's own prescriber gave it (name, role, date); the patient then reads it attributed:
"Your prescriber, Dr Shah (GP), advised on 3 March 2026: ...".

Texts about no one in particular (a treatment's pre-care and aftercare, reminder texts, screening rules'
patient texts, cancellation reasons) can never carry such advice: a prescriber advises one patient, not a
clinic. The rule lives here, in the lowest app, so `clinic`, `consultations` and `bookings` all apply the
same check (`check_patient_text`) in their models' `clean()` and their services.

How a text is read: it is split into clauses (sentences, semicolons, "but"); in each clause the rule looks
for a medicine it knows (generic and UK brand names, "blood thinner", "anticoagulant", "your prescribed
medicines") and an instruction verb tied to it:
- a stop-like verb before the medicine, with nothing in between that starts another thought ("if",
  "when", "with"...): "Please stop taking your apixaban", "Skip tomorrow's dose of warfarin";
- the medicine, then the verb as its subject: "Warfarin: stop 2 days before", "Your Xarelto should be paused";
- "do not take", "no longer take", "no warfarin", "without taking your Eliquis".
A verb led by a negation ("do not stop", "never skip", "there is no need to pause") is the advice the
clinic wants and passes. Aspirin counts unless the clause is about pain relief ("avoid aspirin for pain"),
since a daily aspirin is prescribed and a painkiller is not.
"""

import datetime
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from clinic import clock

# How old a prescriber's advice may be when a practitioner records it: older advice must be asked again.
PRESCRIBER_ADVICE_MAX_AGE_DAYS = 90


def _words(text: str) -> set[str]:
    return set(text.split())


# Medicine name (as written, lower case, spaces for hyphens) -> how the suggested wording names it.
_MEDICINES = {
    "warfarin": "warfarin",
    "marevan": "warfarin",
    "coumadin": "warfarin",
    "acenocoumarol": "acenocoumarol",
    "sinthrome": "acenocoumarol",
    "phenindione": "phenindione",
    "apixaban": "apixaban",
    "eliquis": "apixaban (Eliquis)",
    "rivaroxaban": "rivaroxaban",
    "xarelto": "rivaroxaban (Xarelto)",
    "edoxaban": "edoxaban",
    "lixiana": "edoxaban (Lixiana)",
    "dabigatran": "dabigatran",
    "pradaxa": "dabigatran (Pradaxa)",
    "clopidogrel": "clopidogrel",
    "plavix": "clopidogrel (Plavix)",
    "grepid": "clopidogrel",
    "ticagrelor": "ticagrelor",
    "brilique": "ticagrelor (Brilique)",
    "prasugrel": "prasugrel",
    "efient": "prasugrel (Efient)",
    "dipyridamole": "dipyridamole",
    "persantin": "dipyridamole",
    "heparin": "heparin",
    "enoxaparin": "enoxaparin",
    "clexane": "enoxaparin (Clexane)",
    "dalteparin": "dalteparin",
    "fragmin": "dalteparin (Fragmin)",
    "tinzaparin": "tinzaparin",
    "innohep": "tinzaparin",
    "aspirin": "aspirin",
}
_GENERAL = (
    r"blood thinn(?:er|ers|ing (?:medicines?|medications?|tablets?|pills?|drugs?|injections?))"
    r"|anti ?coagulants?|anti ?coagulation|anti ?platelets?(?: medicines?| medications?| tablets?)?"
    r"|doacs?|noacs?"
    r"|(?:prescribed|regular|usual|your|all) (?:medicines?|medications?|tablets?|pills?)"
)
_TARGET = re.compile(r"\b(?:" + "|".join(sorted(_MEDICINES, key=len, reverse=True)) + "|" + _GENERAL + r")\b")
# A medicine's name followed by one of these is about something else: "your warfarin book", "the INR clinic".
_NOT_THE_MEDICINE_AFTER = re.compile(
    r"^ (?:card|cards|book|booklet|record|records|clinic|clinics|alert|level|levels|test|tests|result|results|"
    r"monitoring|service|team|nurse|chart|dosing chart|yellow book)\b"
)
_PAIN_RELIEF = re.compile(r"\b(?:pain|pains|painkillers?|pain relief|headaches?|aches?|fever|hangover)\b")
_PRESCRIBED_ASPIRIN = re.compile(r"\b(?:daily|low dose|prescribed|your|regular|75 ?mg)\s+aspirin|aspirin 75")

_STOP_VERBS = _words(
    "stop stops stopping stopped pause pauses pausing paused hold holds holding held withhold withholds "
    "withholding withheld skip skips skipping skipped miss misses missing missed omit omits omitting omitted "
    "discontinue discontinues discontinuing discontinued cease ceases ceasing ceased quit quits quitting "
    "suspend suspends suspending suspended interrupt interrupts interrupting interrupted halt halts halting "
    "halted drop drops dropping dropped avoid avoids avoiding avoided forgo forgoing forego foregoing refrain "
    "refraining off break reduce reducing halve halving"
)
# Two-word instructions, joined to one token before reading: "leave out", "cut out", "give up".
_PHRASES = {
    "leave out": "omit",
    "leaving out": "omit",
    "cut out": "omit",
    "cutting out": "omit",
    "give up": "quit",
    "giving up": "quit",
    "go without": "omit",
    "do without": "omit",
    "such as": "like",
    "come back on": "resume",
}
# "Do not take your warfarin", "no longer take", "never take": the negation IS the instruction.
_NOT_TAKE = re.compile(
    r"\b(?:not|never|no longer|stop|cease|quit)(?: to)?(?: be)? (?:tak(?:e|es|ing|en)|have|use|using)\b"
)
_NEGATORS = {"not", "never", "no", "nor"}
# Words that may sit between a negation and its verb: "do not ever stop", "no need to pause", "we will never
# ask you to stop", "do not stop, pause or skip".
_NEGATION_FILLER = {
    *_STOP_VERBS,
    *_words(
        "or and to be been is are should must will would can could may do does did please we you i they "
        "ever suddenly just simply yourself need needs have has had ask asked tell told advise advised your "
        "own it them this"
    ),
}
# Words that start another thought: a verb before them is not about the medicine after them.
_BREAKERS = _words(
    "if when whenever because while since unless although though until whether but so with alongside "
    "than who which after once"
)
# Between the medicine and a verb it is the subject of: "Your warfarin should be stopped", "Xarelto: stop".
_SUBJECT_FILLER = _words(
    "should must will would need needs to be been is are has have can may then dose doses tablet tablets "
    "medicine medication therapy treatment it please"
)
VERB_BEFORE_WINDOW = 7


@dataclass(frozen=True)
class StopAdvice:
    """One clause that tells a patient to stop a blood thinner, and the medicine it names."""

    clause: str
    medicine: str

    @property
    def suggested_wording(self) -> str:
        return suggested_wording(self.medicine)


def suggested_wording(medicine: str) -> str:
    return (
        f"Do not stop or change your {medicine} unless the doctor or nurse who prescribed it tells you to. "
        "Please ask your prescriber whether anything should change before your session, and tell us what "
        "they advise."
    )


def _normalise(text: str) -> str:
    text = (text or "").lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"n't\b", " not", text)  # don't -> do not, shouldn't -> should not, can't -> ca not
    text = re.sub(r"(?<=\w)[-\u2010\u2011\u2013/](?=\w)", " ", text)  # blood-thinning, anti-coagulant
    return text


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in re.split(r"[.!?;\n\u2022]+|\bbut\b|\bhowever\b", text) if c.strip()]


def _tokens(clause: str) -> list[str]:
    words = " ".join(re.findall(r"[a-z0-9']+", clause))
    for phrase, token in _PHRASES.items():
        words = re.sub(rf"\b{phrase}\b", token, words)
    words = _NOT_TAKE.sub(" nottake ", words)
    return words.split()


def _medicines_in(tokens: list[str]) -> list[tuple[int, int, str]]:
    """(first token, last token, medicine as the suggestion names it) for each medicine in a clause."""
    joined = " ".join(tokens)
    found = []
    about_pain = bool(_PAIN_RELIEF.search(joined))
    for match in _TARGET.finditer(joined):
        if _NOT_THE_MEDICINE_AFTER.match(joined[match.end() :]):
            continue
        name = match.group(0)
        if name == "aspirin" and about_pain and not _PRESCRIBED_ASPIRIN.search(joined):
            continue
        first = joined[: match.start()].count(" ")
        last = first + name.count(" ")
        found.append((first, last, _MEDICINES.get(name, "blood thinner" if "thinn" in name else name)))
    return found


def _negated(tokens: list[str], at: int) -> bool:
    for back in range(at - 1, max(at - 7, -1), -1):
        word = tokens[back]
        if word in _NEGATORS:
            return True
        if word not in _NEGATION_FILLER:
            return False
    return False


def _verb_tied_to(tokens: list[str], verb_at: int, medicines) -> str | None:
    for first, last, medicine in medicines:
        between = tokens[verb_at + 1 : first]
        if first > verb_at and len(between) <= VERB_BEFORE_WINDOW and not _BREAKERS & set(between):
            return medicine
        between = tokens[last + 1 : verb_at]
        if verb_at > last and len(between) <= 4 and set(between) <= _SUBJECT_FILLER:
            return medicine
    return None


def find_stop_advice(text: str) -> list[StopAdvice]:
    """Every clause of `text` that tells the patient to stop (pause, skip...) a blood thinner."""
    found = []
    for clause in _clauses(_normalise(text)):
        tokens = _tokens(clause)
        medicines = _medicines_in(tokens)
        if not medicines:
            continue
        for at, word in enumerate(tokens):
            if word == "without" or (word == "nottake" and not _negated(tokens, at)):
                medicine = _verb_tied_to(tokens, at, medicines)
            elif word == "no" and at + 1 < len(tokens) and any(first in (at + 1, at + 2) for first, _, _ in medicines):
                medicine = next(m for first, _, m in medicines if first in (at + 1, at + 2))
            elif word in _STOP_VERBS and not _negated(tokens, at):
                medicine = _verb_tied_to(tokens, at, medicines)
            else:
                medicine = None
            if medicine:
                found.append(StopAdvice(clause=clause, medicine=medicine))
                break
    return found


def tells_patient_to_stop_medicine(text: str) -> bool:
    return bool(find_stop_advice(text))


@dataclass(frozen=True)
class PrescriberAdvice:
    """Who prescribed, and when they advised: the only source a stop instruction may come from."""

    name: str
    role: str
    advised_on: datetime.date

    def attribute(self, text: str) -> str:
        return f"Your prescriber, {self.name} ({self.role}), advised on {self.advised_on:%-d %B %Y}: {text}"


def prescriber_advice_problems(
    *, name: str, role: str, advised_on: datetime.date | None, today: datetime.date | None = None
) -> dict[str, str]:
    """What is missing or wrong in a recorded prescriber's advice (empty when it can be relied on)."""
    today = today or clock.today()
    problems = {}
    if not (name or "").strip():
        problems["prescriber_name"] = "Give the prescriber's name, e.g. Dr Shah."
    if not (role or "").strip():
        problems["prescriber_role"] = "Give the prescriber's role, e.g. GP, cardiologist, anticoagulation nurse."
    if advised_on is None:
        problems["prescriber_advised_on"] = "Give the date the prescriber gave this advice."
    elif advised_on > today:
        problems["prescriber_advised_on"] = "This date is in the future: give the day the prescriber advised."
    elif (today - advised_on).days > PRESCRIBER_ADVICE_MAX_AGE_DAYS:
        problems["prescriber_advised_on"] = (
            f"This advice is more than {PRESCRIBER_ADVICE_MAX_AGE_DAYS} days old: ask the prescriber again."
        )
    return problems


def refusal_message(advice: StopAdvice, *, attributable: bool) -> str:
    how = (
        " If the patient's own prescriber gave this advice, write it under \"Advice from the patient's "
        'prescriber" with their name, role and the date they advised it: the patient reads it as theirs.'
        if attributable
        else " Advice from a patient's own prescriber can be recorded only with a practitioner's review of "
        "that patient, never in a text for all patients or in a booking note."
    )
    return (
        f'This tells a patient to stop or skip a blood thinner ("{advice.clause}"). Only the prescriber who '
        f'knows why it was prescribed may advise that. Suggested wording: "{advice.suggested_wording}"' + how
    )


def check_patient_text(
    text: str,
    *,
    field: str | None = None,
    prescriber: PrescriberAdvice | None = None,
    attributable: bool = False,
) -> None:
    """Raise ValidationError (on `field` when given) if `text` tells a patient to stop a blood thinner and no
    prescriber's advice is recorded for it. `prescriber` is only ever given for one patient's text;
    `attributable` says the refusal may point to the place where a prescriber's advice can be recorded."""
    if prescriber is not None:
        return
    findings = find_stop_advice(text)
    if not findings:
        return
    message = refusal_message(findings[0], attributable=attributable)
    raise ValidationError({field: message} if field else message)


def check_patient_texts(instance, fields) -> None:
    """A model's `clean()`: every named patient-facing field passes the rule, all errors at once."""
    errors = {}
    for name in fields:
        findings = find_stop_advice(getattr(instance, name, "") or "")
        if findings:
            errors[name] = refusal_message(findings[0], attributable=False)
    if errors:
        raise ValidationError(errors)
