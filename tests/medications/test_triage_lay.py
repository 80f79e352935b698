"""Triage in the patient's own words (issue 17): each clinical picture told without the clinical
word, graded with the regimen as context, and the near-misses that must stay routine (negation,
hypothetical, history, idioms, someone else). Examples written for these tests from the Medication
Guide and MedlinePlus wording the lexicon cites, not taken from any evaluation corpus.
"""

from __future__ import annotations

import datetime
import json
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.models import Alert
from medications import outside, prescribing, side_effects, textmatch, triage
from medications.models import ChangeReason, SideEffectReport
from tests import factories
from tests.helpers import log_in


def assess(text, *drugs, recent=()):
    return triage.assess_text(text, drugs=list(drugs), recent=list(recent))


# (text, drugs, expected level, a rule id that must be among the findings)
LAY = [
    # Seizure told as what happened.
    ("my partner saw me fit on the floor last night", ["sertraline"], "emergency", "seizure_emergency"),
    ("I blacked out and was shaking, then I bit my tongue and wet myself", [], "emergency", "seizure_emergency"),
    ("woke up on the floor, my tongue was bitten and no memory of it", ["lamotrigine"], "emergency",
     "seizure_emergency"),
    ("my husband said I was jerking all over and would not respond", ["bupropion"], "emergency", "seizure_emergency"),
    ("woke up with a sore tongue and I had wet the bed", ["clozapine"], "emergency", "seizure_emergency"),
    ("my girlfriend said I went stiff and started shaking and I didn't respond", ["sertraline"], "emergency",
     "seizure_emergency"),
    ("I keep having episodes where I zone out and my arm jerks", ["bupropion"], "emergency", "seizure_emergency"),
    ("I passed out and my body was shaking, I came round confused", [], "emergency", "seizure_emergency"),
    # SJS/TEN without the word "rash".
    ("my skin is coming off in sheets", ["lamotrigine"], "emergency", "serious_skin_reaction"),
    ("my skin is blistering and peeling like a burn", ["lamotrigine"], "emergency", "serious_skin_reaction"),
    ("blisters in my mouth and my eyes are red and sore", [], "emergency", "serious_skin_reaction"),
    ("sores on my genitals and in my mouth", ["carbamazepine"], "emergency", "serious_skin_reaction"),
    ("a couple of blisters on my arm", ["Lamictal"], "urgent", "skin_reaction_signs"),
    ("my eyes are red and crusty and my lips are peeling", ["lamotrigine"], "emergency", "serious_skin_reaction"),
    # Priapism told lay.
    ("my erection won't go down", ["trazodone"], "emergency", "priapism"),
    ("I've been hard for 5 hours and it hurts", ["trazodone"], "emergency", "priapism"),
    ("my erection has lasted since 2am and it's now 9am", ["trazodone"], "emergency", "priapism"),
    # Serotonin toxicity (Hunter criteria) in lay words.
    ("my legs keep jerking and I'm sweating buckets", ["escitalopram"], "emergency", "serotonin_hunter"),
    ("twitching all day, pouring with sweat, so agitated", ["sertraline", "tramadol"], "emergency",
     "serotonin_syndrome"),
    ("my ankles keep bouncing and I feel really hot", ["venlafaxine"], "emergency", "serotonin_hunter"),
    ("I'm sweating loads, shaking and my heart is racing, I feel really hot", ["sertraline"], "urgent",
     "serotonin_autonomic"),
    # NMS and stimulant chest pain, graded up.
    ("high fever and I'm stiff as a board", ["haloperidol"], "emergency", "nms_fever_rigidity"),
    ("burning up and my muscles are rigid", ["olanzapine"], "emergency", "nms_fever_rigidity"),
    # A carer writing about the patient: "he" is not someone else.
    ("he's burning up, stiff all over and not making sense", ["olanzapine"], "emergency", "nms"),
    ("chest pain and my heart is racing", ["Adderall"], "emergency", "stimulant_chest_tachycardia"),
    ("a crushing feeling in my chest and my heart is pounding", ["methylphenidate"], "emergency",
     "stimulant_chest_tachycardia"),
    # Mania as a story.
    ("haven't slept in 4 days, I have grand plans to start 3 businesses", ["sertraline"], "urgent", "mania_switch"),
    ("up for three nights straight and I spent thousands on a whim", ["bupropion"], "urgent", "mania_switch"),
    # Pancreatitis on valproate.
    ("upper belly pain going through to my back and I keep being sick", ["valproate"], "emergency", "pancreatitis"),
    ("severe pain in my upper stomach going into my back with nausea and vomiting", ["valproate"], "emergency",
     "pancreatitis"),
    # Angioedema.
    ("my lips have blown up and my throat is closing", [], "emergency", "angioedema"),
    # Liver.
    ("my eyes have gone yellow and my pee is like cola", ["valproate"], "urgent", "liver_injury"),
    # Hyponatraemia.
    ("my wife says I am not making sense and I keep losing my balance", ["sertraline"], "urgent", "hyponatraemia"),
    # Agranulocytosis.
    ("hot and cold and my throat is killing me", ["clozapine"], "urgent", "neutropenia_infection"),
    # Lithium toxicity.
    ("walking like I'm drunk and being sick since yesterday", ["lithium"], "emergency", "lithium_toxicity"),
    # Akathisia.
    ("I have to keep moving, pacing up and down all day", ["aripiprazole"], "urgent", "activation"),
    # QT symptoms.
    ("I nearly passed out and my heart keeps skipping beats", ["citalopram"], "emergency", "arrhythmia_syncope"),
    ("my heart flutters and I fainted yesterday", ["ziprasidone"], "emergency", "arrhythmia_syncope"),
    ("I fainted after my heart was banging away", ["citalopram"], "emergency", "arrhythmia_syncope"),
    # Skin that comes away, eyes and mouth together, target-like spots (MedlinePlus SJS wording).
    ("the skin on my shoulders has started to slough away", ["lamotrigine"], "emergency", "serious_skin_reaction"),
    ("it feels like a burn and the top layer comes off when I rub it", ["carbamazepine"], "emergency",
     "serious_skin_reaction"),
    ("my eyes are very pink and sore and there are ulcers in my mouth", ["oxcarbazepine"], "emergency",
     "serious_skin_reaction"),
    ("round spots on my legs that look like little targets", ["lamotrigine"], "emergency",
     "anticonvulsant_rash_severe"),
    ("a few small pink spots appeared on my arms", ["lamotrigine"], "urgent", "anticonvulsant_rash"),
    # Seizures told by a carer, in the past tense, or by what was found afterwards.
    ("she went rigid, and a moment later her arms jerked for about a minute; now she is confused", ["bupropion"],
     "emergency", "seizure_emergency"),
    ("I woke up on the hallway floor with a sore tongue and no idea what happened", ["clozapine"], "emergency",
     "seizure_emergency"),
    ("my daughter had a twitching episode in bed and could not remember it after", ["quetiapine"], "emergency",
     "seizure_emergency"),
    # Chest pain with a racing heart on a stimulant or atomoxetine.
    ("my chest started to ache and my heart is going super fast", ["Vyvanse"], "emergency",
     "stimulant_chest_tachycardia"),
    ("a sharp pain in the middle of my chest and my heart is racing", ["atomoxetine"], "emergency",
     "stimulant_chest_tachycardia"),
    # GI bleeding, pancreatitis, the bowel and the bladder in everyday words.
    ("my poo has been black like tar since Sunday", ["sertraline", "ibuprofen"], "emergency", "gi_bleed"),
    ("I brought up something that looked like blood", ["fluoxetine", "naproxen"], "emergency", "gi_bleed"),
    ("a horrible pain high up in my stomach wrapping round to my back and I keep vomiting", ["Depakote"],
     "emergency", "pancreatitis"),
    ("five days since I last had a poo and my stomach is swollen and hard", ["clozapine"], "emergency",
     "bowel_obstruction"),
    ("he has not had a proper bowel movement in a week", ["clozapine"], "urgent", "severe_constipation"),
    ("I have not gone for 6 days", ["Cobenfy"], "urgent", "severe_constipation"),
    ("not passed any water since this morning and my lower tummy is swollen", ["amitriptyline"], "emergency",
     "urinary_retention_pain"),
    # Angle closure, NMS, lithium toxicity, priapism, hyperammonaemia.
    ("my vision suddenly went cloudy and my eye is really painful", ["topiramate"], "emergency", "angle_closure"),
    ("he's got a temperature of 39.8, he's stiffer than a board and mumbling", ["haloperidol"], "emergency", "nms"),
    ("she feels hot to the touch and her muscles are rigid", ["risperidone"], "emergency", "nms_fever_rigidity"),
    ("she's not herself, extremely drowsy and her hands are shaking hard", ["lithium"], "emergency",
     "lithium_toxicity"),
    ("his private parts have been stiff and sore for hours and won't go soft", ["risperidone"], "emergency",
     "priapism"),
    ("woke with an erection at 3am and by breakfast it still has not gone down", ["trazodone"], "emergency",
     "priapism"),
    ("I am muddled and very sleepy since the topiramate was added", ["valproate", "topiramate"], "urgent",
     "hyperammonaemia"),
    # Crushing chest pain or pain spreading to the jaw or arm is a 911 picture on any regimen (MedlinePlus).
    ("a squeezing pressure behind my breastbone", [], "emergency", "chest_pain_with_breathlessness"),
    ("the pain shoots from my chest up into my jaw", ["sertraline"], "emergency", "chest_pain_with_breathlessness"),
    # A tonic-clonic seizure told in one breath; "fitting" as a verb.
    ("he went rigid, dropped to the ground and shook all over", ["clozapine"], "emergency", "seizure_emergency"),
    ("she collapsed and started fitting", ["bupropion"], "emergency", "seizure_emergency"),
    ("my muscles feel as hard as wood and I have a 103F fever", ["haloperidol"], "emergency", "nms_fever_rigidity"),
    ("it's peeling off in huge patches, red raw underneath", ["lamotrigine"], "emergency", "serious_skin_reaction"),
    ("mouth covered in ulcers", ["clozapine"], "urgent", "neutropenia_infection"),
    ("my willy has been hard since this morning and it hurts", ["trazodone"], "emergency", "priapism"),
    ("a stabbing pain behind my left eye and the lights have halos", ["topiramate"], "emergency", "angle_closure"),
    # A carer's "his"/"her" where the patient would write "my"; swelling, rhythm, bowels, skin pain.
    ("severe pains in her upper stomach that go through to her back and she keeps vomiting", ["valproate"],
     "emergency", "pancreatitis"),
    ("her eyes and lips have puffed right up", [], "emergency", "angioedema"),
    ("I fainted and my heart was beating really irregularly just before", ["ziprasidone"], "emergency",
     "arrhythmia_syncope"),
    ("bowels have not moved in five days and my belly is blown up like a balloon", ["clozapine"], "emergency",
     "bowel_obstruction"),
    ("my skin hurts when anyone touches it and blisters are coming up", ["lamotrigine"], "emergency",
     "serious_skin_reaction"),
    # Readings patients quote, and more ways to tell a rhythm, a seizure, lithium toxicity.
    ("bp 205 over 115 and my head is throbbing", ["phenelzine"], "emergency", "hypertensive_crisis"),
    ("my glucose meter showed 28 and I can't stop being sick", ["olanzapine"], "emergency", "hyperglycaemia"),
    ("sugar was 450 this morning and he is very drowsy", ["clozapine"], "emergency", "hyperglycaemia"),
    ("my heart keeps stopping then thumping and I feel dizzy", ["citalopram"], "emergency", "arrhythmia_syncope"),
    ("we found him on the kitchen floor twitching", ["clozapine"], "emergency", "seizure_emergency"),
    ("slurring his words and very shaky", ["lithium"], "emergency", "lithium_toxicity"),
    ("my lips are all crusty and there are blisters on my chest", ["modafinil"], "emergency",
     "serious_skin_reaction"),
    ("spasm in my throat and I can barely breathe", ["haloperidol"], "emergency", "acute_dystonia_airway"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "drugs", "expected", "rule"), LAY, ids=[case[0][:40] for case in LAY])
