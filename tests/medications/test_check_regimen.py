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
    call_command("check_regimen", "sertraline:50", stdout=quiet)
    assert quiet.getvalue().strip() == "No alerts for: sertraline 50 mg/day"


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
