"""Measurement-based-care instruments: item text, answer options, scoring and bands.

Pure code (no database): ``score(code, answers)`` checks a complete answer set and returns a
``Result``; an incomplete or invalid set raises ``AnswerError`` naming each bad item, so
nothing half-scored is ever stored.

Every fact comes from ../shared/reference/clinical.md §3, with its certainty mark
(✔ checked in a source, ~ widely documented, ? domain knowledge). Wording that the reference
leaves out (the MDQ items, the AIMS examples, the GAD-7 difficulty item) is the published
wording as reproduced by several public copies; those are marked ~ and listed in ``source``.
The C-SSRS is deliberately absent: electronic use is exclusively licensed (§3a).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext_noop

PHQ9, GAD7, PHQ2, GAD2, ASRS_A, MDQ, AIMS = "phq9", "gad7", "phq2", "gad2", "asrs_a", "mdq", "aims"

PATIENT, CLINICIAN = "patient", "clinician"
EMERGENCY, URGENT, ROUTINE = "emergency", "urgent", "routine"


class AnswerError(ValueError):
    """The answers cannot be scored. ``errors`` maps item keys (or "__all__") to a message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{key}: {message}" for key, message in errors.items()))


@dataclass(frozen=True)
class Option:
    value: int | str
    label: str
    points: int = 0
    # ASRS: the official form shades the boxes that count towards a positive screen.
    shaded: bool = False


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    options: tuple[Option, ...]
    scored: bool = True
    required: bool = True
    hint: str = ""
    group: str = ""

    def option(self, value) -> Option | None:
        return next((o for o in self.options if str(o.value) == str(value)), None)


@dataclass(frozen=True)
class Band:
    code: str
    label: str
    low: int
    high: int
    # Higher = worse; used for "up a band".
    rank: int = 0


@dataclass(frozen=True)
class Result:
    instrument: str
    total: int
    band: str
    band_label: str
    answers: dict
    positive: bool | None = None
    triage_level: str = ROUTINE
    triage_reasons: tuple[str, ...] = ()
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    title: str
    stem: str
    items: tuple[Item, ...]
    rater: str
    max_total: int
    bands: tuple[Band, ...]
    copyright: str
    source: str
    total_label: str = "Total"
    # Scores over time make sense on one axis for these (the chart draws them).
    charted: bool = False
    # Instruments whose terms for electronic use are not confirmed (§3a, "?"): a clinic can
    # switch them off with TITRATE_DISABLED_INSTRUMENTS until it has confirmed them.
    licence_note: str = ""
    scorer: Callable[[Instrument, dict], Result] | None = None

    @property
    def patient_rated(self) -> bool:
        return self.rater == PATIENT

    def item(self, key: str) -> Item:
        return next(i for i in self.items if i.key == key)

    def band_for(self, total: int) -> Band:
        return next(b for b in self.bands if b.low <= total <= b.high)

    def band(self, code: str) -> Band | None:
        return next((b for b in self.bands if b.code == code), None)

    def score(self, answers: Mapping) -> Result:
        clean = validate(self, answers)
        return (self.scorer or _sum_score)(self, clean)


def validate(instrument: Instrument, answers: Mapping) -> dict:
    """Every required item answered with one of its options, nothing unknown. Returns the
    answers normalised to the options' own values (ints stay ints)."""
    if not isinstance(answers, Mapping):
        raise AnswerError({"__all__": "Answers must be given item by item."})
    known = {item.key for item in instrument.items}
    errors: dict[str, str] = {}
    unknown = sorted(str(key) for key in answers if str(key) not in known)
    if unknown:
        errors["__all__"] = f"{instrument.name} has no item {', '.join(unknown)}."
    clean = {}
    for item in instrument.items:
        raw = answers.get(item.key)
        if raw is None or raw == "":
            if item.required:
                errors[item.key] = gettext_noop("Choose an answer.")
            continue
        option = item.option(raw)
        if option is None:
            errors[item.key] = gettext_noop("Choose one of the answers shown.")
            continue
        clean[item.key] = option.value
    if errors:
        raise AnswerError(errors)
    return clean


