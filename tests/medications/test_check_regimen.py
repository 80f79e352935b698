"""`manage.py check_regimen DRUG[:MG_PER_DAY] ... [--json]` follows its contract exactly: external
checks run regimens these tests have never seen."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

CONTRACT_KINDS = {"interaction", "duplicate_therapy", "max_dose", "allergy", "washout"}
SEVERITIES = {"contraindicated", "major", "moderate", "minor"}


def run(*args: str) -> dict:
    out = io.StringIO()
    call_command("check_regimen", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        call_command("check_regimen", *args, stdout=io.StringIO())
    assert error.value.returncode == 2
    return str(error.value)


def test_json_is_exactly_alerts_with_four_keys_each():
    result = run("phenelzine", "sertraline:50")
    assert list(result) == ["alerts"]
    assert result["alerts"][0] == {
        "kind": "interaction",
        "severity": "contraindicated",
        "drugs": ["phenelzine", "sertraline"],
        "message": result["alerts"][0]["message"],
    }
    for alert in result["alerts"]:
        assert list(alert) == ["kind", "severity", "drugs", "message"]
        assert alert["kind"] in CONTRACT_KINDS and alert["severity"] in SEVERITIES
        assert alert["message"].strip()


def test_no_alerts_is_an_empty_list():
    assert run("sertraline:100") == {"alerts": []}


def test_only_the_five_contract_kinds_are_printed():
    # Phenelzine alone has a tyramine-diet counselling reminder in the portal: not a contract kind.
    assert run("phenelzine:45") == {"alerts": []}


@pytest.mark.parametrize(
    ("args", "generic"),
    [
        (("Zoloft", "Nardil"), ["phenelzine", "sertraline"]),
        (("ZOLOFT", "phenelzine"), ["phenelzine", "sertraline"]),
        (("SerTraline", "nardil"), ["phenelzine", "sertraline"]),
        (("Wellbutrin XL", "Parnate"), ["tranylcypromine", "bupropion"]),
        (("bupropion hcl", "tranylcypromine"), ["tranylcypromine", "bupropion"]),
    ],
)
def test_brand_names_and_any_case_give_generic_names(args, generic):
    alert = run(*args)["alerts"][0]
    assert (alert["kind"], alert["severity"], alert["drugs"]) == ("interaction", "contraindicated", generic)


@pytest.mark.parametrize("name", ["st john's wort", "St. John's Wort", "ST JOHNS WORT", "St John’s wort"])
def test_a_multi_word_name_is_one_argument(name):
    alerts = run(name, "sertraline")["alerts"]
    assert ("interaction", "major", ["st john's wort", "sertraline"]) in [
        (a["kind"], a["severity"], a["drugs"]) for a in alerts
    ]


def test_combination_products_and_aliases():
    alerts = run("dextromethorphan/bupropion", "phenelzine")["alerts"]
    assert {a["severity"] for a in alerts} == {"contraindicated"}
    assert run("divalproex:750", "Lamictal")["alerts"][0]["drugs"] == ["valproate", "lamotrigine"]


def test_max_dose_and_the_citalopram_age_cap():
    assert [(a["kind"], a["severity"]) for a in run("citalopram:60")["alerts"]] == [("max_dose", "major")]
    assert run("citalopram:40")["alerts"] == []
    assert [a["kind"] for a in run("citalopram:30", "--age", "61")["alerts"]] == ["max_dose"]
    assert run("citalopram:30", "--age", "59")["alerts"] == []


def test_dose_units_are_accepted():
    assert run("sertraline:250mg")["alerts"][0]["kind"] == "max_dose"
    assert run("sertraline:250 mg/day")["alerts"][0]["kind"] == "max_dose"


def test_duplicate_therapy():
    alerts = run("sertraline", "escitalopram")["alerts"]
    assert ("duplicate_therapy", ["escitalopram", "sertraline"]) in [(a["kind"], a["drugs"]) for a in alerts]


def test_washout_and_allergy_options():
    washout = run("phenelzine", "--stopped", "fluoxetine:20")["alerts"]
    assert [(a["kind"], a["severity"], a["drugs"]) for a in washout] == [
        ("washout", "contraindicated", ["fluoxetine", "phenelzine"])
    ]
    assert run("phenelzine", "--stopped", "fluoxetine:35")["alerts"] == []
    allergy = run("naproxen", "--allergy", "NSAIDs")["alerts"]
    assert [(a["kind"], a["drugs"]) for a in allergy] == [("allergy", ["naproxen"])]


def test_most_severe_first():
    alerts = run("sertraline:250", "tramadol", "ibuprofen", "phenelzine")["alerts"]
    order = ["contraindicated", "major", "moderate", "minor"]
    ranks = [order.index(a["severity"]) for a in alerts]
    assert ranks == sorted(ranks) and ranks[0] == 0


def test_unknown_drug_exits_2_naming_it_and_the_closest_matches():
    message = refused("sertralin", "lithium")
    assert 'Unknown drug "sertralin"' in message
    assert "Closest matches: sertraline" in message


def test_unknown_brand_typo_suggests_the_brand():
    assert "Wellbutrin (bupropion)" in refused("Welbutrin")


def test_unknown_drug_with_nothing_close():
    assert "No close match" in refused("xyzzyplugh")


@pytest.mark.parametrize("spec", ["sertraline:abc", "sertraline:0", "sertraline:-5", "sertraline:", "sertraline:nan",
                                  "sertraline:inf", "sertraline:1e400x"])  # fmt: skip
def test_bad_mg_exits_2_with_a_clear_message(spec):
    message = refused(spec)
    assert "Bad dose" in message and "sertraline" in message and "above 0" in message


def test_readable_table_without_json():
    out = io.StringIO()
    call_command("check_regimen", "Nardil", "sertraline:50", stdout=out)
    text = out.getvalue()
    assert "SEVERITY" in text and "KIND" in text and "DRUGS" in text
    assert "CONTRAINDICATED  interaction  phenelzine + sertraline" in text
    quiet = io.StringIO()
    # Vortioxetine is on no confused-names pair, so nothing is printed before the result.
    call_command("check_regimen", "vortioxetine:10", stdout=quiet)
    assert quiet.getvalue().strip() == "No alerts for: vortioxetine 10 mg/day"


def test_real_process_exit_status_and_streams():
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "clinic.settings_test"}

    def manage(*args):
        command = [sys.executable, "manage.py", "check_regimen", *args]
        return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603

    bad = manage("sertralin", "--json")
    assert bad.returncode == 2
    assert "sertralin" in bad.stderr and "sertraline" in bad.stderr
    good = manage("st john's wort", "Zoloft:100", "--json")
    assert good.returncode == 0
    assert {a["severity"] for a in json.loads(good.stdout)["alerts"]} == {"major", "moderate"}


# -- Issue 17: the medicine cabinet ---------------------------------------------------------------


def plain(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("check_regimen", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_plain_selegiline_with_escitalopram_is_a_contraindicated_interaction():
    alerts = run("selegiline", "escitalopram")["alerts"]
    assert ("interaction", "contraindicated", ["selegiline", "escitalopram"]) in [
        (a["kind"], a["severity"], a["drugs"]) for a in alerts
    ]
    # The old entry name still resolves, to the same drug.
    assert run("selegiline transdermal", "escitalopram") == run("selegiline", "escitalopram")


def test_an_nsaid_outside_the_old_formulary_raises_lithium():
    alerts = run("lithium:1200", "celecoxib:400")["alerts"]
    assert [(a["kind"], a["severity"], a["drugs"]) for a in alerts] == [
        ("interaction", "major", ["lithium", "celecoxib"])
    ]
    assert "NSAID" in alerts[0]["message"]
    meloxicam = run("lithium", "meloxicam")["alerts"]
    assert [(a["kind"], a["drugs"]) for a in meloxicam] == [("interaction", ["lithium", "meloxicam"])]


def test_lithium_has_a_maximum_daily_dose():
    alerts = run("lithium:9000")["alerts"]
    assert [(a["kind"], a["severity"], a["drugs"]) for a in alerts] == [("max_dose", "major", ["lithium"])]
    assert "9000 mg/day is above 1800 mg/day" in alerts[0]["message"]
    assert run("lithium:1800")["alerts"] == []


def test_oxcarbazepine_with_a_carbamazepine_allergy_is_a_cross_sensitivity():
    alerts = run("oxcarbazepine", "--allergy", "carbamazepine")["alerts"]
    assert [(a["kind"], a["severity"], a["drugs"]) for a in alerts] == [("allergy", "major", ["oxcarbazepine"])]
    assert "cross-sensitivity" in alerts[0]["message"].lower()
    assert "25–30%" in alerts[0]["message"]
    # By brand, and the other way round.
    assert run("carbamazepine", "--allergy", "Trileptal")["alerts"][0]["kind"] == "allergy"


@pytest.mark.parametrize(
    ("drug", "allergy"),
    [("lamotrigine", "phenytoin"), ("phenytoin", "carbamazepine"), ("meloxicam", "ibuprofen"),
     ("aspirin", "naproxen"), ("cephalexin", "amoxicillin"), ("amoxicillin", "penicillins"),
     ("sulfamethoxazole/trimethoprim", "sulfa"), ("carbamazepine", "amitriptyline")],
)  # fmt: skip
def test_cross_sensitivity_groups(drug, allergy):
    alerts = run(drug, "--allergy", allergy)["alerts"]
    assert [a["kind"] for a in alerts] == ["allergy"]


@pytest.mark.parametrize(
    ("drug", "allergy"),
    [("hydrochlorothiazide", "sulfa"), ("furosemide", "sulfa"), ("valproate", "carbamazepine"),
     ("acetaminophen", "ibuprofen")],
)  # fmt: skip
def test_no_cross_sensitivity_where_the_sources_find_none(drug, allergy):
    assert run(drug, "--allergy", allergy)["alerts"] == []


def test_common_co_medications_are_known_and_run_without_error():
    assert run("metformin", "clozapine") == {"alerts": []}
    assert run("levothyroxine", "acetaminophen", "amlodipine", "atorvastatin", "sertraline") == {"alerts": []}


def test_co_medication_classes_reach_the_existing_rules():
    # An ACE/thiazide combination with lithium; clopidogrel with an SSRI; azithromycin with citalopram (QT).
    pairs = {(a["kind"], tuple(a["drugs"])) for a in run("lithium", "lisinopril/hydrochlorothiazide")["alerts"]}
    assert ("interaction", ("lithium", "lisinopril/hydrochlorothiazide")) in pairs
    bleeding = run("sertraline", "Plavix")["alerts"]
    assert [(a["kind"], a["drugs"]) for a in bleeding] == [("interaction", ["sertraline", "clopidogrel"])]
    qt = run("citalopram", "azithromycin")["alerts"]
    assert ("interaction", ["azithromycin", "citalopram"]) in [(a["kind"], sorted(a["drugs"])) for a in qt]


def test_celebrex_is_named_with_its_look_alike_warning():
    out, _ = plain("celebrex")
    assert "Celebrex (celecoxib)" in out
    assert "Look-alike/sound-alike" in out and "Celexa (citalopram)" in out
    assert out.strip().endswith("No alerts for: celecoxib")


def test_in_json_mode_the_look_alike_warning_goes_to_stderr():
    out, err = io.StringIO(), io.StringIO()
    call_command("check_regimen", "celebrex", "--json", stdout=out, stderr=err)
    assert json.loads(out.getvalue()) == {"alerts": []}
    assert "Celebrex (celecoxib)" in err.getvalue() and "Celexa (citalopram)" in err.getvalue()


def test_a_name_is_never_mapped_to_another_drug_by_similarity():
    message = refused("celecoxb")
    # The closest names are offered, and Celexa (a look-alike of Celebrex) says it is one.
    assert "celecoxib" in message
    assert "Celexa (citalopram) [look-alike/sound-alike of Celebrex" in message
    assert run("Celexa", "Nardil")["alerts"][0]["drugs"] == ["phenelzine", "citalopram"]


def test_bupropion_with_an_eating_disorder_condition():
    alerts = run("bupropion", "--condition", "F50.2")["alerts"]
    assert [(a["kind"], a["severity"], a["drugs"]) for a in alerts] == [
        ("interaction", "contraindicated", ["bupropion"])
    ]
    assert alerts[0]["message"].startswith("Drug–disease interaction:")
    assert run("bupropion", "--condition", "F32.1")["alerts"] == []
    assert run("bupropion")["alerts"] == []


def test_a_qt_drug_with_congenital_long_qt():
    alerts = run("citalopram:20", "--condition", "I45.81", "--condition", "F32.1")["alerts"]
    assert [(a["kind"], a["severity"], a["drugs"]) for a in alerts] == [("interaction", "major", ["citalopram"])]


def test_a_category_code_matches_the_rules_prefixes():
    assert run("bupropion", "--condition", "f50.00")["alerts"][0]["severity"] == "contraindicated"


@pytest.mark.parametrize("code", ["anorexia", "50.2", "", "F5"])
def test_bad_condition_code_exits_2(code):
    assert "Bad --condition" in refused("bupropion", "--condition", code)
