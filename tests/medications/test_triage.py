"""Triage rules (medications/triage.py, medications/data/red_flags.json, crisis language).

Every red-flag rule fires from the patient's words (and from its checklist item, where it has
one) and has a neighbouring case that does not: the same words without the medicine, a
negation, or only part of the picture. Crisis language is an emergency in many phrasings;
idioms and plain negations are not. Then the report flow as a patient meets it.
"""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from clinic.models import Alert, AuditEvent, Notification
from medications import checklists, crisis_language, textmatch, triage
from medications.models import SideEffectReport
from notifications import messages as outbox_messages
from notifications import sending
from tests import factories
from tests.helpers import log_in


def assess(text, *drugs, severity=None):
    return triage.assess_text(text, drugs=list(drugs), severity=severity)


def level(text, *drugs, severity=None):
    return assess(text, *drugs, severity=severity).level


# -- Red flags from free text: (rule, drugs, words, level) and a neighbour that does not fire ------

# (rule id, drugs, text, expected level, neighbour drugs, neighbour text, neighbour level)
RED_FLAGS = [
    ("anticonvulsant_rash", ["lamotrigine"], "I've got a rash on my arms since Monday", "urgent",
     ["sertraline"], "I've got a rash on my arms since Monday", "routine"),
    ("anticonvulsant_rash", ["Tegretol"], "itchy red spots on my chest", "urgent",
     ["Tegretol"], "no rash, just tired", "routine"),
    ("anticonvulsant_rash_severe", ["Lamictal"], "the rash is spreading all over", "emergency",
     ["lithium"], "the rash is spreading all over", "routine"),
    ("serious_skin_reaction", ["lamotrigine"], "rash with a fever and blisters in my mouth", "emergency",
     ["lamotrigine"], "a rash but no fever or blisters", "urgent"),
    ("skin_reaction_signs", ["lamotrigine"], "a few blisters on my arm", "urgent",
     ["sertraline"], "a few blisters on my arm", "routine"),
    ("serious_skin_reaction", [], "my skin is peeling and I have sores in my mouth and a temperature", "emergency",
     [], "blisters on my heel from new shoes", "routine"),
    ("nms", ["haloperidol"], "high fever, my muscles are really stiff and I'm confused", "emergency",
     ["haloperidol"], "my muscles are a bit stiff in the morning", "routine"),
    ("nms_fever_rigidity", ["risperidone"], "I have a fever and my whole body is stiff", "emergency",
     ["sertraline"], "I have a fever and my whole body is stiff", "routine"),
    ("nms_partial", ["haloperidol"], "my muscles are stiff and I'm confused", "urgent",
     ["haloperidol"], "my muscles are a bit stiff in the morning", "routine"),
    ("serotonin_syndrome", ["sertraline", "tramadol"], "very agitated, sweating buckets, muscles twitching and a fever",
     "emergency", ["quetiapine"], "sweating and a fever", "routine"),
    ("serotonin_hunter", ["escitalopram"], "my legs keep jerking and I'm sweating buckets", "emergency",
     ["quetiapine"], "my legs keep jerking and I'm sweating buckets", "routine"),
    ("serotonin_autonomic", ["sertraline"], "I'm sweating loads, shaking and my heart is racing", "urgent",
     ["sertraline"], "my hands shake a bit and I sweat more at night", "routine"),
    ("serotonin_toxicity_early", ["phenelzine"], "I feel confused and I'm shivering", "urgent",
     ["phenelzine"], "I'm shivering, it's cold in here", "routine"),
    ("lithium_toxicity", ["lithium"], "I've been vomiting, I'm shaky and confused", "emergency",
     ["bupropion"], "I've been vomiting, I'm shaky and confused", "routine"),
    ("lithium_toxicity", ["Lithobid"], "slurred speech and I keep losing my balance", "emergency",
     ["Lithobid"], "a fine tremor in my hands", "routine"),
    ("lithium_toxicity_early", ["lithium carbonate"], "I feel weak and drowsy", "urgent",
     ["lithium"], "I feel fine, no drowsiness", "routine"),
    ("lithium_sick_day", ["lithium"], "I've had a fever since yesterday", "urgent",
     ["valproate"], "I've had a fever since yesterday", "routine"),
    ("neutropenia_infection", ["clozapine"], "fever and a sore throat since yesterday", "urgent",
     ["sertraline"], "fever and a sore throat since yesterday", "routine"),
    ("neutropenia_infection", ["Clozaril"], "I have mouth ulcers", "urgent",
     ["Clozaril"], "drooling at night", "routine"),
    ("clozapine_myocarditis", ["clozapine"], "chest pain and I'm short of breath", "emergency",
     ["sertraline"], "drooling and constipation", "routine"),
    ("severe_constipation", ["clozapine"], "I haven't had a bowel movement in 5 days", "urgent",
     ["sertraline"], "a bit constipated", "routine"),
    ("bowel_obstruction", ["clozapine"], "no poo for 4 days and my belly is swollen and I'm throwing up", "emergency",
     ["clozapine"], "constipated but going every day", "routine"),
    ("priapism", ["trazodone"], "I've had an erection for 5 hours and it's painful", "emergency",
     ["trazodone"], "trouble getting an erection", "routine"),
    ("priapism", [], "my erection won't go down", "emergency",
     [], "erections are fine", "routine"),
    ("acute_dystonia_airway", ["haloperidol"], "my neck is twisted to one side and I can't swallow", "emergency",
     ["haloperidol"], "my neck aches from sleeping badly", "routine"),
    ("acute_dystonia", ["Haldol"], "my eyes keep rolling up and my jaw is locked", "urgent",
     ["sertraline"], "my eyes keep rolling up and my jaw is locked", "routine"),
    ("hypertensive_crisis", ["phenelzine"], "sudden severe headache out of nowhere", "emergency",
     ["bupropion"], "sudden severe headache out of nowhere", "routine"),
    ("hypertensive_crisis", ["Parnate"], "headache and a stiff neck and my heart is pounding", "emergency",
     ["Parnate"], "mild headache after lunch", "routine"),
    ("stimulant_severe_headache", ["Adderall"], "a terrible headache every afternoon", "urgent",
     ["Adderall"], "a headache sometimes", "routine"),
    ("seizure_emergency", ["bupropion"], "I had a seizure last night", "emergency",
     ["bupropion"], "my friend had a seizure last night", "routine"),
    ("seizure_emergency", ["Wellbutrin XL"], "my wife says I had a fit", "emergency",
     ["Wellbutrin XL"], "the new shoes fit well", "routine"),
    ("arrhythmia_syncope", ["citalopram"], "I fainted and my heart was racing", "emergency",
     ["buspirone"], "my heart was racing during the exam", "routine"),
    ("syncope", ["ziprasidone"], "I passed out in the kitchen", "urgent",
     ["ziprasidone"], "I nearly dozed off in the kitchen", "routine"),
    ("respiratory_depression", ["clonazepam"], "my husband couldn't wake me and my lips were blue", "emergency",
     ["clonazepam"], "I slept well", "routine"),
    ("angioedema", ["asenapine"], "my lips and tongue are swollen", "emergency",
     ["asenapine"], "my ankles are a little swollen", "routine"),
    ("breathing_difficulty", [], "I'm struggling to breathe", "emergency",
     [], "breathing is fine", "routine"),
    ("chest_pain_with_breathlessness", ["sertraline"], "chest pain and shortness of breath", "emergency",
     ["sertraline"], "no chest pain", "routine"),
    ("chest_pain", ["sertraline"], "tightness in my chest", "urgent",
     ["sertraline"], "my chest feels fine", "routine"),
    ("stimulant_chest_tachycardia", ["Adderall"], "chest pain and my heart is racing", "emergency",
     ["Adderall"], "no chest pain, my heart races a little after coffee", "routine"),
    ("stimulant_cardiac", ["methylphenidate"], "chest pains when I exercise", "urgent",
     ["methylphenidate"], "my heart beats a bit faster after my dose", "routine"),
    ("liver_injury", ["valproate"], "my eyes look yellow and my pee is dark", "urgent",
     ["valproate"], "my hair is thinning", "routine"),
    ("liver_injury", ["atomoxetine"], "dark urine and pale stools", "urgent",
     ["sertraline"], "dark urine and pale stools", "routine"),
    ("jaundice", ["sertraline"], "my skin is turning yellow", "urgent",
     ["sertraline"], "I bought a yellow shirt", "routine"),
    ("pancreatitis", ["Depakote"], "severe stomach pain going through to my back and vomiting", "emergency",
     ["sertraline"], "severe stomach pain going through to my back and vomiting", "routine"),
    ("pancreatitis_possible", ["valproate"], "excruciating stomach pain", "urgent",
     ["valproate"], "mild nausea", "routine"),
    ("hyperammonaemia", ["valproate"], "feeling confused and vomiting", "urgent",
     ["valproate"], "vomited once after bad takeaway, otherwise fine", "routine"),
    ("hyperammonaemia_severe", ["valproate"], "confused, very drowsy and vomiting", "emergency",
     ["valproate"], "a bit drowsy in the morning", "routine"),
    ("hyponatraemia", ["sertraline"], "new confusion this week", "urgent",
     ["bupropion"], "new confusion this week", "routine"),
    ("mania_switch", ["escitalopram"], "I barely need sleep and my thoughts are racing", "urgent",
     ["escitalopram"], "my thoughts are racing before exams", "routine"),
    ("mania_switch", [], "I think I'm manic again", "urgent",
     [], "I'm not manic", "routine"),
    ("psychosis", ["dextroamphetamine"], "I'm hearing voices at night", "urgent",
     ["dextroamphetamine"], "I'm seeing things differently now, in a good way", "routine"),
    ("activation", ["fluoxetine"], "I can't sit still since the dose went up, pacing all night", "urgent",
     ["clonazepam"], "I can't sit still since the dose went up, pacing all night", "routine"),
    ("complex_sleep_behaviour", ["zolpidem"], "I was sleep driving last night", "urgent",
     ["sertraline"], "I was sleep driving last night", "routine"),
    ("urinary_retention", ["amitriptyline"], "I can't pee at all since this morning", "urgent",
     ["amitriptyline"], "peeing a little more often", "routine"),
    ("urinary_retention_pain", ["clozapine"], "I can't pee and my stomach hurts", "emergency",
     ["clozapine"], "my stomach hurts a little", "routine"),
    ("angle_closure", ["paroxetine"], "sudden eye pain and I see halos around lights", "emergency",
     ["paroxetine"], "blurred vision when reading", "routine"),
    ("gi_bleed", ["sertraline", "ibuprofen"], "black tarry stools since yesterday", "emergency",
     ["sertraline"], "my stools are normal", "routine"),
    ("hyperglycaemia", ["olanzapine"], "extremely thirsty, peeing all the time and vomiting", "emergency",
     ["sertraline"], "extremely thirsty, peeing all the time and vomiting", "routine"),
    ("sedative_withdrawal", ["alprazolam"], "I ran out of my pills and I'm shaking", "urgent",
     ["alprazolam"], "I'm shaking a little when anxious", "routine"),
    ("sedative_withdrawal_severe", ["lorazepam"], "stopped, now I am confused and seeing things", "emergency",
     ["lorazepam"], "stopped them suddenly, feeling fine", "routine"),
    ("fall_or_new_confusion", ["quetiapine"], "I fell and hit my head", "urgent",
     ["sertraline"], "I fell and hit my head", "routine"),
    ("tardive_dyskinesia", ["haloperidol"], "strange movements of my tongue and lip smacking", "routine",
     ["haloperidol"], "no unusual movements", "routine"),
    ("pregnancy", ["valproate"], "I just found out I'm pregnant", "routine",
     ["valproate"], "I'm not pregnant", "routine"),
]  # fmt: skip