def score(code: str, answers: Mapping) -> Result:
    return get(code).score(answers)


def _points(instrument: Instrument, answers: dict, keys=None) -> int:
    return sum(
        instrument.item(key).option(value).points
        for key, value in answers.items()
        if instrument.item(key).scored and (keys is None or key in keys)
    )


def _sum_score(instrument: Instrument, answers: dict) -> Result:
    total = _points(instrument, answers)
    band = instrument.band_for(total)
    level, reasons = ROUTINE, ()
    # §3b ✔: item 9 ≥ 1 (any answer but "Not at all") → same-day suicide-risk follow-up, and
    # the patient sees crisis resources at once, whatever the total.
    if instrument.code == PHQ9 and answers.get("9", 0) >= 1:
        level = EMERGENCY
        chosen = instrument.item("9").option(answers["9"]).label
        reasons = (f"PHQ-9 item 9 (thoughts of being better off dead or of self-harm): “{chosen}”",)
    positive = band.code == "positive" if instrument.code in (PHQ2, GAD2) else None
    if instrument.code == GAD7:
        positive = total >= 10  # §3a ✔: ≥10 = positive screen
    return Result(instrument.code, total, band.code, band.label, answers, positive, level, reasons)


def _asrs_score(instrument: Instrument, answers: dict) -> Result:
    shaded = sum(1 for key, value in answers.items() if instrument.item(key).option(value).shaded)
    band = instrument.band_for(shaded)
    return Result(
        instrument.code,
        shaded,
        band.code,
        band.label,
        answers,
        positive=band.code == "positive",
        detail={"shaded": shaded, "sum": _points(instrument, answers)},
    )


def _mdq_score(instrument: Instrument, answers: dict) -> Result:
    yes = sum(1 for key in MDQ_Q1_KEYS if answers[key] == "yes")
    # §3a ✔: ≥7 "yes" in Q1 AND "yes" to Q2 AND "moderate" or "serious" in Q3.
    positive = yes >= 7 and answers["same_period"] == "yes" and answers["problem"] in ("moderate", "serious")
    band = instrument.band("positive" if positive else "negative")
    return Result(
        instrument.code,
        yes,
        band.code,
        band.label,
        answers,
        positive=positive,
        detail={"q1_yes": yes, "same_period": answers["same_period"], "problem": answers["problem"]},
    )


def _aims_score(instrument: Instrument, answers: dict) -> Result:
    movement = [answers[key] for key in AIMS_MOVEMENT_KEYS]
    total = sum(movement)
    mild_areas = sum(1 for rating in movement if rating >= 2)
    moderate_areas = sum(1 for rating in movement if rating >= 3)
    # §3a ✔ Schooler–Kane: ≥2 (mild) in ≥2 body areas or ≥3 (moderate) in ≥1 area. Each of
    # items 1–7 is taken as one body area (as in the TD trials that use AIMS items 1–7).
    met = mild_areas >= 2 or moderate_areas >= 1
    band = instrument.band("criteria_met" if met else "criteria_not_met")
    return Result(
        instrument.code,
        total,
        band.code,
        band.label,
        answers,
        positive=met,
        detail={"areas_mild_or_more": mild_areas, "areas_moderate_or_more": moderate_areas},
    )


# -- PHQ and GAD (© Pfizer; "No permission required to reproduce, translate, display or distribute" ✔)

FREQUENCY = (
    Option(0, "Not at all", 0),
    Option(1, "Several days", 1),
    Option(2, "More than half the days", 2),
    Option(3, "Nearly every day", 3),
)
DIFFICULTY = (
    Option(0, "Not difficult at all"),
    Option(1, "Somewhat difficult"),
    Option(2, "Very difficult"),
    Option(3, "Extremely difficult"),
)
PHQ_STEM = "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
GAD_STEM = "Over the last 2 weeks, how often have you been bothered by the following problems?"
PHQ_ITEMS = (
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so fidgety or "
    "restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead or of hurting yourself in some way",
)
GAD_ITEMS = (
    "Feeling nervous, anxious, or on edge",
    "Not being able to stop or control worrying",
    "Worrying too much about different things",
    "Trouble relaxing",
    "Being so restless that it is hard to sit still",
    "Becoming easily annoyed or irritable",
    "Feeling afraid, as if something awful might happen",
)
PFIZER = "© Pfizer Inc. No permission required to reproduce, translate, display or distribute."