def test_pictures_told_without_the_clinical_word(text, drugs, expected, rule):
    result = assess(text, *drugs)
    assert result.level == expected
    assert rule in result.rules


# (text, drugs): each near a dangerous picture, none of them one.
NEAR_MISSES = [
    ("my friend had a seizure yesterday", []),
    ("my sister's skin is peeling after her holiday", ["lamotrigine"]),
    ("I bit my tongue while eating", []),
    ("no fever and I'm not stiff at all", ["haloperidol"]),
    ("what should I do if my erection won't go down?", ["trazodone"]),
    ("my hands shake a bit on sertraline", ["sertraline"]),
    ("I sweat more at night", ["sertraline"]),
    ("the dog ate my homework", []),
    ("I'm dying to know the results", []),
    ("I used to google lethal doses years ago", []),
    ("I never looked up how many it would take", []),
    ("I picked a date for the wedding", []),
    ("I bought a gun for hunting season", []),
    ("I wrote a note to my wife about my new dose", []),
    ("I'm saving my pills for when I travel next week", []),
    ("the new shoes fit well", ["bupropion"]),
    ("I slept badly for two nights because of the noise", ["sertraline"]),
    ("a blister on my heel from new shoes", ["sertraline"]),
    ("my back hurts after gardening", ["valproate"]),
    ("my brother's eyes went yellow last year", ["valproate"]),
    ("I get twitching when falling asleep and night sweats", ["sertraline"]),
    ("I fell asleep on the couch and woke up on the floor", ["quetiapine"]),
    ("pain in my legs and in my mouth", ["clozapine"]),
    # Idioms, questions and seizure talk that is not a seizure.
    ("I nearly had a fit when I saw the bill", ["bupropion"]),
    ("seizure free for three years now on this dose", ["lamotrigine"]),
    ("does bupropion lower the seizure threshold?", ["bupropion"]),
    ("what are the signs of serotonin syndrome I should know?", ["sertraline"]),
    ("what kind of rash would mean I have to stop?", ["lamotrigine"]),
    ("I read something about serotonin syndrome with tramadol", ["sertraline"]),
    # Vasovagal fainting, a blood test, everyday tiredness.
    ("I always feel faint when I see a needle", ["escitalopram"]),
    ("I was vomiting before my blood test", ["sertraline", "ibuprofen"]),
    ("a bit sleepy on it in the mornings", ["valproate"]),
    ("my skin on my feet is peeling a little", ["lamotrigine"]),
    ("the cat had a fit at the vet", ["sertraline"]),
    ("worry sits on my chest like a weight some days", ["sertraline"]),
    ("my legs jerked a bit as I drifted off", ["sertraline"]),
    ("my mind went blank in the exam", ["bupropion"]),
    ("I worked hard all day and my skin is sunburnt", ["lamotrigine"]),
    ("my blood sugar was 6.5 this morning", ["olanzapine"]),
    ("blood sugar 25 percent lower since the diet, feeling sick of salads", ["olanzapine"]),
]


