"""The prescribing checks: every rule in medications/data/interaction_rules.json fires on a regimen
and stays quiet on a neighbouring one; washout, duplicate therapy, dose caps, allergies, pregnancy
and age; and the regimen the portal builds from the database.

RULE_CASES is keyed by rule id. `test_every_rule_in_the_data_file_has_a_case` fails when a rule is
added to the data file without a case here.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditEvent
from medications import formulary, prescribing, safety
from medications.models import Allergy, ChangeReason, PrescriptionEvent
from patients.models import Diagnosis
from tests import factories

TODAY = datetime.date(2026, 6, 15)
DRUGS = {entry["generic_name"]: safety.Drug.from_entry(entry) for entry in formulary.read_entries()}


def item(spec: str | tuple, **extra) -> safety.Item:
    """'sertraline', 'sertraline:50' or ('olanzapine:10', {'route': 'intramuscular'})."""
    if isinstance(spec, tuple):
        spec, extra = spec[0], {**spec[1], **extra}
    name, _, mg = spec.partition(":")
    return safety.Item(drug=DRUGS[name], mg_per_day=Decimal(mg) if mg else None, **extra)


def ctx(*, age=None, pregnancy="", dx=(), allergies=(), stopped=(), resolved=(), recorded=()) -> safety.Context:
    """dx: active codes; resolved: (code, days_ago) resolved; recorded: (code, days_ago) newly recorded;
    stopped: (drug, days_ago)."""
    diagnoses = [safety.DiagnosisInfo(code=code, recorded_on=TODAY - datetime.timedelta(days=400)) for code in dx]
    diagnoses += [
        safety.DiagnosisInfo(code=code, active=False, resolved_on=TODAY - datetime.timedelta(days=ago))
        for code, ago in resolved
    ]
    diagnoses += [
        safety.DiagnosisInfo(code=code, recorded_on=TODAY - datetime.timedelta(days=ago)) for code, ago in recorded
    ]
    return safety.Context(
        today=TODAY,
        age=age,
        pregnancy_status=pregnancy,
        allergies=tuple(allergies),
        diagnoses=tuple(diagnoses),
        stopped=tuple(
            safety.StoppedDrug(drug=DRUGS[name], stopped_on=TODAY - datetime.timedelta(days=ago))
            for name, ago in stopped
        ),
    )


@dataclass
class Case:
    fires: list
    quiet: list
    severity: str | None = None
    kind: str | None = None  # only alerts of this kind count (both for firing and for staying quiet)
    context: safety.Context | None = None
    quiet_context: safety.Context | None = field(default=None)
    # For an escalation: the neighbour may still fire the rule, but not at this severity.
    escalation: bool = False


def allergic_to(substance: str) -> safety.Context:
    return ctx(allergies=[safety.AllergyInfo(substance=substance, drug_class=substance)])


def alerts_of(rule_id: str, regimen, context, kind=None) -> list[safety.PrescribingAlert]:
    found = safety.check_regimen([item(s) for s in regimen], context=context)
    return [a for a in found if a.rule == rule_id and (kind is None or a.kind == kind)]


CI, MAJ, MOD, MIN = "contraindicated", "major", "moderate", "minor"
OLD = ctx(age=70)
SSRI_ALLERGY = safety.AllergyInfo(substance="SSRIs", drug_class="SSRIs", severity="moderate")

RULE_CASES: dict[str, list[Case]] = {
    "1": [
        Case(["phenelzine", "sertraline"], ["phenelzine", "lithium"], CI),
        Case(["tranylcypromine", "bupropion"], ["sertraline", "bupropion"], CI),
        Case(["selegiline", "dextromethorphan/bupropion"], ["selegiline", "oxycodone"], CI),
        # Washout: MAOI stopped 13 days ago, sertraline now; 14 days is allowed.
        Case(
            ["sertraline"],
            ["sertraline"],
            CI,
            "washout",
            ctx(stopped=[("phenelzine", 13)]),
            ctx(stopped=[("phenelzine", 14)]),
        ),
        # Fluoxetine needs 5 weeks before an MAOI; duloxetine 5 days; venlafaxine 7; vortioxetine 21.
        Case(
            ["phenelzine"],
            ["phenelzine"],
            CI,
            "washout",
            ctx(stopped=[("fluoxetine", 34)]),
            ctx(stopped=[("fluoxetine", 35)]),
        ),
        Case(
            ["phenelzine"],
            ["phenelzine"],
            CI,
            "washout",
            ctx(stopped=[("duloxetine", 4)]),
            ctx(stopped=[("duloxetine", 5)]),
        ),
        Case(
            ["phenelzine"],
            ["phenelzine"],
            CI,
            "washout",
            ctx(stopped=[("venlafaxine", 6)]),
            ctx(stopped=[("venlafaxine", 7)]),
        ),
        Case(
            ["phenelzine"],
            ["phenelzine"],
            CI,
            "washout",
            ctx(stopped=[("vortioxetine", 20)]),
            ctx(stopped=[("vortioxetine", 21)]),
        ),
        Case(
            ["phenelzine"],
            ["phenelzine"],
            CI,
            "washout",
            ctx(stopped=[("sertraline", 13)]),
            ctx(stopped=[("sertraline", 14)]),
        ),
    ],  # fmt: skip
    "2": [
        Case(["isocarboxazid", "tramadol"], ["isocarboxazid", "oxycodone"], CI),
        Case(["phenelzine", "dextromethorphan"], ["phenelzine", "codeine"], CI),
        Case(["phenelzine", "st john's wort"], ["sertraline", "st john's wort"], CI),
        Case(
            ["meperidine"],
            ["meperidine"],
            CI,
            "washout",
            ctx(stopped=[("phenelzine", 10)]),
            ctx(stopped=[("phenelzine", 14)]),
        ),
    ],  # fmt: skip
    "3": [
        Case(["phenelzine", "lisdexamfetamine"], ["phenelzine", "modafinil"], CI),
        Case(["tranylcypromine", "pseudoephedrine"], ["sertraline", "pseudoephedrine"], CI),
        Case(["phenelzine", "buspirone"], ["phenelzine", "hydroxyzine"], CI),
        Case(
            ["methylphenidate"],
            ["methylphenidate"],
            CI,
            "washout",
            ctx(stopped=[("phenelzine", 3)]),
            ctx(stopped=[("phenelzine", 14)]),
        ),
    ],  # fmt: skip
    "4": [
        Case(["phenelzine"], ["sertraline"], MOD, "counselling"),
        Case(["selegiline:9"], ["selegiline:6"], MOD, "counselling"),
    ],
    "5": [
        Case(["phenelzine", "linezolid"], ["sertraline", "linezolid"], CI),
        Case(["phenelzine", "tranylcypromine"], ["phenelzine", "lithium"], CI),
        Case(["selegiline", "oxcarbazepine"], ["phenelzine", "oxcarbazepine"], CI),
        Case(["phenelzine", "carbamazepine"], ["sertraline", "carbamazepine"], CI),
        Case(["phenelzine", "sumatriptan"], ["sertraline", "sumatriptan"], CI),
        Case(
            ["tranylcypromine"],
            ["tranylcypromine"],
            CI,
            "washout",
            ctx(stopped=[("phenelzine", 7)]),
            ctx(stopped=[("phenelzine", 14)]),
        ),
    ],  # fmt: skip
    "6": [
        Case(["linezolid", "sertraline"], ["linezolid", "tramadol"], CI),
        Case(["methylene blue", "lithium"], ["methylene blue", "bupropion"], CI),
        Case(
            ["linezolid"],
            ["linezolid"],
            MAJ,
            "washout",
            ctx(stopped=[("fluoxetine", 20)]),
            ctx(stopped=[("fluoxetine", 35)]),
        ),
        Case(
            ["linezolid"],
            ["linezolid"],
            MAJ,
            "washout",
            ctx(stopped=[("sertraline", 13)]),
            ctx(stopped=[("sertraline", 14)]),
        ),
        Case(
            ["sertraline"],
            ["sertraline"],
            MAJ,
            "washout",
            ctx(stopped=[("linezolid", 0)]),
            ctx(stopped=[("linezolid", 1)]),
        ),
    ],  # fmt: skip
    "7": [
        Case(["sertraline", "sumatriptan"], ["sertraline", "bupropion"], MOD),
        Case(["sertraline", "tramadol"], ["sertraline", "oxycodone"], MAJ),
        Case(["sertraline", "tramadol"], ["sertraline", "tapentadol"], MAJ, escalation=True),
        Case(["sertraline", "trazodone", "buspirone"], ["sertraline", "trazodone"], MAJ, escalation=True),
    ],
    "8": [
        Case(["sertraline", "ibuprofen"], ["bupropion", "ibuprofen"], MOD),
        Case(["venlafaxine", "warfarin"], ["mirtazapine", "warfarin"], MAJ),
        Case(
            ["sertraline", "naproxen"],
            ["sertraline", "naproxen"],
            MAJ,
            context=OLD,
            quiet_context=ctx(age=64),
            escalation=True,
        ),
        Case(
            ["nortriptyline", "aspirin"],
            ["nortriptyline", "aspirin"],
            MAJ,
            context=ctx(dx=["K92.2"]),
            quiet_context=ctx(dx=["K21.9"]),
            escalation=True,
        ),
    ],  # fmt: skip
    "9": [
        Case(["citalopram:60"], ["citalopram:40"], MAJ, "max_dose"),
        Case(["citalopram:30"], ["citalopram:30"], MAJ, "max_dose", ctx(age=61), ctx(age=59)),
        Case(["citalopram:30", "cimetidine"], ["citalopram:20", "cimetidine"], MAJ, "max_dose"),
        Case(["citalopram:30", "fluvoxamine"], ["citalopram:30", "fluoxetine"], MAJ, "max_dose"),
        Case(["citalopram:30"], ["citalopram:30"], MAJ, "max_dose", ctx(dx=["K74.60"]), ctx(dx=["F32.1"])),
    ],
    "10": [
        Case(["ziprasidone", "citalopram"], ["ziprasidone", "sertraline"], CI),
        Case(["pimozide", "ondansetron"], ["pimozide", "metoclopramide"], CI),
        Case(["thioridazine", "methadone"], ["haloperidol", "methadone"], CI),
    ],
    "11": [
        Case(["citalopram", "methadone"], ["citalopram", "sertraline"], MAJ),
        Case(["escitalopram", "moxifloxacin", "ondansetron"], ["escitalopram", "sertraline"], MAJ),
        Case(["escitalopram"], ["escitalopram"], MAJ, "condition", ctx(dx=["I45.81"]), ctx(dx=["I10"])),
        Case(["methadone:120"], ["methadone:100"], MAJ, "max_dose"),
    ],
    "12": [
        Case(["fluoxetine", "aripiprazole"], ["sertraline", "aripiprazole"], MAJ),
        Case(["bupropion", "brexpiprazole"], ["escitalopram", "brexpiprazole"], MAJ),
        Case(["paroxetine", "aripiprazole long-acting injection"], ["paroxetine", "risperidone"], MAJ),
    ],
    "13": [Case(["paroxetine", "atomoxetine"], ["sertraline", "atomoxetine"], MAJ)],
    "14": [
        Case(["bupropion", "nortriptyline"], ["escitalopram", "nortriptyline"], MAJ),
        Case(["fluoxetine", "vortioxetine:20"], ["sertraline", "vortioxetine:20"], MAJ),
        Case(["fluoxetine", "vortioxetine:10"], ["fluoxetine", "mirtazapine"], MIN),
        Case(["paroxetine", "deutetrabenazine:48"], ["venlafaxine", "deutetrabenazine:48"], MAJ),
        Case(["quinidine", "metoprolol"], ["sertraline", "metoprolol"], MAJ),
        Case(["terbinafine", "iloperidone"], ["fluconazole", "iloperidone"], MAJ),
        Case(["fluoxetine", "valbenazine"], ["citalopram", "valbenazine"], MAJ),
    ],
    "15": [Case(["paroxetine", "tamoxifen"], ["venlafaxine", "tamoxifen"], MAJ)],
    "16": [Case(["fluoxetine", "codeine"], ["fluoxetine", "morphine"], MOD)],
    "17": [
        Case(["thioridazine", "propranolol"], ["thioridazine", "metoprolol"], CI),
        Case(["thioridazine", "sertraline"], ["thioridazine", "escitalopram"], CI),
    ],
    "18": [
        Case(["pimozide", "clarithromycin"], ["pimozide", "fluoxetine"], CI),
        Case(["pimozide", "sertraline"], ["pimozide", "venlafaxine"], CI),
        Case(["pimozide", "diltiazem"], ["pimozide", "metoprolol"], CI),
    ],
    "19": [
        Case(["fluvoxamine", "tizanidine"], ["sertraline", "tizanidine"], CI),
        Case(["fluvoxamine", "ramelteon"], ["fluvoxamine", "zolpidem"], CI),
    ],
    "20": [Case(["ciprofloxacin", "clozapine"], ["moxifloxacin", "clozapine"], MAJ)],
    "21": [
        Case(["fluvoxamine", "olanzapine"], ["sertraline", "olanzapine"], MOD),
        Case(["fluvoxamine", "duloxetine"], ["fluoxetine", "duloxetine"], MAJ),
        Case(["ciprofloxacin", "theophylline"], ["moxifloxacin", "theophylline"], MAJ),
        Case(["fluvoxamine", "caffeine"], ["sertraline", "caffeine"], MOD),
    ],
    "22": [
        Case(
            ["clozapine"],
            ["clozapine"],
            MAJ,
            "condition",
            ctx(resolved=[("F17.210", 10)]),
            ctx(resolved=[("F17.210", 60)]),
        ),
        Case(["clozapine"], ["clozapine"], MAJ, "condition", ctx(recorded=[("F17.210", 5)]), ctx(dx=["F17.210"])),
        Case(
            ["olanzapine"],
            ["risperidone"],
            MOD,
            "condition",
            ctx(resolved=[("F17.210", 3)]),
            ctx(resolved=[("F17.210", 3)]),
        ),
    ],  # fmt: skip
    "23": [
        Case(["clozapine", "carbamazepine"], ["clozapine", "oxcarbazepine"], CI),
        Case(["clozapine", "rifampin"], ["clozapine", "fluconazole"], MAJ),
        Case(["clozapine", "procarbazine"], ["clozapine", "valproate"], MAJ),
    ],
    "24": [
        Case(["clozapine", "benztropine"], ["clozapine", "sertraline"], MAJ),
        Case(["amitriptyline", "hydroxyzine"], ["oxycodone", "morphine"], MOD),
        Case(["paroxetine", "oxycodone"], ["sertraline", "oxycodone"], MOD),
    ],
    "25": [
        Case(["clozapine", "lorazepam"], ["clozapine", "zolpidem"], MAJ),
        Case(
            [("olanzapine", {"route": "intramuscular"}), ("lorazepam", {"route": "intramuscular"})],
            [("olanzapine", {"route": "oral"}), ("lorazepam", {"route": "intramuscular"})],
            MAJ,
        ),
    ],
    "26": [
        Case(["lithium", "ibuprofen"], ["lithium", "acetazolamide"], MAJ),
        Case(["lithium", "aspirin:650"], ["lithium", "aspirin:81"], MAJ),
        Case(["lithium", "aspirin"], ["lithium", "aspirin:325"], MOD),
    ],
    "27": [
        Case(["lithium", "lisinopril"], ["lithium", "metoprolol"], MAJ),
        Case(["lithium", "losartan"], ["valproate", "losartan"], MAJ),
    ],
    "28": [
        Case(["lithium", "hydrochlorothiazide"], ["lithium", "acetazolamide"], MAJ),
        Case(["lithium", "furosemide"], ["valproate", "furosemide"], MOD),
    ],
    "29": [
        Case(["lithium", "metronidazole"], ["lithium", "metoprolol"], MAJ),
        Case(["lithium", "verapamil"], ["valproate", "verapamil"], MOD),
        Case(["lithium", "carbamazepine"], ["lamotrigine", "oxcarbazepine"], MOD),
    ],
    "30": [
        Case(["lithium", "haloperidol"], ["lithium", "pimavanserin"], MOD),
        Case(["lithium", "sertraline"], ["lithium", "bupropion"], MOD),
    ],
    "31": [Case(["lithium", "theophylline"], ["lithium", "melatonin"], MOD)],
    "32": [
        Case(["lithium"], ["lithium"], MAJ, "condition", ctx(dx=["E86.0"]), ctx(dx=["F31.9"])),
        Case(["lithium"], ["valproate"], MAJ, "condition", ctx(dx=["N17.9"]), ctx(dx=["N17.9"])),
    ],
    "33": [
        Case(["valproate", "lamotrigine"], ["lithium", "lamotrigine"], MAJ, "interaction"),
        Case(["valproate", "lamotrigine:150"], ["valproate", "lamotrigine:100"], MAJ, "max_dose"),
    ],
    "34": [
        Case(["lamotrigine", "ethinyl estradiol"], ["valproate", "ethinyl estradiol"], MAJ),
        Case(
            ["lamotrigine"], ["lamotrigine"], MAJ, "pregnancy", ctx(pregnancy="pregnant"), ctx(pregnancy="not_pregnant")
        ),
        Case(["lamotrigine"], ["lithium"], MAJ, "pregnancy", ctx(pregnancy="postpartum"), ctx(pregnancy="postpartum")),
    ],
    "35": [
        Case(["lamotrigine", "phenytoin"], ["lamotrigine", "topiramate"], MAJ, "interaction"),
        Case(["lamotrigine", "atazanavir", "ritonavir"], ["lamotrigine", "atazanavir"], MAJ, "interaction"),
        Case(["lamotrigine:450", "carbamazepine"], ["lamotrigine:400", "carbamazepine"], MAJ, "max_dose"),
    ],
    "36": [Case(["valproate", "meropenem"], ["valproate", "ciprofloxacin"], MAJ)],
    "37": [Case(["valproate", "topiramate"], ["lamotrigine", "topiramate"], MOD)],
    "38": [
        Case(["valproate", "warfarin"], ["lamotrigine", "warfarin"], MOD),
        Case(["valproate", "aspirin:1000"], ["valproate", "aspirin:81"], MOD),
        Case(["valproate", "clonazepam"], ["valproate", "lorazepam"], MOD),
    ],
    "39": [
        Case(["carbamazepine", "quetiapine"], ["oxcarbazepine", "quetiapine"], MAJ),
        Case(["carbamazepine", "lurasidone"], ["lamotrigine", "lurasidone"], CI),
        Case(["rifampin", "methadone"], ["fluconazole", "methadone"], MAJ),
        Case(["carbamazepine", "ethinyl estradiol"], ["oxcarbazepine", "ethinyl estradiol"], MAJ),
    ],
    "40": [
        Case(["clarithromycin", "carbamazepine"], ["fluconazole", "carbamazepine"], MAJ),
        Case(["nefazodone", "carbamazepine"], ["nefazodone", "oxcarbazepine"], CI),
        Case(["fluvoxamine", "carbamazepine"], ["sertraline", "carbamazepine"], MAJ),
    ],
    "41": [
        Case(["ketoconazole", "lurasidone"], ["sertraline", "lurasidone"], CI),
        Case(["ketoconazole", "lurasidone"], ["fluconazole", "lurasidone"], CI, escalation=True),
        Case(["itraconazole", "alprazolam"], ["fluconazole", "alprazolam"], CI),
        Case(["clarithromycin", "alprazolam"], ["clarithromycin", "lorazepam"], MAJ),
        Case(["nefazodone", "triazolam"], ["nefazodone", "temazepam"], CI),
        Case(["ritonavir", "quetiapine"], ["atazanavir", "quetiapine"], MAJ),
        Case(["ketoconazole", "buspirone:15"], ["ketoconazole", "sertraline"], MAJ),
        Case(["ketoconazole", "buspirone:15"], ["ketoconazole", "buspirone:2.5"], MAJ, escalation=True),
        Case(["ketoconazole", "buspirone:2.5"], ["fluconazole", "buspirone:2.5"], MIN),
        Case(["voriconazole", "eszopiclone:3"], ["voriconazole", "zolpidem"], MAJ),
        Case(["posaconazole", "zuranolone:50"], ["fluconazole", "zuranolone:50"], MAJ),
        Case(["clarithromycin", "suvorexant"], ["erythromycin", "suvorexant"], MAJ),
        Case(["cobicistat", "guanfacine"], ["fluconazole", "guanfacine"], MAJ),
        Case(["itraconazole", "valbenazine:80"], ["itraconazole", "valbenazine:40"], MAJ, escalation=True),
        Case(["diltiazem", "lurasidone:120"], ["diltiazem", "lurasidone:40"], MAJ, escalation=True),
        Case(["diltiazem", "lurasidone:40"], ["diltiazem", "quetiapine"], MIN),
        Case(["ketoconazole", "buprenorphine"], ["ketoconazole", "oxycodone"], MAJ),
    ],
    "42": [
        Case(["alprazolam", "oxycodone"], ["buspirone", "oxycodone"], MAJ),
        Case(["zolpidem", "codeine"], ["lorazepam", "buprenorphine"], MAJ),
    ],
    "43": [
        Case(["buprenorphine", "lorazepam"], ["buprenorphine", "sertraline"], MAJ),
        Case(
            ["methadone", "clonazepam"],
            ["methadone", "clonazepam"],
            MAJ,
            context=ctx(dx=["F11.20"]),
            quiet_context=ctx(dx=["G89.29"]),
        ),
    ],  # fmt: skip
    "44": [
        Case(["gabapentin", "oxycodone"], ["gabapentin", "sertraline"], MAJ),
        Case(["pregabalin", "quetiapine"], ["pregabalin", "aripiprazole"], MAJ),
        Case(["pregabalin"], ["pregabalin"], MAJ, "age", OLD, ctx(age=64)),
        Case(["gabapentin"], ["gabapentin"], MAJ, "condition", ctx(dx=["J44.9"]), ctx(dx=["J45.909"])),
    ],
    "45": [
        Case(["bupropion", "clozapine"], ["bupropion", "sertraline"], MAJ, "interaction"),
        Case(
            ["dextromethorphan/bupropion", "tramadol"], ["dextromethorphan/bupropion", "oxycodone"], MAJ, "interaction"
        ),
        Case(["bupropion"], ["bupropion"], CI, "condition", ctx(dx=["G40.909"]), ctx(dx=["G43.909"])),
        Case(["bupropion"], ["sertraline"], CI, "condition", ctx(dx=["F50.2"]), ctx(dx=["F50.2"])),
        Case(["bupropion"], ["bupropion"], CI, "condition", ctx(dx=["F50.01"]), ctx(dx=["F50.81"])),
        Case(["bupropion"], ["bupropion"], CI, "condition", ctx(dx=["F10.230"]), ctx(dx=["F10.20"])),
        Case(["bupropion"], ["bupropion"], MAJ, "condition", ctx(dx=["R56.9"]), ctx(dx=["R51.9"])),
        Case(
            [("bupropion:450", {"form": "extended-release tablet (12-hour, SR)"})],
            [("bupropion:450", {"form": "extended-release tablet (24-hour, XL)"})],
            MAJ,
            "max_dose",
        ),
        Case(
            [("bupropion:400", {"form": "tablet", "mg_per_dose": Decimal(200)})],
            [("bupropion:300", {"form": "tablet", "mg_per_dose": Decimal(150)})],
            MAJ,
            "max_dose",
        ),
    ],  # fmt: skip
    "46": [
        Case(["naltrexone", "oxycodone"], ["naltrexone", "sertraline"], CI),
        Case(["olanzapine/samidorphan", "methadone"], ["olanzapine", "methadone"], CI),
        Case(["naltrexone"], ["naltrexone"], CI, "condition", ctx(dx=["F11.20"]), ctx(dx=["F11.21"])),
        Case(
            ["naltrexone"],
            ["naltrexone"],
            CI,
            "washout",
            ctx(stopped=[("oxycodone", 3)]),
            ctx(stopped=[("oxycodone", 10)]),
        ),
        Case(
            ["naltrexone"],
            ["sertraline"],
            MAJ,
            "washout",
            ctx(stopped=[("oxycodone", 8)]),
            ctx(stopped=[("oxycodone", 8)]),
        ),
    ],  # fmt: skip
    "47": [Case(["buprenorphine", "methadone"], ["buprenorphine", "sertraline"], MAJ)],
    "48": [
        Case(["lisdexamfetamine", "fluoxetine"], ["methylphenidate", "fluoxetine"], MOD),
        Case(["methylphenidate", "lisinopril"], ["methylphenidate", "guanfacine"], MOD),
        Case(["atomoxetine", "pseudoephedrine"], ["sertraline", "pseudoephedrine"], MOD),
    ],
    "49": [Case(["viloxazine", "tizanidine"], ["atomoxetine", "tizanidine"], CI)],
    "50": [
        Case(["haloperidol", "metoclopramide"], ["sertraline", "metoclopramide"], MAJ),
        Case(["risperidone", "levodopa"], ["pimavanserin", "levodopa"], MAJ),
        Case(["quetiapine", "levodopa"], ["quetiapine", "carbamazepine"], MIN),
        Case(["metoclopramide", "droperidol"], ["metoclopramide", "ondansetron"], MOD),
    ],
    "51": [
        Case(["sertraline", "hydrochlorothiazide"], ["bupropion", "hydrochlorothiazide"], MOD, "interaction"),
        Case(["oxcarbazepine", "desmopressin"], ["lamotrigine", "desmopressin"], MOD, "interaction"),
        Case(["venlafaxine"], ["venlafaxine"], MOD, "age", ctx(age=66), ctx(age=65)),
    ],
    "52": [
        Case(["valbenazine", "phenelzine"], ["valbenazine", "sertraline"], CI),
        Case(["tetrabenazine", "deutetrabenazine"], ["tetrabenazine", "haloperidol"], CI),
        Case(["deutetrabenazine", "reserpine"], ["deutetrabenazine", "metoprolol"], CI),
    ],
    "53": [
        Case(["esketamine", "lorazepam"], ["esketamine", "sertraline"], MOD),
        Case(["esketamine", "methylphenidate"], ["esketamine", "guanfacine"], MOD),
        Case(["esketamine", "phenelzine"], ["esketamine", "bupropion"], MOD),
    ],
    "54": [
        Case(["st john's wort", "sertraline"], ["st john's wort", "bupropion"], MAJ),
        Case(["st john's wort", "ethinyl estradiol"], ["st john's wort", "lamotrigine"], MAJ),
        Case(["st john's wort", "clozapine"], ["st john's wort", "olanzapine"], MAJ),
    ],
    "D-escitalopram": [
        Case(["escitalopram:20"], ["escitalopram:20"], MOD, "max_dose", OLD, ctx(age=50)),
        Case(["escitalopram:15"], ["escitalopram:10"], MOD, "max_dose", ctx(dx=["K70.30"]), ctx(dx=["K70.30"])),
    ],
    "D-eszopiclone": [Case(["eszopiclone:3"], ["eszopiclone:2"], MOD, "max_dose", OLD, OLD)],
    "D-LAI": [
        Case(
            [("paliperidone palmitate", {"mg_per_dose": Decimal(2000)})],
            [("paliperidone palmitate", {"mg_per_dose": Decimal(1560)})],
            MAJ,
            "max_dose",
        ),
        Case(
            [("haloperidol decanoate", {"mg_per_dose": Decimal(500)})],
            [("haloperidol", {"mg_per_dose": Decimal(500)})],
            MAJ,
            "max_dose",
        ),
    ],
    "X-CBZ-OXC": [Case(["oxcarbazepine"], ["levetiracetam"], MAJ, "allergy", allergic_to("carbamazepine"))],
    "X-AROMATIC": [
        Case(["lamotrigine"], ["valproate"], MAJ, "allergy", allergic_to("phenytoin")),
        Case(["phenobarbital"], ["gabapentin"], MAJ, "allergy", allergic_to("aromatic anticonvulsants")),
    ],
    "X-CBZ-TCA": [Case(["carbamazepine"], ["sertraline"], MAJ, "allergy", allergic_to("amitriptyline"))],
    "X-NSAID": [Case(["meloxicam"], ["acetaminophen"], MAJ, "allergy", allergic_to("ibuprofen"))],
    "X-BETALACTAM": [
        Case(["cephalexin"], ["azithromycin"], MOD, "allergy", allergic_to("amoxicillin")),
        Case(["cefdinir"], ["doxycycline"], MOD, "allergy", allergic_to("penicillin")),
    ],
    "P-valproate": [
        Case(["valproate"], ["valproate"], MAJ, "pregnancy", ctx(pregnancy="pregnant"), ctx(pregnancy="not_pregnant"))
    ],
    "P-carbamazepine": [
        Case(
            ["carbamazepine"], ["oxcarbazepine"], MAJ, "pregnancy", ctx(pregnancy="pregnant"), ctx(pregnancy="pregnant")
        )
    ],
    "P-paroxetine": [
        Case(["paroxetine"], ["paroxetine"], MOD, "pregnancy", ctx(pregnancy="pregnant"), ctx(pregnancy=""))
    ],
    "A-young-suicidality": [
        Case(["sertraline"], ["sertraline"], MOD, "age", ctx(age=22), ctx(age=25)),
        Case(["quetiapine"], ["lorazepam"], MOD, "age", ctx(age=19), ctx(age=19)),
    ],
    "A-elderly-dementia-antipsychotic": [
        Case(["risperidone"], ["risperidone"], MAJ, "age", ctx(age=80, dx=["F03.90"]), ctx(age=80)),
        Case(["haloperidol"], ["haloperidol"], MAJ, "age", ctx(age=66, dx=["G30.9"]), ctx(age=60, dx=["G30.9"])),
    ],
    "A-elderly-sedative": [Case(["lorazepam"], ["lorazepam"], MOD, "age", OLD, ctx(age=64))],
    "A-elderly-anticholinergic": [Case(["hydroxyzine"], ["hydroxyzine"], MOD, "age", ctx(age=75), ctx(age=40))],
    # -- Beyond the numbered rules: the data file's max-dose, duplicate-therapy and allergy checks.
    "MAX": [
        Case(["sertraline:250"], ["sertraline:200"], MAJ, "max_dose"),
        Case(["lamotrigine:300"], ["lamotrigine:300", "carbamazepine"], MAJ, "max_dose"),
    ],
    "DUP-MOIETY": [
        Case(["bupropion", "dextromethorphan/bupropion"], ["bupropion", "mirtazapine"], MAJ),
        Case(["risperidone", "risperidone long-acting injection"], ["risperidone", "paliperidone"], MOD),
    ],
    "DUP-SSRI": [Case(["sertraline", "escitalopram"], ["sertraline", "venlafaxine"], MOD)],
    "DUP-SNRI": [Case(["venlafaxine", "duloxetine"], ["venlafaxine", "sertraline"], MOD)],
    "DUP-TCA": [Case(["amitriptyline", "nortriptyline"], ["amitriptyline", "sertraline"], MOD)],
    "DUP-MAOI": [Case(["phenelzine", "tranylcypromine"], ["phenelzine", "linezolid"], MOD)],
    "DUP-ANTIPSYCHOTIC": [
        Case(["quetiapine", "risperidone"], ["aripiprazole", "aripiprazole long-acting injection"], MOD),
        Case(["clozapine", "aripiprazole", "aripiprazole long-acting injection"], ["quetiapine", "pimavanserin"], MOD),
    ],
    "DUP-BZRA": [Case(["lorazepam", "zolpidem"], ["lorazepam", "buspirone"], MOD)],
    "DUP-STIMULANT": [Case(["methylphenidate", "lisdexamfetamine"], ["methylphenidate", "atomoxetine"], MOD)],
    "DUP-ALPHA2": [Case(["clonidine", "guanfacine"], ["clonidine", "prazosin"], MOD)],
    "DUP-VMAT2": [Case(["valbenazine", "tetrabenazine"], ["valbenazine", "benztropine"], MOD)],
    "DUP-NSAID": [Case(["ibuprofen", "naproxen"], ["ibuprofen", "aspirin"], MOD)],
    "DUP-ANTICOAGULANT": [Case(["warfarin", "apixaban"], ["warfarin", "aspirin"], MAJ)],
    "DUP-OPIOID": [Case(["oxycodone", "morphine"], ["oxycodone", "gabapentin"], MOD)],
    "DUP-GABAPENTINOID": [Case(["gabapentin", "pregabalin"], ["gabapentin", "topiramate"], MOD)],
    "DUP-TRIPTAN": [Case(["sumatriptan", "rizatriptan"], ["sumatriptan", "ondansetron"], MOD)],
    "ALLERGY": [
        Case(
            ["sertraline"],
            ["sertraline"],
            CI,
            "allergy",
            ctx(allergies=[safety.AllergyInfo(substance="Zoloft", drug_name="sertraline", severity="anaphylaxis")]),
            ctx(allergies=[safety.AllergyInfo(substance="Penicillin", severity="anaphylaxis")]),
        ),
        Case(
            ["dextromethorphan/bupropion"],
            ["mirtazapine"],
            MAJ,
            "allergy",
            ctx(allergies=[safety.AllergyInfo(substance="Wellbutrin", severity="mild")]),
            ctx(allergies=[safety.AllergyInfo(substance="Wellbutrin", severity="mild")]),
        ),
    ],  # fmt: skip
    "ALLERGY-CLASS": [
        Case(
            ["escitalopram"],
            ["venlafaxine"],
            MOD,
            "allergy",
            ctx(allergies=[SSRI_ALLERGY]),
            ctx(allergies=[SSRI_ALLERGY]),
        ),
        Case(
            ["naproxen"],
            ["warfarin"],
            MAJ,
            "allergy",
            ctx(allergies=[safety.AllergyInfo(substance="anti-inflammatories", drug_class="NSAID", severity="severe")]),
            ctx(allergies=[safety.AllergyInfo(substance="anti-inflammatories", drug_class="NSAID", severity="severe")]),
        ),
        Case(
            ["clonazepam"],
            ["zolpidem"],
            MOD,
            "allergy",
            ctx(allergies=[safety.AllergyInfo(substance="benzodiazepines", severity="mild")]),
            ctx(allergies=[safety.AllergyInfo(substance="benzodiazepines", severity="mild")]),
        ),
    ],  # fmt: skip
}

CASES = [
    pytest.param(rule_id, case, id=f"rule-{rule_id}-{n}")
    for rule_id, cases in RULE_CASES.items()
    for n, case in enumerate(cases, start=1)
]


def data_file_ids() -> set[str]:
    data = safety.book().data
    ids = {rule["id"] for rule in data["rules"]}
    ids |= {group["id"] for group in data["duplicate_therapy"]["groups"]}
    ids |= {data["duplicate_therapy"]["same_moiety"]["id"], data["max_dose"]["id"]}
    ids |= {data["allergy"]["drug"]["id"], data["allergy"]["class"]["id"]}
    ids |= {group["id"] for group in data["allergy"]["cross_sensitivity"]}
    return ids


def test_every_rule_in_the_data_file_has_a_case():
    assert set(RULE_CASES) == data_file_ids()


def test_every_numbered_rule_of_the_reference_is_in_the_data_file():
    numbered = sorted(int(rule["id"]) for rule in safety.book().rules if rule["id"].isdigit())
    assert numbered == list(range(1, 55))


@pytest.mark.parametrize(("rule_id", "case"), CASES)
def test_rule_fires_and_its_neighbour_stays_quiet(rule_id, case):
    fired = alerts_of(rule_id, case.fires, case.context, case.kind)
    assert fired, f"rule {rule_id} did not fire on {case.fires}"
    if case.severity:
        assert fired[0].severity == case.severity, [a.message for a in fired]
    quiet_context = case.quiet_context if case.quiet_context is not None else case.context
    quiet = alerts_of(rule_id, case.quiet, quiet_context, case.kind)
    if case.escalation:
        quiet = [a for a in quiet if a.severity == case.severity]
    assert not quiet, f"rule {rule_id} fired on {case.quiet}"


def test_every_rule_keeps_its_source_and_certainty_mark():
    for rule in safety.book().rules:
        assert rule["source"] and rule["confidence"] in {"✔", "~", "?"}, rule["id"]
        assert rule["mechanism"] and rule["action"], rule["id"]
        for arm in rule["arms"]:
            assert arm["severity"] in safety.SEVERITIES, rule["id"]


def test_every_drug_a_rule_names_is_in_the_formulary():
    """A typo in the data file would make a rule silently never fire."""
    names = set(DRUGS) | {part for name in DRUGS for part in name.split("/")}
    tags = {tag for drug in DRUGS.values() for tag in drug.tags}
    classes = {drug.drug_class for drug in DRUGS.values()}
    rb = safety.book()

    def selectors(node):
        if isinstance(node, dict):
            if any(key in node for key in ("drugs", "tags", "classes", "sets")):
                yield node
            for value in node.values():
                yield from selectors(value)
        elif isinstance(node, list):
            for value in node:
                yield from selectors(value)

    data = {"rules": rb.rules, "sets": rb.sets, "dup": rb.data["duplicate_therapy"]["groups"],
            "cross": rb.data["allergy"]["cross_sensitivity"]}  # fmt: skip
    for selector in selectors(data):
        assert set(selector.get("drugs", ())) <= names, selector
        assert set(selector.get("exclude", ())) <= names, selector
        assert set(selector.get("tags", ())) | set(selector.get("exclude_tags", ())) <= tags, selector
        assert set(selector.get("classes", ())) <= classes, selector
        assert set(selector.get("sets", ())) | set(selector.get("exclude_sets", ())) <= set(rb.sets), selector
    assert set(rb.lai_parents) | set(rb.lai_parents.values()) <= names
    # Every declared alias names a formulary entry (the resolver refuses to build otherwise).
    assert set(formulary.names().index.values()) <= names


# -- Behaviour across rules ----------------------------------------------------------------------


def test_most_severe_first_and_the_same_order_whatever_the_input_order():
    regimen = ["sertraline", "tramadol", "phenelzine", "ibuprofen", "citalopram:60"]
    forward = safety.check_regimen([item(s) for s in regimen])
    backward = safety.check_regimen([item(s) for s in reversed(regimen)])
    assert forward == backward
    ranks = [safety.SEVERITY_RANK[a.severity] for a in forward]
    assert ranks == sorted(ranks)
    assert forward[0].severity == "contraindicated"


def test_a_more_specific_rule_supersedes_the_general_one_for_the_same_drugs():
    rules = {a.rule for a in safety.check_regimen([item("ziprasidone"), item("citalopram")])}
    assert "10" in rules and "11" not in rules
    # With a third QT drug the group alert stays: citalopram + methadone is not covered by rule 10.
    rules = {a.rule for a in safety.check_regimen([item("ziprasidone"), item("citalopram"), item("methadone")])}
    assert {"10", "11"} <= rules
    rules = {a.rule for a in safety.check_regimen([item("buprenorphine"), item("lorazepam")])}
    assert "43" in rules and "42" not in rules


def test_one_max_dose_alert_per_drug_the_strictest_cap():
    alerts = safety.check_regimen([item("citalopram:50")], context=ctx(age=70))
    dose = [a for a in alerts if a.kind == "max_dose"]
    assert len(dose) == 1
    assert "above 20 mg/day" in dose[0].message


def test_no_dose_given_means_no_dose_alert():
    assert not [a for a in safety.check_regimen([item("citalopram")], context=ctx(age=80)) if a.kind == "max_dose"]


def test_a_drug_listed_twice_is_a_duplicate_and_its_doses_add_up():
    alerts = safety.check_regimen([item("sertraline:150"), item("sertraline:100")])
    assert {(a.kind, a.rule) for a in alerts} == {("duplicate_therapy", "DUP-MOIETY"), ("max_dose", "MAX")}
    assert "250 mg/day" in next(a for a in alerts if a.kind == "max_dose").message


def test_condition_rules_need_a_patient_context():
    assert not safety.check_regimen([item("bupropion")])
    assert safety.check_regimen([item("bupropion")], context=ctx(dx=["G40.909"]))[0].severity == "contraindicated"


def test_resolved_diagnoses_do_not_trigger_condition_rules():
    resolved = safety.Context(today=TODAY, diagnoses=(safety.DiagnosisInfo(code="G40.909", active=False),))
    assert not safety.check_regimen([item("bupropion")], context=resolved)


def test_washout_is_not_reported_for_a_drug_that_was_restarted():
    alerts = safety.check_regimen([item("sertraline"), item("phenelzine")], context=ctx(stopped=[("sertraline", 3)]))
    assert not [a for a in alerts if a.kind == "washout"]
    assert [a.rule for a in alerts if a.kind == "interaction"] == ["1"]


def test_washout_counts_from_the_later_of_the_start_date_and_today():
    stopped = ctx(stopped=[("fluoxetine", 10)])
    later = item("phenelzine", start_date=TODAY + datetime.timedelta(days=25))
    assert not [a for a in safety.check_regimen([later], context=stopped) if a.kind == "washout"]
    sooner = item("phenelzine", start_date=TODAY + datetime.timedelta(days=24))
    washout = [a for a in safety.check_regimen([sooner], context=stopped) if a.kind == "washout"]
    assert washout[0].drugs == ("fluoxetine", "phenelzine")
    assert "34 day(s)" in washout[0].message


def test_contract_shape_has_exactly_four_keys():
    alert = safety.check_regimen([item("phenelzine"), item("sertraline")])[0]
    assert set(alert.as_contract()) == {"kind", "severity", "drugs", "message"}
    assert alert.as_contract()["drugs"] == ["phenelzine", "sertraline"]
    assert set(alert.as_stored()) >= {"kind", "severity", "drugs", "message", "rule"}


def test_review_needs_the_alerts_seen_and_a_reason_for_blocking_ones():
    alerts = safety.check_regimen([item("phenelzine"), item("sertraline")])
    with pytest.raises(safety.ReviewRequired) as unseen:
        safety.require_review(alerts, acknowledged="", override_reason="")
    assert not unseen.value.reason_missing
    with pytest.raises(safety.ReviewRequired) as no_reason:
        safety.require_review(alerts, acknowledged=safety.fingerprint(alerts), override_reason="   ")
    assert no_reason.value.reason_missing
    safety.require_review(alerts, acknowledged=safety.fingerprint(alerts), override_reason="Refractory; inpatient")
    moderate = safety.check_regimen([item("sertraline"), item("sumatriptan")])
    safety.require_review(moderate, acknowledged=safety.fingerprint(moderate), override_reason="")
    safety.require_review([], acknowledged="", override_reason="")


# -- From the database ---------------------------------------------------------------------------


def proposal(drug: str, mg_per_day: str, **extra) -> safety.Proposal:
    return safety.Proposal(medication=factories.medication(drug), mg_per_day=Decimal(mg_per_day), **extra)


@pytest.mark.django_db
def test_check_for_patient_costs_four_queries_whatever_the_regimen(patient, psychiatrist):
    mirtazapine = proposal("mirtazapine", "15")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            safety.check_for_patient(patient, proposed=mirtazapine)
        return len(queries)

    factories.start(patient, psychiatrist, drug="sertraline")
    one = count()
    for drug in ["lamotrigine", "quetiapine", "buspirone", "trazodone", "lithium"]:
        factories.start(patient, psychiatrist, drug=drug)
    Allergy.objects.create(patient=patient, substance="Penicillin", recorded_by=psychiatrist)
    Diagnosis.objects.create(patient=patient, icd10_code="F33.1", description="MDD", recorded_by=psychiatrist)
    for name in ["ibuprofen", "Kratom", "metoprolol"]:
        factories.outside_medication(patient, psychiatrist, name)
    # Prescriptions, outside medications, allergies, diagnoses.
    assert one == count() == 4


@pytest.mark.django_db
def test_washout_from_a_stopped_prescription_boundary_day(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="sertraline", start_date=datetime.date(2026, 3, 1))
    prescribing.discontinue(
        rx,
        actor=psychiatrist,
        reason=ChangeReason.SWITCHED,
        effective_date=datetime.date(2026, 6, 1),
        abrupt_stop_justification="Switching to an MAOI",
    )
    with time_machine.travel(datetime.datetime(2026, 6, 2, 9, tzinfo=datetime.UTC), tick=False):
        day_13 = safety.check_for_patient(
            patient, proposed=proposal("phenelzine", "45", start_date=datetime.date(2026, 6, 14))
        )
        day_14 = safety.check_for_patient(
            patient, proposed=proposal("phenelzine", "45", start_date=datetime.date(2026, 6, 15))
        )
    assert [(a.kind, a.severity, a.drugs) for a in day_13 if a.kind == "washout"] == [
        ("washout", "contraindicated", ("sertraline", "phenelzine"))
    ]
    assert not [a for a in day_14 if a.kind == "washout"]


@pytest.mark.django_db
def test_fluoxetine_needs_five_weeks_before_an_maoi(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="fluoxetine", start_date=datetime.date(2026, 1, 5))
    prescribing.discontinue(
        rx,
        actor=psychiatrist,
        reason=ChangeReason.SWITCHED,
        effective_date=datetime.date(2026, 5, 1),
        abrupt_stop_justification="Switching to an MAOI",
    )
    with time_machine.travel(datetime.datetime(2026, 5, 2, 9, tzinfo=datetime.UTC), tick=False):
        at_34 = safety.check_for_patient(
            patient, proposed=proposal("phenelzine", "15", start_date=datetime.date(2026, 6, 4))
        )
        at_35 = safety.check_for_patient(
            patient, proposed=proposal("phenelzine", "15", start_date=datetime.date(2026, 6, 5))
        )
    assert [a.rule for a in at_34 if a.kind == "washout"] == ["1"]
    assert not [a for a in at_35 if a.kind == "washout"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("birthday", "fires"), [(datetime.date(1965, 6, 15), True), (datetime.date(1966, 6, 16), False)]
)
def test_citalopram_30_mg_at_61_versus_59(patient, psychiatrist, birthday, fires):
    patient.date_of_birth = birthday  # 61 today, or 59 (60 tomorrow)
    patient.save(update_fields=["date_of_birth"])
    with time_machine.travel(datetime.datetime(2026, 6, 15, 9, tzinfo=datetime.UTC), tick=False):
        alerts = safety.check_for_patient(patient, proposed=proposal("citalopram", "30"))
    assert bool([a for a in alerts if a.kind == "max_dose" and a.rule == "9"]) is fires


def fired(patient, drug: str, mg_per_day: str) -> list[tuple[str, str, str]]:
    return [
        (a.kind, a.rule, a.severity) for a in safety.check_for_patient(patient, proposed=proposal(drug, mg_per_day))
    ]


def severe_allergy(patient, psychiatrist, drug: str, substance: str) -> None:
    Allergy.objects.create(
        patient=patient, medication=factories.medication(drug), substance=substance,
        severity=Allergy.Severity.SEVERE, recorded_by=psychiatrist,
    )  # fmt: skip


@pytest.mark.django_db
def test_allergy_to_the_drug_and_to_its_class(patient, psychiatrist):
    severe_allergy(patient, psychiatrist, "lamotrigine", "Lamictal rash")
    Allergy.objects.create(patient=patient, drug_class="ssri", substance="SSRIs", recorded_by=psychiatrist)
    Allergy.objects.create(
        patient=patient, substance="Sertraline", is_active=False, severity="anaphylaxis", recorded_by=psychiatrist
    )
    assert fired(patient, "lamotrigine", "25") == [("allergy", "ALLERGY", "contraindicated")]
    assert fired(patient, "sertraline", "50") == [("allergy", "ALLERGY-CLASS", "moderate")]
    assert not fired(patient, "venlafaxine", "75")


@pytest.mark.django_db
def test_a_cross_sensitive_drug_is_flagged_in_the_portal_and_says_so(patient, psychiatrist):
    severe_allergy(patient, psychiatrist, "carbamazepine", "carbamazepine (SJS)")
    Allergy.objects.create(patient=patient, substance="Motrin", reaction="hives", recorded_by=psychiatrist)
    assert fired(patient, "oxcarbazepine", "300") == [("allergy", "X-CBZ-OXC", "contraindicated")]
    [alert] = safety.check_for_patient(patient, proposed=proposal("oxcarbazepine", "300"))
    assert "possible cross-sensitivity" in alert.message and alert.blocking
    assert alert.source.startswith("Trileptal (oxcarbazepine) PI")
    assert fired(patient, "lamotrigine", "25") == [("allergy", "X-AROMATIC", "major")]
    # Free text naming a brand ("Motrin") is ibuprofen: another NSAID is a cross-sensitivity, paracetamol is not.
    assert [rule[:2] for rule in fired(patient, "meloxicam", "7.5")] == [("allergy", "X-NSAID")]
    assert not fired(patient, "acetaminophen", "500")


def test_a_long_acting_injection_is_capped_per_injection():
    over = safety.check_regimen([item("paliperidone palmitate", mg_per_dose=Decimal(2000))])
    assert [(a.kind, a.rule, a.severity) for a in over] == [("max_dose", "D-LAI", "major")]
    assert not safety.check_regimen([item("paliperidone palmitate", mg_per_dose=Decimal(1560))])


@pytest.mark.django_db
def test_pregnancy_flag_reads_the_patients_status(patient, psychiatrist):
    assert not safety.check_for_patient(patient, proposed=proposal("valproate", "750"))
    patient.pregnancy_status = "pregnant"
    patient.save(update_fields=["pregnancy_status"])
    alerts = safety.check_for_patient(patient, proposed=proposal("valproate", "750"))
    assert [(a.kind, a.rule, a.severity) for a in alerts] == [("pregnancy", "P-valproate", "major")]


@pytest.mark.django_db
def test_a_dose_change_replaces_the_old_dose_in_the_regimen(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="sertraline", dose="100", strength="100", frequency="qd")
    alerts = safety.check_for_patient(patient, proposed=proposal("sertraline", "250"), replacing=rx)
    assert [(a.kind, a.drugs) for a in alerts] == [("max_dose", ("sertraline",))]
    assert not safety.check_for_patient(patient, proposed=proposal("sertraline", "150"), replacing=rx)


@pytest.mark.django_db
def test_unenforced_starts_still_store_their_alerts(patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")
    rx = factories.start(patient, psychiatrist, drug="tramadol", dose="50", strength="50", frequency="qid")
    event = rx.events.get(kind=PrescriptionEvent.Kind.STARTED)
    assert [(a["rule"], a["severity"]) for a in event.safety_alerts] == [("7", "major")]
    assert event.override_reason == ""
    assert not AuditEvent.objects.filter(detail__has_key="safety_override").exists()


@pytest.mark.django_db
def test_enforced_start_saves_nothing_until_reviewed_then_stores_and_audits(patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline")

    def start(review):
        return factories.start(patient, psychiatrist, drug="phenelzine", dose="15", strength="15", frequency="tid",
                               safety_review=review)  # fmt: skip

    with pytest.raises(safety.ReviewRequired) as shown:
        start(prescribing.SafetyReview())
    assert patient.prescriptions.count() == 1
    with pytest.raises(safety.ReviewRequired):
        start(prescribing.SafetyReview(acknowledged=shown.value.fingerprint))
    rx = start(
        prescribing.SafetyReview(
            acknowledged=shown.value.fingerprint, override_reason="Treatment-resistant; sertraline stops today"
        )
    )
    event = rx.events.get(kind=PrescriptionEvent.Kind.STARTED)
    assert event.override_reason == "Treatment-resistant; sertraline stops today"
    assert [(a["rule"], a["kind"], a["severity"]) for a in event.safety_alerts] == [
        ("1", "interaction", "contraindicated"), ("4", "counselling", "moderate"),
    ]  # fmt: skip
    audit_row = AuditEvent.objects.get(detail__has_key="safety_override")
    assert audit_row.detail == {"change": "started", "safety_override": [{"rule": "1", "severity": "contraindicated"}]}
    assert audit_row.patient == patient


def _named_drugs(text: str) -> set[str]:
    import re

    # Full generic names: "olanzapine" does not name olanzapine/samidorphan.
    return {name for name in DRUGS if re.search(rf"(?<![\w/-]){re.escape(name)}(?![\w/-])", text, re.I)}


def _participants(rule: dict) -> tuple[set[str], set[str]]:
    """Drugs that can be in one of the rule's alerts, and those that are in every one of them."""
    items = [safety.Item(drug=drug) for drug in DRUGS.values()]
    can, always = set(), None
    for arm in rule["arms"]:
        required = set()
        for key in ("a", "b", "members", "drug", "starting", "stopped", "require_any", "also", "with_drug"):
            if isinstance(arm.get(key), dict):
                hits = {i.name for i in items if safety.matches(arm[key], i)}
                can |= hits
                # with_drug (a dose cap that holds only with another drug): its note names that drug.
                if key in ("a", "b", "drug", "starting", "stopped", "with_drug") and len(hits) == 1:
                    required |= hits
        always = required if always is None else always & required
    return can, always or set()