def _ids():
    return [f"{case[0]}-{i}" for i, case in enumerate(RED_FLAGS)]


@pytest.mark.parametrize(
    ("rule", "drugs", "text", "expected", "n_drugs", "n_text", "n_expected"), RED_FLAGS, ids=_ids()
)
def test_each_red_flag_fires_and_its_neighbour_does_not(rule, drugs, text, expected, n_drugs, n_text, n_expected):
    result = assess(text, *drugs)
    assert rule in result.rules
    assert result.level == expected
    assert result.reasons

    neighbour = assess(n_text, *n_drugs)
    # The rule does not fire; or, for a rule with a lower level off its medicines, not at its level.
    assert rule not in neighbour.rules or neighbour.level != expected
    assert neighbour.level == n_expected


def test_every_rule_in_the_data_file_has_a_case_above():
    assert {rule.id for rule in triage.rule_set().rules} == {case[0] for case in RED_FLAGS}


def test_rash_without_lamotrigine_is_not_the_lamotrigine_rule():
    on_lamotrigine = assess("new rash on my back", "lamotrigine")
    without = assess("new rash on my back", "sertraline", "lithium")
    assert on_lamotrigine.level == "urgent" and "anticonvulsant_rash" in on_lamotrigine.rules
    assert without.level == "routine" and without.reasons == []