def _frequency_items(texts) -> tuple[Item, ...]:
    return tuple(Item(str(n), text, FREQUENCY) for n, text in enumerate(texts, start=1))


def _difficulty(text: str) -> Item:
    # Unscored, and asked only "if you checked off any problems": optional.
    return Item("difficulty", text, DIFFICULTY, scored=False, required=False)


def _screen_bands(follow_up: str) -> tuple[Band, ...]:
    return (
        Band("negative", "Negative screen", 0, 2, 0),
        Band("positive", f"Positive screen — {follow_up}", 3, 6, 1),
    )


PHQ9_INSTRUMENT = Instrument(
    code=PHQ9,
    name="PHQ-9",
    title="Patient Health Questionnaire (PHQ-9)",
    stem=PHQ_STEM,
    items=(
        *_frequency_items(PHQ_ITEMS),
        _difficulty(
            "If you checked off any problems, how difficult have these problems made it for you to do your work, "
            "take care of things at home, or get along with other people?"
        ),
    ),
    rater=PATIENT,
    max_total=27,
    bands=(
        Band("minimal", "None–minimal", 0, 4, 0),
        Band("mild", "Mild", 5, 9, 1),
        Band("moderate", "Moderate", 10, 14, 2),
        Band("moderately_severe", "Moderately severe", 15, 19, 3),
        Band("severe", "Severe", 20, 27, 4),
    ),
    copyright=PFIZER,
    source="clinical.md §3a/§3b: items, options (LOINC LL358-3 ✔), bands 0–4/5–9/10–14/15–19/20–27 ✔, "
    "item 9 ≥1 → same-day suicide-risk follow-up ✔, remission <5 ~; total LOINC 44261-6 ✔.",
    charted=True,
)
GAD7_INSTRUMENT = Instrument(
    code=GAD7,
    name="GAD-7",
    title="Generalized Anxiety Disorder scale (GAD-7)",
    stem=GAD_STEM,
    items=(
        *_frequency_items(GAD_ITEMS),
        _difficulty(
            "If you checked off any problems, how difficult have these made it for you to do your work, "
            "take care of things at home, or get along with other people?"
        ),
    ),
    rater=PATIENT,
    max_total=21,
    bands=(
        Band("minimal", "Minimal", 0, 4, 0),
        Band("mild", "Mild", 5, 9, 1),
        Band("moderate", "Moderate", 10, 14, 2),
        Band("severe", "Severe", 15, 21, 3),
    ),
    copyright=PFIZER,
    source="clinical.md §3a/§3c: items ?, options as PHQ-9 ✔, bands 0–4/5–9/10–14/15–21 and ≥10 positive ✔; "
    "panel LOINC 69737-5 ✔, total 70274-6 ✔. Difficulty item: the GAD-7 form's own wording "
    "('have these made it', ~; the reference says 'same as PHQ-9').",
    charted=True,
)
PHQ2_INSTRUMENT = Instrument(
    code=PHQ2,
    name="PHQ-2",
    title="Patient Health Questionnaire-2 (PHQ-2)",
    stem=PHQ_STEM,
    items=_frequency_items(PHQ_ITEMS[:2]),
    rater=PATIENT,
    max_total=6,
    bands=_screen_bands("give the full PHQ-9"),
    copyright=PFIZER,
    source="clinical.md §3a: PHQ-9 items 1–2, 0–6, ≥3 positive → give the full PHQ-9 ✔.",
)
GAD2_INSTRUMENT = Instrument(
    code=GAD2,
    name="GAD-2",
    title="Generalized Anxiety Disorder-2 (GAD-2)",
    stem=GAD_STEM,
    items=_frequency_items(GAD_ITEMS[:2]),
    rater=PATIENT,
    max_total=6,
    bands=_screen_bands("give the full GAD-7"),
    copyright=PFIZER,
    source="clinical.md §3a/§3c: GAD-7 items 1–2, 0–6, ≥3 positive (§3a, no mark).",
)