@pytest.mark.parametrize(("text", "drugs"), NEAR_MISSES, ids=[case[0][:40] for case in NEAR_MISSES])
def test_near_misses_stay_routine(text, drugs):
    result = assess(text, *drugs)
    assert (result.level, result.reasons, result.findings) == ("routine", [], ())


def test_a_change_in_the_person_is_not_a_denial():
    norm = textmatch.normalize("She's not herself, very sleepy")
    start = norm.index("very sleepy")
    assert not textmatch.is_negated(norm, start, start + len("very sleepy"))


def test_what_happened_next_is_outside_an_earlier_negation():
    norm = textmatch.normalize("I didn't sleep and drank, then I collapsed and was shaking")
    start = norm.index("collapsed")
    assert not textmatch.is_negated(norm, start, start + len("collapsed"))
    norm = textmatch.normalize("he can't bend his arms, he's got a temperature")
    start = norm.index("got a temperature")
    assert not textmatch.is_negated(norm, start, start + len("got a temperature"))


def test_has_is_read_as_has():
    assert textmatch.normalize("He's got a fever and she's been sick") == "he has got a fever and she has been sick"
    assert textmatch.normalize("he's tired") == "he is tired"


def test_a_relative_tied_to_the_medicine_is_the_patient():
    cared = textmatch.normalize("My grandma is on lithium and she is shaking badly")
    bystander = textmatch.normalize("My grandma is shaking badly")
    for norm, expected in ((cared, False), (bystander, True)):
        start = norm.index("shaking badly")
        assert textmatch.is_third_person(norm, start, start + len("shaking badly")) is expected