def test_a_drug_the_patient_names_in_the_text_counts():
    assert level("a rash since I started Lamictal") == "urgent"
    assert level("I'm not on lithium any more, and I have diarrhoea") == "routine"


def test_hypothetical_questions_are_not_symptoms():
    assert level("what should I do if I get a rash?", "lamotrigine") == "routine"
    assert level("the leaflet says to watch for fever and sore throat", "clozapine") == "routine"
    assert level("I got a rash, what should I do?", "lamotrigine") == "urgent"


def test_reasons_are_readable_and_name_the_medicine():
    result = assess("rash on my legs", "Lamictal XR")
    assert result.reasons == [
        "Rash on a high-risk anticonvulsant — Any new rash on lamotrigine (risk of a serious skin reaction, "
        "highest in the first 2–3 months): "
        'same-day review, stop per clinician (reported: "rash")'
    ]


def test_one_reason_per_problem_family():
    result = assess("vomiting, shaky and confused", "lithium")
    assert result.rules == ("lithium_toxicity",)


# -- Red flags from checklist items ---------------------------------------------------------------


def _formulary():
    return json.loads(triage.FORMULARY_FILE.read_text())["medications"]


def _drug_for(rule, *, gated: bool) -> str:
    for entry in _formulary():
        drug = triage.resolve_drug(entry["generic_name"])
        if bool(triage._gated(rule, [drug])) == gated:
            return entry["generic_name"]
    raise AssertionError(rule.id)


CHECKLIST_CASES = [(rule, code) for rule in triage.rule_set().rules for code in rule.checklist]


@pytest.mark.parametrize(("rule", "code"), CHECKLIST_CASES, ids=[f"{r.id}:{c}" for r, c in CHECKLIST_CASES])
def test_each_checklist_red_flag_fires_on_its_drugs_and_not_beyond(rule, code):
    drug = _drug_for(rule, gated=True) if rule.drugs else "sertraline"
    result = triage.assess(symptoms=[code], drugs=[drug])
    assert rule.id in result.rules
    assert result.level == ("routine" if rule.level == "prompt" else rule.level)

    if not rule.drugs:
        return
    other = _drug_for(rule, gated=False)
    neighbour = triage.assess(symptoms=[code], drugs=[other])
    if rule.otherwise:
        assert neighbour.level == ("routine" if rule.otherwise == "prompt" else rule.otherwise)
    else:
        # Not this rule; the checklist still marks the item for same-day review.
        assert rule.id not in neighbour.rules
        assert neighbour.level == ("urgent" if checklists.is_urgent(code) else "routine")


def test_checklist_examples_from_the_reference():
    assert triage.assess(symptoms=["any_rash"], drugs=["lamotrigine"]).level == "urgent"
    assert triage.assess(symptoms=["nms_signs"], drugs=["haloperidol"]).level == "emergency"
    assert triage.assess(symptoms=["nms_signs"], drugs=["sertraline"]).level == "urgent"
    assert triage.assess(symptoms=["infection_signs"], drugs=["clozapine"]).level == "urgent"
    assert triage.assess(symptoms=["lithium_toxicity_signs"], drugs=["lithium"]).level == "emergency"
    assert triage.assess(symptoms=["priapism"], drugs=["trazodone"]).level == "emergency"
    assert triage.assess(symptoms=["acute_dystonia"], drugs=["haloperidol"]).level == "emergency"
    assert triage.assess(symptoms=["seizure"], drugs=["bupropion"]).level == "emergency"
    assert triage.assess(symptoms=["suicidal_thoughts_plan"], drugs=["sertraline"]).level == "emergency"
    assert triage.assess(symptoms=["thoughts_better_off_dead"]).level == "emergency"
    assert triage.assess(symptoms=["took_extra_doses"]).level == "emergency"
    assert triage.assess(symptoms=["nausea", "headache"], drugs=["sertraline"]).level == "routine"