# -- ASRS v1.1 Part A ------------------------------------------------------------------------

ASRS_TEXTS = (
    "How often do you have trouble wrapping up the final details of a project, once the challenging parts have "
    "been done?",
    "How often do you have difficulty getting things in order when you have to do a task that requires organization?",
    "How often do you have problems remembering appointments or obligations?",
    "When you have a task that requires a lot of thought, how often do you avoid or delay getting started?",
    "How often do you fidget or squirm with your hands or feet when you have to sit down for a long time?",
    "How often do you feel overly active and compelled to do things, like you were driven by a motor?",
)
ASRS_LABELS = ("Never", "Rarely", "Sometimes", "Often", "Very Often")
# §3d ✔: items 1–3 shaded from "Sometimes", items 4–6 from "Often".
ASRS_SHADED_FROM = (2, 2, 2, 3, 3, 3)


def _asrs_items() -> tuple[Item, ...]:
    return tuple(
        Item(
            str(n),
            text,
            tuple(Option(v, label, v, shaded=v >= threshold) for v, label in enumerate(ASRS_LABELS)),
        )
        for n, (text, threshold) in enumerate(zip(ASRS_TEXTS, ASRS_SHADED_FROM, strict=True), start=1)
    )


ASRS_INSTRUMENT = Instrument(
    code=ASRS_A,
    name="ASRS v1.1 Part A",
    title="Adult ADHD Self-Report Scale (ASRS v1.1) — Part A screener",
    stem="Please answer the questions below, rating yourself on each of the criteria shown. As you answer each "
    "question, select the box that best describes how you have felt and conducted yourself over the past 6 months.",
    items=_asrs_items(),
    rater=PATIENT,
    max_total=6,
    bands=(
        Band("negative", "Negative screen", 0, 3, 0),
        Band("positive", "Positive screen — symptoms highly consistent with adult ADHD; assess further", 4, 6, 1),
    ),
    copyright="ASRS v1.1 © New York University and Harvard University, in collaboration with the World Health "
    "Organization. Reproduced unaltered (response options and shading).",
    source="clinical.md §3a/§3d: 6 items, Never–Very Often (0–4), shaded thresholds per item, ≥4 shaded = positive ✔ "
    "(thresholds: confirm against the official PDF). The newer 0–24 scoring is not used.",
    total_label="Shaded answers",
    licence_note="Must be reproduced unaltered; terms for electronic embedding not confirmed with the rights "
    "holder (§3a ?).",
    scorer=_asrs_score,
)

# -- MDQ -------------------------------------------------------------------------------------