# -- Ingestion and suicide risk beyond explicit words -------------------------------------------------

INGESTION = [
    "I took 15 of my pills",
    "took eight of my sleeping tablets at once",
    "I swallowed the whole packet",
    "took the rest of the bottle last night",
    "my toddler swallowed some of my pills",
    "my 3 year old got into my pill bottle",
    "my kid ate some of my gummies",
    "the dog ate my lithium",
    "my son took two of my Zoloft",
    "found my daughter chewing on the blister pack",
]


@pytest.mark.parametrize("text", INGESTION)
def test_ingestion_is_an_emergency_with_poison_control(text):
    result = assess(text)
    assert result.level == "emergency"
    assert any("1-800-222-1222" in reason for reason in result.reasons)


SUICIDE_RISK = [
    "I looked up how many it would take",
    "I googled what dose is fatal",
    "been reading up on the painless way to go",
    "I bought a rope",
    "I've been saving my pills",
    "there's a gun in the house and I keep thinking about it",
    "I've been giving away my things",
    "I wrote letters to my kids for when I'm gone",
    "I have picked a date",
    "I just made a will",
    "I've got enough pills saved up",
    "I bought a gun last week",
    "I've written a note for my family",
    "I can't see any future and I have a way to do it",
    "nothing will ever get better so I am ready",
    "I found a new home for my cat, I won't need to worry about her",
]


@pytest.mark.parametrize("text", SUICIDE_RISK)
def test_suicide_risk_beyond_explicit_words(text):
    result = assess(text)
    assert result.level == "emergency"
    assert result.findings[0].rule in {"crisis:suicidal", "crisis:goodbye"}
    assert result.findings[0].words


# Crisis pictures told loosely (issue 17 tuning): method research, means kept close, a plan with a time,
# preparatory acts that only add up together, self-harm and violence told as acts, counts of a named medicine.
CRISIS_LOOSE = [
    ("I have been reading about my tablets and whether the amount I have is enough", [], "crisis:suicidal"),
    ("googled which of my medicines is the most dangerous", [], "crisis:suicidal"),
    ("looking up which car park in town is the tallest", [], "crisis:suicidal"),
    ("picked up tylenol from four different pharmacies so nobody would notice", [], "crisis:suicidal"),
    ("I've set my pills out on the table in rows and counted them, there is enough", [], "crisis:suicidal"),
    ("Sunday is when I will do it", [], "crisis:suicidal"),
    ("I've got a day chosen", [], "crisis:suicidal"),
    ("I hid my uncle's rifle under my bed", [], "crisis:suicidal"),
    ("I haven't done it yet", [], "crisis:suicidal"),
    ("I keep thinking about driving into a tree on the motorway", [], "crisis:suicidal"),
    ("I'm terrified I'll actually go through with it", [], "crisis:suicidal"),
    ("I have been hoarding my diazepam", ["diazepam"], "crisis:suicidal"),
    ("lately I'm wishing I were dead", [], "crisis:passive"),
    ("it would be such a relief to never wake up", [], "crisis:passive"),
    ("I'm done with living", [], "crisis:passive"),
    ("decided who will get my savings and my belongings", [], "crisis:goodbye"),
    ("made a new will and cancelled all my subscriptions this week", [], "crisis:goodbye"),
    ("he gave away all his vinyl and his bike", [], "crisis:goodbye"),
    ("I keep banging my head against the wall until it bruises", [], "crisis:self_harm"),
    ("I burned a mark into my wrist with a lighter", [], "crisis:self_harm"),
    ("she swallowed some batteries on purpose", [], "crisis:self_harm"),
    ("I've been slapping myself hard when I mess up", [], "crisis:self_harm"),
    ("he's taken a machete to his room and says he's going to sort out the landlord", [], "crisis:harm_others"),
    ("I could really hurt someone today", [], "crisis:harm_others"),
    ("I pushed my partner down the stairs and I'm scared of what I'll do next", [], "crisis:harm_others"),
    ("the voice says my wife is a spy and I need to stop her", [], "crisis:command_hallucination"),
    ("took 12 of her lexapro this morning", ["escitalopram"], "crisis:overdose"),
    ("I swallowed about two weeks' worth of tablets", [], "crisis:overdose"),
    ("my granddaughter found my Zoloft and we think she ate some", [], "crisis:poisoning"),
    ("the puppy chewed through a strip of my clonazepam", ["clonazepam"], "crisis:poisoning"),
    ("the pill box was empty and he had passed out on the sofa", [], "crisis:overdose"),
    ("I am done with all of this. I already have a plan", [], "crisis:suicidal"),
    ("keeping all my tablets by the bed now, I guess you know what for", [], "crisis:suicidal"),
    ("I asked the pharmacy for extra repeats so I have enough.", [], "crisis:suicidal"),
    ("I've been taking 2 capsules 3 times a day instead of one a day", [], "crisis:overdose"),
    ("I swallowed half the bottle of my lamictal", ["lamotrigine"], "crisis:overdose"),
    ("took a fistful of my klonopin an hour ago", ["clonazepam"], "crisis:overdose"),
    ("my toddler bit through one of my seroquel tablets", ["quetiapine"], "crisis:poisoning"),
    ("the baby had one of grandma's pills in her mouth", [], "crisis:poisoning"),
    ("I know exactly which pills I'd take and when", [], "crisis:suicidal"),
    ("I got hold of a rope and hid it in the shed", [], "crisis:suicidal"),
    ("I keep thinking about stepping in front of a train", [], "crisis:suicidal"),
    ("I want to hurt my stepmum, I keep picturing stabbing her", [], "crisis:harm_others"),
    ("I made cuts on my stomach last night", [], "crisis:self_harm"),
    ("I sat in the garage with the car running for a while last night", [], "crisis:suicidal"),
    ("I've been looking at how high the multistorey car park is", [], "crisis:suicidal"),
    ("I wrote my husband a letter explaining why", [], "crisis:goodbye"),
    ("he has been burning himself with a lighter", [], "crisis:self_harm"),
    ("my husband said he'll kill me if I leave and he has a gun", [], "crisis:harm_others"),
    ("I found my son's hit list of kids at his school", [], "crisis:harm_others"),
    ("I think I took my evening dose 3 times, I forgot I'd taken it", [], "crisis:overdose"),
    ("she left a note on the table saying sorry for everything", [], "crisis:goodbye"),
    ("my son texted me goodbye and isn't answering", [], "crisis:goodbye"),
    ("she took 2 weeks of her meds in one go", [], "crisis:overdose"),
    ("my 7 yo swallowed a couple of my clonidine", ["clonidine"], "crisis:poisoning"),
    ("he keeps saying he will make them all pay and has been buying ammunition", [], "crisis:harm_others"),
    ("I have urges to push people onto the train tracks", [], "crisis:harm_others"),
]