@pytest.mark.parametrize("rule", safety.book().rules, ids=lambda r: r["id"])
def test_a_rules_shared_advice_names_no_drug_that_may_be_absent(rule):
    can, always = _participants(rule)
    leaking = (_named_drugs(rule.get("action", "")) & can) - always
    assert not leaking, f"rule {rule['id']}: move the advice about {sorted(leaking)} to drug_advice"
    for entry in rule.get("drug_advice", ()):
        named = _named_drugs(entry["text"])
        route = entry["when"].get("routes", [""])[0]  # a route-specific entry names the drug by that route
        matched = {name for name in named if safety.matches(entry["when"], safety.Item(drug=DRUGS[name], route=route))}
        assert named <= matched | set(entry.get("also_names", ())), (rule["id"], entry["text"])


def test_per_drug_advice_is_attached_only_when_that_drug_is_in_the_alert():
    without = alerts_of("7", ["sertraline:50", "trazodone:50"], None)
    with_tramadol = alerts_of("7", ["sertraline:50", "tramadol:200"], None)

    assert len(without) == 1 and "tramadol" not in without[0].action.lower()
    assert len(with_tramadol) == 1 and "Tramadol also lowers the seizure threshold" in with_tramadol[0].action
    assert without[0].action.startswith("Warn and monitor")