YES_NO = (Option("yes", "Yes", 1), Option("no", "No", 0))
MDQ_Q1 = (
    "…you felt so good or so hyper that other people thought you were not your normal self or you were so hyper "
    "that you got into trouble?",
    "…you were so irritable that you shouted at people or started fights or arguments?",
    "…you felt much more self-confident than usual?",
    "…you got much less sleep than usual and found you didn't really miss it?",
    "…you were much more talkative or spoke faster than usual?",
    "…thoughts raced through your head or you couldn't slow your mind down?",
    "…you were so easily distracted by things around you that you had trouble concentrating or staying on track?",
    "…you had much more energy than usual?",
    "…you were much more active or did many more things than usual?",
    "…you were much more social or outgoing than usual, for example, you telephoned friends in the middle of the "
    "night?",
    "…you were much more interested in sex than usual?",
    "…you did things that were unusual for you or that other people might have thought were excessive, foolish, "
    "or risky?",
    "…spending money got you or your family into trouble?",
)
MDQ_Q1_KEYS = tuple(str(n) for n in range(1, 14))
MDQ_GROUP = "1. Has there ever been a period of time when you were not your usual self and…"
MDQ_INSTRUMENT = Instrument(
    code=MDQ,
    name="MDQ",
    title="Mood Disorder Questionnaire (MDQ)",
    stem="Please answer each question as best you can.",
    items=(
        *(Item(key, text, YES_NO, group=MDQ_GROUP) for key, text in zip(MDQ_Q1_KEYS, MDQ_Q1, strict=True)),
        Item(
            "same_period",
            "2. If you checked YES to more than one of the above, have several of these ever happened during the "
            "same period of time?",
            YES_NO,
            scored=False,
        ),
        Item(
            "problem",
            "3. How much of a problem did any of these cause you — like being unable to work; having family, money "
            "or legal troubles; getting into arguments or fights?",
            (
                Option("none", "No problem"),
                Option("minor", "Minor problem"),
                Option("moderate", "Moderate problem"),
                Option("serious", "Serious problem"),
            ),
            scored=False,
        ),
        Item(
            "relatives",
            "4. Have any of your blood relatives (i.e., children, siblings, parents, grandparents, aunts, uncles) had "
            "manic-depressive illness or bipolar disorder?",
            YES_NO,
            scored=False,
            required=False,
        ),
        Item(
            "told",
            "5. Has a health professional ever told you that you have manic-depressive illness or bipolar disorder?",
            YES_NO,
            scored=False,
            required=False,
        ),
    ),
    rater=PATIENT,
    max_total=13,
    bands=(
        Band("negative", "Negative screen", 0, 13, 0),
        Band("positive", "Positive screen for bipolar spectrum disorder — assess further", 0, 13, 1),
    ),
    copyright="MDQ © 2000 Hirschfeld et al.",
    source="clinical.md §3a ✔: Q1 13 yes/no, Q2 same period, Q3 impairment none/minor/moderate/serious; positive = "
    "≥7 yes AND Q2 yes AND Q3 moderate or serious. Item wording (not in the reference) as published, ~; Q4–Q5 "
    "unscored and optional.",
    total_label="“Yes” answers to question 1",
    licence_note="Terms for use in commercial software unverified (§3a ?).",
    scorer=_mdq_score,
)

# -- AIMS (clinician-rated; NIMH/ECDEU, public domain ~) -------------------------------------------