@pytest.mark.parametrize(("text", "drugs", "rule"), CRISIS_LOOSE, ids=[case[0][:40] for case in CRISIS_LOOSE])
def test_crisis_pictures_told_loosely(text, drugs, rule):
    result = assess(text, *drugs)
    assert result.level == "emergency"
    # Suicidal intent, passive ideation and goodbyes are one picture told three ways: any of them will do.
    suicide = {"crisis:suicidal", "crisis:passive", "crisis:goodbye"}
    assert set(result.rules) & (suicide if rule in suicide else {rule})


# Near each of those families, none a crisis.
CRISIS_NEAR_MISSES = [
    ("I tried to end my life about ten years ago and I'm doing well now", []),
    ("I overdosed once 6 years ago, now I keep only a week of tablets at home", []),
    ("the leaflet says to look out for suicidal thoughts, anything else to watch?", ["sertraline"]),
    ("we watched a documentary about a suicide cluster, I'm fine", []),
    ("my cousin told me about her suicidal thoughts last year and she got help", []),
    ("my essay is about a character wanting to die in a war novel", []),
    ("my flatmate ate my sandwich, I'm going to kill her lol", []),
    ("would it be dangerous if a dog ate one of my sertraline? just planning ahead", ["sertraline"]),
    ("I quit my job last month and feel relieved", []),
    ("I took 50 mg sertraline this morning as usual", ["sertraline"]),
    ("I sat on the edge of the bed until the dizziness passed", ["trazodone"]),
    ("I bumped my head on the cupboard door", []),
    ("I want to cut down on coffee", []),
    ("my pill bottle is empty, can I get a refill?", []),
    ("I gave my dog to my sister to mind for the weekend", []),
    ("I am done with the exercise plan, I have a plan for the diet instead", []),
    ("I asked for a bigger supply so I have enough for my holiday", []),
    ("I gave my old laptop to my nephew", []),
    ("my kid ate breakfast then I took my sertraline", ["sertraline"]),
    ("my son ate some grapes after his sertraline", ["sertraline"]),
    ("If the dog ate a tablet what should I do?", ["sertraline"]),
    ("going to deal with the paperwork tomorrow, bought a new knife set", []),
    ("I'm done with therapy for now, I have a plan to keep exercising", []),
    ("I took all my morning tablets as usual", []),
    ("I need to cut my tablets in half", []),
    ("I take 10 mg of escitalopram", ["escitalopram"]),
    ("took 20 mg of my fluoxetine", ["fluoxetine"]),
    ("my dad had his will done and cancelled his old phone contract, what a week for him", []),
    ("my mum will kill me if I fail this exam", []),
    ("I take my tablets 3 times a day", []),
    ("I'm going to kill it at my exam tomorrow", []),
]