def test_every_checklist_item_marked_urgent_is_at_least_urgent_except_prompt_items():
    prompt = {"abnormal_movements", "pregnant_or_planning"}
    data = json.loads(checklists.DATA_FILE.read_text())
    codes = {item["code"] for item in data["general"]} | {
        item["code"] for items in data["by_class"].values() for item in items
    }
    for code in sorted(codes):
        result = triage.assess(symptoms=[code])
        if checklists.is_urgent(code) and code not in prompt:
            assert result.level in ("urgent", "emergency"), code
        else:
            assert result.level == "routine", code


# -- Severity ---------------------------------------------------------------------------------------


def test_severe_makes_any_report_at_least_urgent():
    assert level("nausea", "sertraline", severity="mild") == "routine"
    assert level("nausea", "sertraline", severity="moderate") == "routine"
    result = assess("nausea", "sertraline", severity="severe")
    assert result.level == "urgent"
    assert result.reasons == ["The patient rates this as severe (hard to cope with): same-day contact"]


def test_severe_moves_split_rows_to_emergency():
    assert level("diarrhoea since yesterday", "lithium", severity="moderate") == "urgent"
    assert level("diarrhoea since yesterday", "lithium", severity="severe") == "emergency"
    assert level("my jaw is locked", "haloperidol", severity="severe") == "emergency"
    assert level("rash on my arm", "lamotrigine", severity="severe") == "emergency"
    # Not a split row, and not on the listed drug: severe means urgent, no more.
    assert level("rash on my arm", "sertraline", severity="severe") == "urgent"


def test_severity_is_checked():
    with pytest.raises(triage.InvalidSeverity):
        assess("nausea", severity="terrible")


# -- Crisis language --------------------------------------------------------------------------------

CRISIS = [
    "Ive written letters to say goodbye to my family",
    "I wish I could sleep forever and not wake up",
    "I want to kill myself",
    "I want to OD",
    "I OD'd last night",
    "i want to KILL MYSELF!!!",
    "I’m going to kill myself tonight",
    "im gonna kms",
    "kms",
    "I've been thinking about suicide",
    "feeling suicidal again",
    "I feel suicidal since the dose went up",
    "I want to end it all",
    "I just want to end it",
    "I want to die",
    "i wanna die",
    "I wish I was dead",
    "I wish I were dead",
    "everyone would be better off without me",
    "my family would be better off if I was gone",
    "I'd be better off dead",
    "better off dead",
    "I don't want to live anymore",
    "I dont want to live",
    "I do not want to be alive",
    "I don't want to be here anymore",
    "I'm not sure I want to live",
    "Im not sure if I want to keep living",
    "I don't know if I want to go on",
    "there's no reason to live",
    "nothing to live for",
    "no point in living",
    "life isn't worth living",
    "I'm tired of living",
    "I can't go on anymore",
    "I can't do this anymore",
    "I hope I don't wake up tomorrow",
    "I want to go to sleep and never wake up",
    "I've been having thoughts of ending my life",
    "thinking about taking my own life",
    "I have a plan to end my life",
    "I've been stockpiling my pills",
    "I'm going to take all my pills",
    "thinking of overdosing",
    "how many of these would it take to kill me",
    "I wrote a suicide note",
    "I want to jump off a bridge",
    "This is goodbye. Thank you for everything.",
    "I won't be around much longer",
    "I wont be here tomorrow",
    "I'm giving away my things",
    "you will never hear from me again",
    "I've been cutting myself again",
    "I want to hurt myself",
    "I keep having urges to self-harm",
    "self harming again",
    "I burned myself on purpose",
    "the voices are telling me to hurt myself",
    "voices keep telling me to kill my mother",
    "I hear a voice that says I should die",
    "something is telling me to hurt people",
    "I want to kill my boss",
    "I have thoughts of hurting my baby",
    "I took the whole bottle",
    "I took too many pills last night",
    "I overdosed on my lithium",
    "I accidentally took my dose twice this morning",
    "I took extra tablets",
    "I can't keep myself safe",
    "I don't feel safe with myself",
    "No suicidal thoughts before, but now I want to die",
    "I'm not suicidal but I think about dying a lot",
    "not gonna lie, I want to end it",
    "I never thought I'd say this but I want to die",
    "Nobody would miss me if I was gone",
    "I want it all to end",
    "I'm a burden, everyone would be better off without me",
]


@pytest.mark.parametrize("text", CRISIS)
def test_crisis_language_is_an_emergency(text):
    result = assess(text)
    assert result.level == "emergency", (text, result)
    assert any(r.startswith("crisis:") for r in result.rules)