SEVERITY = (
    Option(0, "None", 0),
    Option(1, "Minimal, may be extreme normal", 1),
    Option(2, "Mild", 2),
    Option(3, "Moderate", 3),
    Option(4, "Severe", 4),
)
GLOBAL = (
    Option(0, "None, normal", 0),
    Option(1, "Minimal", 1),
    Option(2, "Mild", 2),
    Option(3, "Moderate", 3),
    Option(4, "Severe", 4),
)
AWARENESS = (
    Option(0, "No awareness", 0),
    Option(1, "Aware, no distress", 1),
    Option(2, "Aware, mild distress", 2),
    Option(3, "Aware, moderate distress", 3),
    Option(4, "Aware, severe distress", 4),
)
AIMS_MOVEMENT_KEYS = tuple(str(n) for n in range(1, 8))
FACIAL, EXTREMITY, TRUNK = "Facial and oral movements", "Extremity movements", "Trunk movements"
AIMS_INSTRUMENT = Instrument(
    code=AIMS,
    name="AIMS",
    title="Abnormal Involuntary Movement Scale (AIMS)",
    stem="Rate the highest severity observed. Rate movements that occur only on activation one point less than "
    "those observed spontaneously.",
    items=(
        Item(
            "1",
            "1. Muscles of facial expression",
            SEVERITY,
            group=FACIAL,
            hint="e.g. movements of forehead, eyebrows, periorbital area, cheeks; include frowning, blinking, "
            "smiling, grimacing",
        ),
        Item("2", "2. Lips and perioral area", SEVERITY, group=FACIAL, hint="e.g. puckering, pouting, smacking"),
        Item(
            "3",
            "3. Jaw",
            SEVERITY,
            group=FACIAL,
            hint="e.g. biting, clenching, chewing, mouth opening, lateral movement",
        ),
        Item(
            "4",
            "4. Tongue",
            SEVERITY,
            group=FACIAL,
            hint="Rate only increases in movement both in and out of mouth, not inability to sustain movement",
        ),
        Item(
            "5",
            "5. Upper (arms, wrists, hands, fingers)",
            SEVERITY,
            group=EXTREMITY,
            hint="Choreic (rapid, objectively purposeless, irregular, spontaneous) or athetoid (slow, irregular, "
            "complex, serpentine) movements. Do not include tremor (repetitive, regular, rhythmic).",
        ),
        Item(
            "6",
            "6. Lower (legs, knees, ankles, toes)",
            SEVERITY,
            group=EXTREMITY,
            hint="e.g. lateral knee movement, foot tapping, heel dropping, foot squirming, inversion and eversion "
            "of foot",
        ),
        Item(
            "7",
            "7. Neck, shoulders, hips",
            SEVERITY,
            group=TRUNK,
            hint="e.g. rocking, twisting, squirming, pelvic gyrations",
        ),
        Item("8", "8. Severity of abnormal movements", GLOBAL, scored=False, group="Global judgements"),
        Item("9", "9. Incapacitation due to abnormal movements", GLOBAL, scored=False, group="Global judgements"),
        Item(
            "10",
            "10. Patient's awareness of abnormal movements (rate only the patient's report)",
            AWARENESS,
            scored=False,
            group="Global judgements",
        ),
        Item("11", "11. Current problems with teeth and/or dentures?", YES_NO, scored=False, group="Dental status"),
        Item("12", "12. Does the patient usually wear dentures?", YES_NO, scored=False, group="Dental status"),
    ),
    rater=CLINICIAN,
    max_total=28,
    bands=(
        Band("criteria_not_met", "Below the Schooler–Kane movement threshold", 0, 28, 0),
        Band(
            "criteria_met",
            "Schooler–Kane movement criteria for probable tardive dyskinesia met (also needs ≥3 months of "
            "cumulative antipsychotic exposure)",
            0,
            28,
            1,
        ),
    ),
    copyright="AIMS: NIMH/ECDEU (Guy 1976), public domain.",
    source="clinical.md §3a/§3f: 12 items; items 1–7 rated 0–4 (anchors ✔), total 0–28 ✔; Schooler–Kane ✔; "
    "activation rule ✔; public domain ~. Examples under items 1–7 as on the published form, ~.",
    total_label="Total (items 1–7)",
    scorer=_aims_score,
)

INSTRUMENTS: dict[str, Instrument] = {
    i.code: i
    for i in (
        PHQ9_INSTRUMENT,
        GAD7_INSTRUMENT,
        PHQ2_INSTRUMENT,
        GAD2_INSTRUMENT,
        ASRS_INSTRUMENT,
        MDQ_INSTRUMENT,
        AIMS_INSTRUMENT,
    )
}
CHOICES = [(code, instrument.name) for code, instrument in INSTRUMENTS.items()]