@pytest.mark.parametrize(("text", "drugs"), CRISIS_NEAR_MISSES, ids=[case[0][:40] for case in CRISIS_NEAR_MISSES])
def test_crisis_near_misses_stay_routine(text, drugs):
    result = assess(text, *drugs)
    assert (result.level, result.reasons) == ("routine", [])


# Behavioural pictures told as what happened (mania, psychosis, complex sleep behaviour, falls,
# respiratory depression), each needing the sign or cluster the Medication Guide or MedlinePlus describes.
BEHAVIOUR = [
    (
        "sleeping maybe 3 hours and my mind is going at a hundred miles an hour",
        ["sertraline"],
        "urgent",
        "mania_switch",
    ),
    ("energy is off the charts, I have not eaten or slept for three days", ["venlafaxine"], "urgent", "mania_switch"),
    ("she thinks she is a prophet and keeps spending money on crystals", ["fluoxetine"], "urgent", "mania_switch"),
    (
        "redecorated the kitchen at 4am and sent dozens of texts to friends about my plans",
        ["bupropion"],
        "urgent",
        "mania_switch",
    ),
    ("he says ants are crawling under his skin", ["lisdexamfetamine"], "urgent", "psychosis"),
    ("I hear my name being whispered when nobody is home", ["methylphenidate"], "urgent", "psychosis"),
    ("she is searching the flat for hidden microphones", ["bupropion"], "urgent", "psychosis"),
    ("my husband talks to people who are not there", ["dextroamphetamine"], "urgent", "psychosis"),
    (
        "my wife found me eating cereal in the night and I have no recollection of it",
        ["eszopiclone"],
        "urgent",
        "complex_sleep_behaviour",
    ),
    (
        "I went out to the garden and my partner said I was fast asleep",
        ["zolpidem"],
        "urgent",
        "complex_sleep_behaviour",
    ),
    ("mum has fallen three times since the new tablets", ["lorazepam"], "urgent", "fall_or_new_confusion"),
    (
        "we can't keep dad awake and there are long pauses in his breathing",
        ["oxycodone"],
        "emergency",
        "respiratory_depression",
    ),
    ("I went 3 nights without sleep and I'm bursting with ideas", ["sertraline"], "urgent", "mania_switch"),
    ("up for 72 hours straight and I feel amazing", ["sertraline"], "urgent", "mania_switch"),
    ("I feel jittery and on edge and can't settle since the dose went up", ["sertraline"], "urgent", "activation"),
    (
        "ran out of alprazolam and I'm seeing spiders on the walls",
        ["alprazolam"],
        "emergency",
        "sedative_withdrawal_severe",
    ),
    (
        "since stopping my benzo I feel like I'm losing my mind and hearing things",
        ["clonazepam"],
        "emergency",
        "sedative_withdrawal_severe",
    ),
    ("he has been spending like crazy and talking a mile a minute", ["venlafaxine"], "urgent", "mania_switch"),
    (
        "I found myself in my car in my pyjamas with no idea how I got there",
        ["zolpidem"],
        "urgent",
        "complex_sleep_behaviour",
    ),
    ("I see shadows of people in the corner who aren't there", ["methylphenidate"], "urgent", "psychosis"),
    ("he thinks the TV is talking about him", ["lisdexamfetamine"], "urgent", "psychosis"),
    (
        "grandpa has had a few falls this month since the new sleeping tablet",
        ["temazepam"],
        "urgent",
        "fall_or_new_confusion",
    ),
    ("Dad fell in the bathroom and hit his head", ["lorazepam"], "urgent", "fall_or_new_confusion"),
    (
        "so drowsy I can't keep my eyes open and I am short of breath",
        ["gabapentin", "morphine"],
        "emergency",
        "respiratory_depression",
    ),
]


@pytest.mark.parametrize(("text", "drugs", "expected", "rule"), BEHAVIOUR, ids=[case[0][:40] for case in BEHAVIOUR])
def test_behavioural_pictures_told_as_what_happened(text, drugs, expected, rule):
    result = assess(text, *drugs)
    assert result.level == expected
    assert rule in result.rules


BEHAVIOUR_NEAR_MISSES = [
    ("I'm sleeping 8 hours a night now and feel rested", ["sertraline"]),
    ("I've been so productive at work since the dose went up, sleeping well", ["bupropion"]),
    ("we bought three plants this week for the garden", ["sertraline"]),
    ("I heard the neighbours' dog barking when nobody was home", ["methylphenidate"]),
    ("the bugs in the garden are crawling all over the tomatoes", ["lisdexamfetamine"]),
    ("the radio said it will rain tomorrow", ["risperidone"]),
    ("I had food poisoning last week from a takeaway", ["aripiprazole"]),
    ("I don't remember the name of the new tablet", ["zolpidem"]),
    ("I fell asleep quickly and slept through", ["zolpidem"]),
    ("I'm a bit sleepy in the mornings on it", ["pregabalin"]),
    ("can't sleep well, only 5 hours a night, feel tired", ["sertraline"]),
    ("I'm so productive since the ADHD meds, finally finishing work", ["methylphenidate"]),
    ("I hear the neighbours arguing through the wall", ["methylphenidate"]),
    ("I don't remember the dream", ["zolpidem"]),
    ("I feel amazing on the new dose and I'm sleeping 8 hours", ["sertraline"]),
    ("you could hurt someone with that knife, be careful", []),
    ("up for 12 hours at work today, long shift", ["sertraline"]),
    ("I ran out of my sleeping pill but I slept okay", ["zolpidem"]),
    ("I used to pace a lot before my diagnosis, much calmer now", ["aripiprazole"]),
]