IDIOMS_AND_NEGATIONS = [
    "I'm dying to know if the dose can go up",
    "killing it at work lately",
    "I could kill for a coffee",
    "this traffic is killing me",
    "my back is killing me",
    "the headache is killing me",
    "I nearly died laughing at the show",
    "I killed myself laughing",
    "this cake is to die for",
    "no suicidal thoughts",
    "No suicidal thoughts.",
    "denies thoughts of self-harm",
    "denies suicidal ideation, intent or plan",
    "I'm not suicidal",
    "I am not suicidal at all",
    "Im not suicidal",
    "never thought of hurting myself",
    "I would never hurt myself",
    "I don't want to kill myself, I just feel flat",
    "I'm not going to kill myself",
    "no thoughts of harming myself or others",
    "no self harm",
    "not having any thoughts about suicide",
    "suicidal thoughts: none",
    "I'm no longer suicidal",
    "I cut myself shaving",
    "I hurt myself at the gym",
    "I fell and hurt myself",
    "took extra care with my doses this week",
    "I took my dose a bit late",
    "I missed a dose",
    "I want to live a normal life again",
    "I don't want to live with this nausea",
    "my friend died by suicide last year and I think about her",
    "I watched a film about suicide",
    "goodbye for now, see you at the appointment",
    "I won't be around for my appointment next week, can we move it?",
    "I want the nausea to stop",
    "I'm tired of this headache",
    "the voices have stopped since the new dose",
    "I sometimes want to disappear for a few days on holiday",
    "I feel fine",
    "",
]


@pytest.mark.parametrize("text", IDIOMS_AND_NEGATIONS)
def test_idioms_and_negations_are_not_an_emergency(text):
    result = assess(text)
    assert result.level == "routine", (text, result)
    assert not any(r.startswith("crisis:") for r in result.rules)


def test_not_sure_i_want_to_live_is_not_a_negation():
    assert level("I'm not sure I want to live") == "emergency"
    assert level("I'm sure I want to live") == "routine"


def test_normalization_folds_apostrophes_case_and_contractions():
    assert textmatch.normalize("I DON’T Want To Be Here") == "i do not want to be here"
    assert textmatch.normalize("im  gonna kms") == "i am going to kill myself"
    assert textmatch.normalize("cant, wont, isn't") == "can not, will not, is not"


def test_crisis_hits_quote_the_words_that_matched():
    hits = crisis_language.find("Honestly I won’t be around much longer.")
    assert [(h.category, h.phrase) for h in hits] == [("goodbye", "will not be around much longer")]
    result = assess("Honestly I won’t be around much longer.")
    assert '"will not be around much longer"' in result.reasons[0]


# -- Drug names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "generic"),
    [
        ("Lamotrigine", "lamotrigine"),
        ("LAMICTAL", "lamotrigine"),
        ("Lamictal XR", "lamotrigine"),
        ("zoloft", "sertraline"),
        ("lithium carbonate", "lithium"),
        ("Depakote ER", "valproate"),
        ("divalproex", "valproate"),
        ("Adderall XR", "mixed amphetamine salts"),
        ("Cobenfy", "xanomeline/trospium"),
        ("bupropion HCl", "bupropion"),
    ],
)
def test_drug_names_generic_or_brand_any_case(name, generic):
    assert triage.resolve_drug(name).generic_name == generic


def test_unknown_drug_names_the_closest_matches():
    with pytest.raises(triage.UnknownDrug) as caught:
        triage.resolve_drug("lamotrigene")
    assert caught.value.suggestions[0] == "lamotrigine"
    with pytest.raises(triage.UnknownDrug):
        triage.resolve_drug("qwertyuiop")


# -- The data file --------------------------------------------------------------------------------


def test_every_rule_keeps_its_source_and_mark():
    data = json.loads(triage.RULES_FILE.read_text())
    known_codes = set(checklists._items_by_code())
    for rule in data["rules"]:
        assert rule["source"] and rule["mark"], rule["id"]
        assert rule["level"] in ("emergency", "urgent", "prompt")
        assert set(rule["checklist"]) <= known_codes, rule["id"]
        assert rule["text"], rule["id"]
    for category in data["crisis"].values():
        assert category["source"] and category["mark"] and category["level"] == "emergency"
    for pattern in (p for patterns in data["concepts"].values() for p in patterns):
        re.compile(pattern)


def test_drug_gates_name_real_formulary_entries():
    names = {m["generic_name"] for m in _formulary()}
    classes = {m["drug_class"] for m in _formulary()}
    tags = {t for m in _formulary() for t in m["tags"]}
    for rule in triage.rule_set().rules:
        assert set(rule.drugs.get("generic", [])) <= names, rule.id
        assert set(rule.drugs.get("classes", [])) <= classes, rule.id
        assert set(rule.drugs.get("tags", [])) | set(rule.drugs.get("tag_count", {})) <= tags, rule.id


# -- The report flow, as the patient and the psychiatrist meet it ------------------------------------


def _post_report(client, **fields):
    data = {
        "prescription": "not_sure",
        "severity": "moderate",
        "onset_date": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "ongoing": "yes",
        **fields,
    }
    return client.post(reverse("medications:my_report_create"), data)