# -- Spanish (issue 22): the published Spanish (USA) versions of the PHQ and GAD screeners ------
#
# Text as Pfizer publishes it with the English forms ("PHQ-9 Spanish for the USA", "GAD-7 Spanish
# for the USA", phqscreeners.com; © Pfizer, "No permission required to reproduce, translate,
# display or distribute" ✔), checked against public reproductions of those forms (~). The short
# screens are their parents' first two items, as in English. Item keys, option values, points and
# bands are the English instrument's: a Spanish response is scored by the same code and stores
# the same numbers, so a PHQ-9 scores identically in either language. Instruments without a
# validated Spanish version here (ASRS, MDQ; the AIMS is clinician-rated) are not offered in
# Spanish at all: no ad hoc translation of a validated instrument.
SPANISH = "es"
FREQUENCY_ES = ("Ningún día", "Varios días", "Más de la mitad de los días", "Casi todos los días")
GAD_FREQUENCY_ES = ("Nunca", "Varios días", "Más de la mitad de los días", "Casi todos los días")
DIFFICULTY_ES = ("No ha sido difícil", "Un poco difícil", "Muy difícil", "Extremadamente difícil")
DIFFICULTY_ITEM_ES = (
    "Si marcó cualquiera de los problemas, ¿qué tanta dificultad le han dado estos problemas para hacer su "
    "trabajo, encargarse de las tareas del hogar, o llevarse bien con otras personas?"
)
PHQ_STEM_ES = "Durante las últimas 2 semanas, ¿qué tan seguido ha tenido molestias debido a los siguientes problemas?"
GAD_STEM_ES = "Durante las últimas 2 semanas, ¿con qué frecuencia ha sentido molestias por los siguientes problemas?"
PHQ_ITEMS_ES = (
    "Poco interés o placer en hacer cosas",
    "Se ha sentido decaído(a), deprimido(a) o sin esperanzas",
    "Ha tenido dificultad para quedarse o permanecer dormido(a), o ha dormido demasiado",
    "Se ha sentido cansado(a) o con poca energía",
    "Sin apetito o ha comido en exceso",
    "Se ha sentido mal con usted mismo(a) – o que es un fracaso o que ha quedado mal con usted mismo(a) o con "
    "su familia",
    "Ha tenido dificultad para concentrarse en ciertas actividades, tales como leer el periódico o ver la televisión",
    "¿Se ha movido o hablado tan lento que otras personas podrían haberlo notado? o lo contrario – muy "
    "inquieto(a) o agitado(a) que ha estado moviéndose mucho más de lo normal",
    "Pensamientos de que estaría mejor muerto(a) o de lastimarse de alguna manera",
)
GAD_ITEMS_ES = (
    "Se ha sentido nervioso(a), ansioso(a) o con los nervios de punta",
    "No ha sido capaz de parar o controlar su preocupación",
    "Se ha preocupado demasiado por motivos diferentes",
    "Ha tenido dificultad para relajarse",
    "Se ha sentido tan inquieto(a) que no ha podido quedarse quieto(a)",
    "Se ha molestado o irritado fácilmente",
    "Ha tenido miedo de que algo terrible fuera a pasar",
)
PFIZER_ES = "© Pfizer Inc. No se requiere permiso para reproducir, traducir, mostrar o distribuir."
# The PHQ-9 form's own attribution line, as printed on a reproduction of the Spanish (USA) PHQ-9
# (es.studenta.com/content/129686767/patient-health-questionnaire-9-spanish, read 2026-12-06); the GAD-7
# form was not found, so the GAD screeners keep PFIZER_ES.
PFIZER_PHQ_ES = (
    "Elaborado por los doctores Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke y colegas, mediante una "
    "subvención educativa otorgada por Pfizer Inc. No se requiere permiso para reproducir, traducir, presentar o "
    "distribuir."
)
SPANISH_SOURCE = (
    "Pfizer PHQ/GAD screeners, Spanish for the USA (phqscreeners.com), © Pfizer, free to reproduce and "
    "translate ✔; PHQ-9/PHQ-2 stem, items, answers and difficulty question identical to a reproduction of the "
    "Spanish PHQ-9 form (es.studenta.com/content/129686767, read 2026-12-06) ✔; GAD-7/GAD-2 wording checked "
    "against public reproductions ~ (the published form was not found). Keys, points and bands as the "
    "English instrument."
)
BANDS_ES = {
    "minimal": "Ninguna o mínima",
    "mild": "Leve",
    "moderate": "Moderada",
    "moderately_severe": "Moderadamente grave",
    "severe": "Grave",
    "negative": "Detección negativa",
}
POSITIVE_ES = {PHQ2: "Detección positiva — complete el PHQ-9", GAD2: "Detección positiva — complete el GAD-7"}
TITLES_ES = {
    PHQ9: "Cuestionario sobre la salud del paciente (PHQ-9)",
    GAD7: "Escala del trastorno de ansiedad generalizada (GAD-7)",
    PHQ2: "Cuestionario sobre la salud del paciente-2 (PHQ-2)",
    GAD2: "Escala del trastorno de ansiedad generalizada-2 (GAD-2)",
}