@pytest.mark.parametrize(("text", "drugs"), BEHAVIOUR_NEAR_MISSES, ids=[case[0][:40] for case in BEHAVIOUR_NEAR_MISSES])
def test_behavioural_near_misses_stay_routine(text, drugs):
    result = assess(text, *drugs)
    assert (result.level, result.reasons) == ("routine", [])


# -- The regimen and its recent changes as context --------------------------------------------------

SEROTONIN_SIGNS = "I'm sweating loads, shaking and my heart is racing, I feel really hot"


def test_a_recent_start_or_increase_grades_serotonin_signs_up():
    assert assess(SEROTONIN_SIGNS, "sertraline").level == "urgent"
    raised = assess(SEROTONIN_SIGNS, "sertraline", recent=["sertraline"])
    assert raised.level == "emergency"
    assert "after a recent start, dose increase or added drug" in raised.reasons[0]
    # A recent change to a drug the picture does not involve is not context for it.
    assert assess(SEROTONIN_SIGNS, "sertraline", recent=["quetiapine"]).level == "urgent"


@pytest.mark.parametrize(
    "timing", ["since the new antibiotic", "after I doubled it", "since they added tramadol", "since my dose went up"]
)
def test_the_reports_own_timing_words_are_context(timing):
    assert assess(f"{SEROTONIN_SIGNS} {timing}", "sertraline").level == "emergency"


def test_recent_drugs_count_as_taken():
    assert assess("my legs keep jerking and I'm sweating buckets", recent=["Lexapro"]).level == "emergency"


def test_off_a_serotonergic_drug_the_same_signs_are_not_serotonin_toxicity():
    result = assess(SEROTONIN_SIGNS, "quetiapine")
    assert not {"serotonin_hunter", "serotonin_autonomic"} & set(result.rules)


# -- Findings: the picture, the words, the source ---------------------------------------------------


def test_findings_name_the_picture_the_words_and_the_source():
    result = assess("high fever and I'm stiff as a board", "haloperidol")
    (finding,) = result.findings
    assert finding.rule == "nms_fever_rigidity"
    assert finding.label == "Neuroleptic malignant syndrome (fever with rigidity)"
    assert finding.level == "emergency"
    assert set(finding.words) == {"fever", "stiff"}
    assert "DSM-5-TR" in finding.source
    # The reason the psychiatrist reads starts with the picture and quotes the words.
    assert result.reasons[0].startswith("Neuroleptic malignant syndrome (fever with rigidity) — ")
    assert '(reported: "fever; stiff")' in result.reasons[0]


def test_crisis_findings_quote_the_words():
    (finding,) = assess("I googled what dose is fatal").findings
    assert (finding.rule, finding.label, finding.words) == (
        "crisis:suicidal",
        "Suicide risk",
        ("googled what dose is fatal",),
    )


def test_every_rule_and_concept_names_its_sources():
    data = json.loads(triage.RULES_FILE.read_text())
    for name, entry in data["concepts"].items():
        assert entry["patterns"] and entry["sources"], name
    for rule in data["rules"]:
        assert rule["label"] and rule["source"], rule["id"]
    for category, info in data["crisis"].items():
        assert info["label"] and info["source"], category
    for rid in ("nms_fever_rigidity", "stimulant_chest_tachycardia", "serotonin_hunter", "serotonin_autonomic"):
        assert next(r for r in data["rules"] if r["id"] == rid)["grading"]


def test_another_lexicon_file_merges_by_concept_name(tmp_path):
    extra = tmp_path / "lexicon_xx.json"
    extra.write_text(json.dumps({"concepts": {"fever": {"patterns": [r"\bcalentura\b"], "sources": ["test"]}}}))
    merged = triage.load_concepts((triage.RULES_FILE, extra))
    assert r"\bcalentura\b" in merged["fever"]["patterns"]
    assert r"\bfevers?\b" in merged["fever"]["patterns"]
    assert "test" in merged["fever"]["sources"]
    extra.write_text(json.dumps({"concepts": {"fever": {"patterns": ["x"], "sources": []}}}))
    with pytest.raises(ValueError, match="no source"):
        triage.load_concepts((extra,))


def test_a_long_report_is_triaged_quickly():
    text = (
        "Since the new antibiotic I have felt awful. I am sweating at night and my hands shake, I had a "
        "headache on Tuesday but no fever. My wife says I am not making sense. I took my sertraline as usual. "
    ) * 10
    text = text[:2000]
    triage.assess_text(text, drugs=["sertraline", "lithium"])  # patterns compile once, on first use
    started = time.perf_counter()
    triage.assess_text(text, drugs=["sertraline", "lithium", "quetiapine"])
    # Tens of milliseconds on a loaded 2-core machine; a generous bound catches a pathological regex.
    assert time.perf_counter() - started < 1.0


# -- The portal: recent changes, what the patient and the psychiatrist see ----------------------------


def _post_report(client, text):
    data = {
        "prescription": "not_sure",
        "severity": "moderate",
        "onset_date": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "ongoing": "yes",
        "other_symptoms": text,
    }
    return client.post(reverse("medications:my_report_create"), data)