@pytest.mark.django_db
def test_emergency_report_shows_crisis_resources_first_and_alerts_the_psychiatrist(client, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")
    log_in(client, patient.user)

    _post_report(client, other_symptoms="Honestly I don't want to be here anymore.")
    page = client.get(reverse("medications:my_report_sent"))

    report = SideEffectReport.objects.get()
    assert (report.triage_level, report.is_urgent) == ("emergency", True)
    html = page.content.decode()
    main = html[html.index('<main id="main"') :]
    # The crisis resources come before anything else in the page's content.
    assert main.index("Please get help now") < main.index("Your report was sent") < main.index("What you sent")
    for needle in ('href="tel:988"', 'href="tel:911"', "988 Suicide &amp; Crisis Lifeline", "emergency department"):
        assert needle in main
    alert = Alert.objects.get()
    assert (alert.patient, alert.level, alert.source) == (patient, "emergency", report)
    assert alert.reasons == report.urgent_reasons
    rows = Notification.objects.filter(kind=Notification.Kind.SAFETY_ALERT)
    assert {(r.recipient, r.channel) for r in rows} == {(psychiatrist, "in_app"), (psychiatrist, "email")}


@pytest.mark.django_db
def test_clinic_phone_is_shown_with_the_crisis_resources(client, patient, psychiatrist, settings):
    settings.TITRATE_CLINIC_PHONE = "617 555 0100"
    factories.start(patient, psychiatrist)
    log_in(client, patient.user)
    _post_report(client, other_symptoms="I want to kill myself")
    page = client.get(reverse("medications:my_report_sent"))
    assert b'href="tel:6175550100"' in page.content


@pytest.mark.django_db(transaction=True)
def test_alert_messages_are_phi_free(client, patient, psychiatrist, settings):
    from django.core.management import call_command

    from clinic.models import NotificationPreference

    call_command("load_formulary")
    settings.TITRATE_SMS_BACKEND = "console"
    NotificationPreference.objects.create(user=psychiatrist, sms_enabled=True, sms_phone="+16175550123")
    factories.start(patient, psychiatrist, drug="lamotrigine", dose="25", strength="25")
    log_in(client, patient.user)
    _post_report(client, other_symptoms="Rash all over my chest since starting Lamictal", severity="severe")

    rows = list(Notification.objects.filter(kind=Notification.Kind.SAFETY_ALERT))
    assert {r.channel for r in rows} == {"in_app", "email", "sms"}
    for row in rows:
        assert sending.send(row.pk) == "sent"
    texts = [m.subject + m.body + "".join(a[0] for a in m.alternatives) for m in mail.outbox]
    texts += [outbox_messages.render_message(r).text for r in rows]
    texts += [outbox_messages.in_app_text(r)[0] for r in rows]
    assert len(mail.outbox) == 1
    forbidden = ["lamotrigine", "lamictal", "rash", "chest", patient.legal_first_name, patient.legal_last_name,
                 patient.mrn, "severe", "emergency"]  # fmt: skip
    for text in texts:
        for word in forbidden:
            assert word.lower() not in text.lower(), (word, text)
    assert any("/alerts/" in text for text in texts)


@pytest.mark.django_db
def test_urgent_report_goes_to_the_top_of_the_inbox_with_a_same_day_flag(client, patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="lamotrigine", dose="25", strength="25")
    routine = factories.report(patient, prescription=rx, symptoms=["headache"], severity="severe")
    SideEffectReport.objects.filter(pk=routine.pk).update(triage_level="routine", is_urgent=False)
    factories.report(patient, prescription=rx, symptoms=["any_rash"], severity="mild")
    emergency = factories.report(patient, prescription=rx, symptoms=["rash_blisters_fever"], severity="mild")
    SideEffectReport.objects.filter(pk=emergency.pk).update(created_at=timezone.now() - datetime.timedelta(days=2))
    log_in(client, psychiatrist)

    inbox = client.get(reverse("medications:inbox"))

    assert [r.triage_level for r in inbox.context["reports"]] == ["emergency", "urgent", "routine"]
    assert inbox.content.decode().count("Same day") == 2


@pytest.mark.django_db
def test_routine_report_raises_no_alert(client, patient, psychiatrist):
    factories.start(patient, psychiatrist)
    log_in(client, patient.user)
    _post_report(client, symptoms=["nausea"], other_symptoms="I'm dying to know if this gets better")
    page = client.get(reverse("medications:my_report_sent"))
    assert SideEffectReport.objects.get().triage_level == "routine"
    assert not Alert.objects.exists()
    assert b"Please get help now" not in page.content


@pytest.mark.django_db
def test_crisis_words_in_a_report_that_cannot_be_saved_still_show_crisis_resources(client, patient, psychiatrist):
    factories.start(patient, psychiatrist)
    log_in(client, patient.user)
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()

    response = _post_report(client, other_symptoms="I want to end my life", onset_date=future)

    assert response.status_code == 200
    assert not SideEffectReport.objects.exists()
    html = response.content.decode()
    assert html.index("Please get help now") < html.index("Report a side effect</h1>")
    assert "I want to end my life" in html  # what was typed is kept


@pytest.mark.django_db
def test_report_audit_records_the_triage_level_not_the_words(patient, psychiatrist):
    factories.start(patient, psychiatrist)
    report = factories.report(patient, symptoms=["suicidal_thoughts_plan"])
    event = AuditEvent.objects.get(object_type="medications.SideEffectReport", object_id=str(report.pk))
    assert event.detail["triage_level"] == "emergency"
    assert "suicid" not in json.dumps(event.detail).lower()


# -- More phrasings: other words for the same dangers, and everyday side effects that are routine --

PHRASINGS = [
    # Inability is a symptom, not a denial; a comma and a new noun phrase end a negation.
    ("I can't swallow, my tongue is stuck", ["haloperidol"], "emergency"),
    ("I can't poop for 5 days", ["clozapine"], "urgent"),
    ("no rash, my neck is twisted", ["haloperidol"], "urgent"),
    ("no suicidal thoughts, my mood is ok", [], "routine"),
    ("Honestly I've had enough of life", [], "emergency"),
    ("I keep wishing I could just not wake up", [], "emergency"),
    ("I have a plan and I'm going to do it tonight", [], "emergency"),
    ("Last night I tried to overdose", [], "emergency"),
    ("I attempted suicide on Saturday", [], "emergency"),
    ("I've been having dark thoughts about killing myself", [], "emergency"),
    ("Sometimes I wonder if everyone would be better off if I were dead", [], "emergency"),
    ("I feel like a burden and want to die", [], "emergency"),
    ("I dont see the point in living anymore", [], "emergency"),
    ("Ive decided to end my life", [], "emergency"),
    ("i cant stop thinking about suicide", [], "emergency"),
    ("I keep thinking about jumping off the balcony", [], "emergency"),
    ("my voices want me to hurt my neighbour", [], "emergency"),
    ("the voices told me to cut myself", [], "emergency"),
    ("I downed a whole pack of paracetamol", [], "emergency"),
    ("took double my dose by accident", [], "emergency"),
    ("I'm thinking about hurting myself", [], "emergency"),
    ("Suicidal.", [], "emergency"),
    ("Suicidal thoughts every day", [], "emergency"),
    ("I'm having suicidal thoughts again", [], "emergency"),
    ("I want to die. I'm not joking.", [], "emergency"),
    ("not suicidal, just exhausted", [], "routine"),
    ("No thoughts of suicide or self-harm.", [], "routine"),
    ("I have no suicidal thoughts whatsoever", [], "routine"),
    ("Patient denies SI/HI", [], "routine"),
    ("i've never wanted to kill myself", [], "routine"),
    ("I'm not having any thoughts of hurting myself or anyone else", [], "routine"),
    ("I would never do anything to hurt myself", [], "routine"),
    ("my dog is dying and I'm sad", [], "routine"),
    ("this side effect is killing me lol", [], "routine"),
    ("I'm dying to get off this medicine", [], "routine"),
    ("I could murder a pizza", [], "routine"),
    ("i've come out in a rash", ["lamotrigine"], "urgent"),
    ("spots all over my body, and they itch", ["Lamictal"], "urgent"),
    ("a temperature of 39 and a sore throat", ["clozapine"], "urgent"),
    ("feel flu-ish", ["clozapine"], "urgent"),
    ("I've been throwing up and my hands are shaking badly", ["lithium"], "emergency"),
    ("I've been throwing up all day", ["lithium"], "urgent"),
    ("my jaw is clenched and I can't open my mouth", ["haloperidol"], "urgent"),
    ("boiling hot, confused and my muscles are rigid", ["olanzapine"], "emergency"),
    ("erection that has lasted 6 hrs", ["trazodone"], "emergency"),
    ("I had a convulsion", ["bupropion"], "emergency"),
    ("worst headache of my life and neck is stiff", ["phenelzine"], "emergency"),
    ("I can't catch my breath", [], "emergency"),
    ("my throat feels like it's closing", [], "emergency"),
    ("my tongue is swelling up", [], "emergency"),
    ("I blacked out and my heart was pounding", ["citalopram"], "emergency"),
    ("I can barely stay awake, so drowsy and my breathing is slow", ["oxycodone", "alprazolam"], "emergency"),
    ("vomiting blood", [], "emergency"),
    ("my poo is black", ["sertraline"], "emergency"),
    ("I haven't peed since yesterday", ["amitriptyline"], "urgent"),
    ("halos round lights and my eye hurts", ["amitriptyline"], "emergency"),
    ("I'm so thirsty all the time, peeing constantly and now vomiting", ["clozapine"], "emergency"),
    ("I've been sleepwalking", ["zolpidem"], "urgent"),
    ("ran out of xanax three days ago and now I'm seeing things", ["alprazolam"], "emergency"),
    ("I don't need sleep, I have so much energy and I've been spending loads", ["sertraline"], "urgent"),
    ("people are watching me through the TV", ["methylphenidate"], "urgent"),
    ("feel very agitated since the increase", ["sertraline"], "urgent"),
    ("bit of nausea, no rash, no fever", ["lamotrigine"], "routine"),
    ("no fever or sore throat", ["clozapine"], "routine"),
    ("I don't have a rash", ["lamotrigine"], "routine"),
    ("no vomiting or diarrhoea, just thirsty", ["lithium"], "routine"),
    ("dry mouth and sleepy", ["quetiapine"], "routine"),
    ("a bit dizzy when I stand up", ["quetiapine"], "routine"),
    ("mild headache", ["sertraline"], "routine"),
    ("gained weight", ["olanzapine"], "routine"),
    ("my neck muscles are spasming and I can't swallow", ["haloperidol"], "emergency"),
    ("neck spasms and my tongue feels thick", ["haloperidol"], "urgent"),
    ("my head is pulled to the side", ["haloperidol"], "urgent"),
    ("acute dystonia", ["haloperidol"], "urgent"),
    ("vomiting and diarrhea, tremor and confusion", ["lithium"], "emergency"),
    ("Diarrhoea, vomiting, coarse tremor", ["lithium"], "emergency"),
    ("confused and sweating with muscle twitching", ["sertraline", "tramadol"], "emergency"),
    ("muscle jerks, shivering and diarrhea and I feel agitated", ["fluoxetine"], "emergency"),
    ("I took 10 extra pills", [], "emergency"),
    ("I've got a temperature and a sore throat", ["clozapine"], "urgent"),
    ("temp 38.5", ["clozapine"], "urgent"),
    ("chills and aching all over, like flu", ["clozapine"], "urgent"),
    ("Rash", ["lamotrigine"], "urgent"),
    ("RASH!!", ["LAMOTRIGINE"], "urgent"),
    ("rash and fever", ["lamotrigine"], "emergency"),
    ("rash and fever", ["sertraline"], "emergency"),
    ("hives", ["carbamazepine"], "urgent"),
    ("fever, rigid muscles, confusion", ["quetiapine"], "emergency"),
    ("very high temperature and stiff as a board and confused", ["aripiprazole"], "emergency"),
    ("i feel confused and have a high temperature", ["olanzapine"], "urgent"),
    ("heart racing and I fainted", ["methylphenidate"], "urgent"),
    ("palpitations and dizziness", ["citalopram"], "emergency"),
    ("chest pain", ["clozapine"], "emergency"),
    ("short of breath and a fever", ["clozapine"], "emergency"),
    ("pounding headache", ["tranylcypromine"], "emergency"),
    ("seizure", ["clozapine"], "emergency"),
    ("I had a fit last night", ["amitriptyline"], "emergency"),
    ("can't wake him up", ["oxycodone", "alprazolam"], "emergency"),
    ("Sleepwalking and eating at night without remembering", ["zolpidem"], "urgent"),
    ("hearing voices", [], "urgent"),
    ("I feel paranoid", ["Adderall"], "urgent"),
    ("my erection has lasted 4 hours", [], "emergency"),
    ("erection for 2 hours", ["trazodone"], "routine"),
    ("swollen tongue and lips", [], "emergency"),
    ("I can't breathe properly", [], "emergency"),
    ("I vomited blood", [], "emergency"),
    ("Severe abdominal pain radiating to my back and vomiting", ["valproate"], "emergency"),
    ("yellow eyes", ["valproate"], "urgent"),
    ("jaundice", ["duloxetine"], "urgent"),
    ("stopped taking my clonazepam suddenly and now I'm shaking", ["clonazepam"], "urgent"),
    ("I think I'm pregnant", ["valproate"], "routine"),
    ("I am pregnant", ["lithium"], "routine"),
    ("haven't pooped in a week", ["clozapine"], "urgent"),
    ("very constipated, stomach swollen and vomiting", ["clozapine"], "emergency"),
    ("eye pain and seeing halos", ["amitriptyline"], "emergency"),
    ("blood in my stool", ["sertraline"], "emergency"),
    ("very thirsty, peeing a lot, fruity breath", ["olanzapine"], "emergency"),
    ("haven't slept for 3 days and feel amazing, racing thoughts", ["sertraline"], "urgent"),
    ("I keep falling over", ["lorazepam"], "routine"),
    ("new involuntary movements of my tongue", ["haloperidol"], "routine"),
    ("I'm having an allergic reaction, my face is swelling", [], "emergency"),
    ("anaphylaxis", [], "emergency"),
]


@pytest.mark.parametrize(("text", "drugs", "expected"), PHRASINGS)
def test_other_phrasings(text, drugs, expected):
    assert level(text, *drugs) == expected


EVERYDAY = [
    ("I take lithium 400 mg od as prescribed", ["lithium"]),
    ("Feeling a bit sick in the mornings, better after food", ["sertraline"]),
    ("Sweating more at night", ["sertraline"]),
    ("I've put on 3 kg and I'm always hungry", ["olanzapine"]),
    ("sleepy during the day", ["quetiapine"]),
    ("dry mouth and constipation", ["clozapine"]),
    ("drooling on my pillow at night", ["clozapine"]),
    ("hands shake a little when I hold a cup", ["lithium"]),
    ("I'm thirsty and peeing a lot", ["lithium"]),
    ("hair is thinning", ["valproate"]),
    ("headache in the afternoons", ["methylphenidate"]),
    ("not very hungry at lunch", ["Vyvanse"]),
    ("trouble falling asleep", ["bupropion"]),
    ("vivid dreams", ["sertraline"]),
    ("less interest in sex", ["escitalopram"]),
    ("feeling emotionally flat", ["fluoxetine"]),
    ("yawning a lot", ["sertraline"]),
    ("dizzy when I stand up quickly", ["prazosin"]),
    ("groggy in the morning", ["trazodone"]),
    ("a bit restless", ["aripiprazole"]),
    ("jittery in the first week, better now", ["fluoxetine"]),
    ("brain zaps when I missed a dose", ["venlafaxine"]),
    ("I forgot my dose yesterday", ["sertraline"]),
    ("stomach upset and loose stools", ["sertraline"]),
    ("mild nausea and headache", ["lamotrigine"]),
    ("double vision when tired", ["lamotrigine"]),
    ("feeling tired", ["lithium"]),
    ("weight gain", ["lithium"]),
    ("acne is worse", ["lithium"]),
    ("I feel great, no side effects", ["lithium"]),
    ("slept badly because of the neighbours' party", ["zolpidem"]),
    ("some anxiety before work", ["sertraline"]),
    ("my periods are irregular", ["risperidone"]),
    ("breast tenderness", ["risperidone"]),
    ("I'm feeling a bit down today", ["sertraline"]),
    ("It's been a tough week at work but I'm coping", ["sertraline"]),
    ("my mood is much better, thank you!", ["sertraline"]),
    ("I've been having trouble concentrating", ["atomoxetine"]),
    ("heart beats faster after my morning dose", ["methylphenidate"]),
    ("cold fingers", ["methylphenidate"]),
    ("a few tics", ["methylphenidate"]),
    ("My ankles are swollen in the evening", ["lithium"]),
    ("I get a bit shaky if I skip breakfast", ["lithium"]),
    ("Cramp in my calf last night", ["sertraline"]),
    ("a cold sore on my lip", ["sertraline"]),
    ("stuffy nose", ["prazosin"]),
    ("The pharmacy was out of stock so I missed two days", ["sertraline"]),
    ("Blurry vision when reading small print", ["amitriptyline"]),
    ("feeling sick after I take it", ["lithium"]),
]


@pytest.mark.parametrize(("text", "drugs"), EVERYDAY)
def test_everyday_side_effects_stay_routine_without_reasons(text, drugs):
    assert assess(text, *drugs) == triage.TriageResult("routine", [], ())