def _spanish(
    english: Instrument,
    stem: str,
    texts: tuple[str, ...],
    options: tuple[str, ...],
    copyright: str = PFIZER_ES,
) -> Instrument:
    """``english`` with the Spanish wording; every key, value, point and band code kept."""
    items = []
    for item in english.items:
        if item.key == "difficulty":
            labels, text = DIFFICULTY_ES, DIFFICULTY_ITEM_ES
        else:
            labels, text = options, texts[int(item.key) - 1]
        spanish_options = tuple(
            Option(o.value, label, o.points, o.shaded) for o, label in zip(item.options, labels, strict=True)
        )
        items.append(Item(item.key, text, spanish_options, item.scored, item.required, item.hint, item.group))
    bands = tuple(
        Band(b.code, POSITIVE_ES[english.code] if b.code == "positive" else BANDS_ES[b.code], b.low, b.high, b.rank)
        for b in english.bands
    )
    return Instrument(
        code=english.code,
        name=english.name,
        title=TITLES_ES[english.code],
        stem=stem,
        items=tuple(items),
        rater=english.rater,
        max_total=english.max_total,
        bands=bands,
        copyright=copyright,
        source=SPANISH_SOURCE,
        total_label="Total",
        charted=english.charted,
        licence_note=english.licence_note,
        scorer=english.scorer,
    )


TRANSLATIONS: dict[str, dict[str, Instrument]] = {
    SPANISH: {
        PHQ9: _spanish(PHQ9_INSTRUMENT, PHQ_STEM_ES, PHQ_ITEMS_ES, FREQUENCY_ES, PFIZER_PHQ_ES),
        GAD7: _spanish(GAD7_INSTRUMENT, GAD_STEM_ES, GAD_ITEMS_ES, GAD_FREQUENCY_ES),
        PHQ2: _spanish(PHQ2_INSTRUMENT, PHQ_STEM_ES, PHQ_ITEMS_ES, FREQUENCY_ES, PFIZER_PHQ_ES),
        GAD2: _spanish(GAD2_INSTRUMENT, GAD_STEM_ES, GAD_ITEMS_ES, GAD_FREQUENCY_ES),
    }
}


def available_in(code: str, language: str) -> bool:
    """Whether ``code`` has a validated version in ``language`` (English: every instrument)."""
    return language == "en" or code in TRANSLATIONS.get(language, {})


def localised(code: str, language: str) -> Instrument:
    """The instrument as a patient reading ``language`` sees it: the validated translation, else
    the English original (the caller says so on the page; see ``available_in``). Scoring always
    goes through ``get(code)``: the translation shares its keys and points."""
    return TRANSLATIONS.get(language, {}).get(code) or get(code)


# A positive short screen is followed by the full questionnaire (§3a).
FOLLOW_UP = {PHQ2: PHQ9, GAD2: GAD7}
# Remission: PHQ-9 < 5 (§3b ~). For the GAD-7 the "minimal" band (< 5) is used the same way (?).
REMISSION_BELOW = {PHQ9: 5, GAD7: 5}


def get(code: str) -> Instrument:
    try:
        return INSTRUMENTS[code]
    except KeyError:
        raise AnswerError({"__all__": f"Unknown questionnaire “{code}”."}) from None


def worsening(code: str, previous_total: int, previous_band: str, total: int, band: str) -> str:
    """Why this score is worse than the previous one, or "" (issue 5): PHQ-9 up ≥ 5 points or up
    a band; GAD-7 up a band. Other instruments are not compared."""
    if code not in (PHQ9, GAD7):
        return ""
    instrument = INSTRUMENTS[code]
    before, after = instrument.band(previous_band), instrument.band(band)
    reasons = []
    if code == PHQ9 and total - previous_total >= 5:
        reasons.append(f"up {total - previous_total} points ({previous_total} → {total})")
    if before and after and after.rank > before.rank:
        reasons.append(f"up from {before.label.lower()} to {after.label.lower()}")
    return "; ".join(reasons)