@pytest.mark.django_db
def test_the_portal_passes_recent_starts_and_increases(patient, psychiatrist):
    long_ago = timezone.localdate() - datetime.timedelta(days=90)
    old = factories.start(patient, psychiatrist, drug="sertraline", dose="50", strength="50", start_date=long_ago)
    factories.start(patient, psychiatrist, drug="quetiapine", dose="25", strength="25", start_date=long_ago)
    assert side_effects.recent_changes([old]) == []
    prescribing.change_dose(old, actor=psychiatrist, dose_mg=Decimal(100), reason=ChangeReason.INEFFECTIVE)
    new = factories.start(patient, psychiatrist, drug="lithium", dose="300", strength="300")

    assert {m.generic_name for m in side_effects.recent_changes([old, new])} == {"sertraline", "lithium"}
    report = side_effects.submit_report(
        patient=patient,
        reporter=patient.user,
        prescription=None,
        symptoms=[],
        other_symptoms=SEROTONIN_SIGNS,
        severity="moderate",
        onset_date=timezone.localdate(),
        ongoing=True,
    )
    assert report.triage_level == "emergency"


def _submit(patient, text):
    return side_effects.submit_report(
        patient=patient,
        reporter=patient.user,
        prescription=None,
        symptoms=[],
        other_symptoms=text,
        severity="moderate",
        onset_date=timezone.localdate(),
        ongoing=True,
    )


@pytest.mark.django_db
def test_a_coded_outside_medicine_is_triage_context_and_a_recent_one_counts_as_added(patient, psychiatrist):
    long_ago = timezone.localdate() - datetime.timedelta(days=90)
    factories.start(patient, psychiatrist, drug="sertraline", dose="50", strength="50", start_date=long_ago)
    # Without the outside drug: one long-standing serotonergic medicine, no recent change.
    baseline = _submit(patient, SEROTONIN_SIGNS).triage_level
    factories.outside_medication(patient, psychiatrist, "Ultram", source="urgent care", start_date=timezone.localdate())
    factories.outside_medication(patient, psychiatrist, "kratom tea")  # uncoded: nothing to match

    report = _submit(patient, SEROTONIN_SIGNS)

    assert (baseline, report.triage_level) == ("urgent", "emergency")
    assert any("tramadol" in reason for reason in report.urgent_reasons)


@pytest.mark.django_db
def test_a_stopped_or_old_outside_medicine_is_not_a_recent_change(patient, psychiatrist):
    long_ago = timezone.localdate() - datetime.timedelta(days=90)
    factories.start(patient, psychiatrist, drug="sertraline", dose="50", strength="50", start_date=long_ago)
    factories.outside_medication(patient, psychiatrist, "tramadol", start_date=long_ago)
    stopped = factories.outside_medication(patient, psychiatrist, "linezolid", start_date=timezone.localdate())
    outside.stop(stopped, by=psychiatrist)

    report = _submit(patient, SEROTONIN_SIGNS)

    assert report.triage_level == "urgent"
    assert not any("linezolid" in reason for reason in report.urgent_reasons)


@pytest.mark.django_db
def test_a_dose_decrease_is_not_a_recent_change(patient, psychiatrist):
    long_ago = timezone.localdate() - datetime.timedelta(days=90)
    rx = factories.start(patient, psychiatrist, drug="sertraline", dose="100", strength="50", start_date=long_ago)
    prescribing.change_dose(rx, actor=psychiatrist, dose_mg=Decimal(50), reason=ChangeReason.SIDE_EFFECT)
    assert side_effects.recent_changes([rx]) == []


@pytest.mark.django_db
def test_submitting_a_report_costs_the_same_queries_however_many_medicines(client, patient, psychiatrist):
    log_in(client, patient.user)
    factories.start(patient, psychiatrist, drug="sertraline")
    with CaptureQueriesContext(connection) as one:
        _post_report(client, "I feel a bit sick in the mornings")
    for drug in ("lithium", "quetiapine", "lamotrigine"):
        factories.start(patient, psychiatrist, drug=drug, dose="25", strength="25")
    with CaptureQueriesContext(connection) as four:
        _post_report(client, "I feel a bit sick in the mornings")
    assert len(four) == len(one)


@pytest.mark.django_db
def test_ingestion_shows_poison_control_to_the_patient(client, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")
    log_in(client, patient.user)
    _post_report(client, "my toddler swallowed some of my pills")
    page = client.get(reverse("medications:my_report_sent")).content.decode()
    main = page[page.index('<main id="main"') :]
    assert 'href="tel:18002221222"' in main
    assert main.index("Please get help now") < main.index("Your report was sent")
    assert "child or pet" in main


@pytest.mark.django_db
def test_the_psychiatrist_sees_the_picture_and_the_words(client, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="escitalopram", dose="10", strength="10")
    log_in(client, patient.user)
    _post_report(client, "my legs keep jerking and I'm sweating buckets")
    report = SideEffectReport.objects.get()
    client.logout()
    log_in(client, psychiatrist)

    detail = client.get(reverse("medications:report_detail", args=[patient.pk, report.pk])).content.decode()
    alerts = client.get(reverse("alerts")).content.decode()

    for page in (detail, alerts):
        assert "Serotonin toxicity (Hunter criteria)" in page
        assert "legs keep jerking" in page
    assert Alert.objects.get().reasons == report.urgent_reasons
