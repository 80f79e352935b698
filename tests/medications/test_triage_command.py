"""`manage.py triage` — the contract external checks rely on:

    python manage.py triage --text TEXT [--drug NAME ...] [--severity mild|moderate|severe] [--json]

prints, with --json, exactly {"level": "emergency"|"urgent"|"routine", "reasons": [...]}; drug
names are generic or brand, any case; an unknown drug exits with status 2 and the closest
matches; the rules are the portal's (medications.triage.assess_text).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from medications import triage

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> dict:
    out = StringIO()
    call_command("triage", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_json_has_exactly_level_and_reasons():
    payload = run("--text", "I want to end it all")
    assert set(payload) == {"level", "reasons"}
    assert payload["level"] == "emergency"
    assert isinstance(payload["reasons"], list) and all(isinstance(r, str) for r in payload["reasons"])
    assert payload["reasons"]


def test_routine_text_has_no_reasons():
    assert run("--text", "a little nausea in the mornings", "--drug", "sertraline") == {
        "level": "routine",
        "reasons": [],
    }


@pytest.mark.parametrize("name", ["lamotrigine", "LAMOTRIGINE", "Lamictal", "lamictal xr", "Subvenite"])
def test_drug_names_generic_or_brand_any_case(name):
    assert run("--text", "new rash on my arm", "--drug", name)["level"] == "urgent"


def test_several_drugs_and_severity():
    payload = run(
        "--text", "diarrhoea since yesterday", "--drug", "sertraline", "--drug", "Lithobid", "--severity", "severe"
    )
    assert payload["level"] == "emergency"
    assert (
        run("--text", "diarrhoea since yesterday", "--drug", "sertraline", "--severity", "mild")["level"] == "routine"
    )
    assert run("--text", "a bit of nausea", "--severity", "severe")["level"] == "urgent"


def test_same_rules_as_the_portal():
    for text, drugs, severity in [
        ("high fever, stiff and confused", ["haloperidol"], None),
        ("sore throat", ["Clozaril"], "moderate"),
        ("I'm not suicidal", [], None),
        ("my erection won't go away", ["trazodone"], None),
    ]:
        args = ["--text", text] + [a for d in drugs for a in ("--drug", d)]
        if severity:
            args += ["--severity", severity]
        expected = triage.assess_text(text, drugs=drugs, severity=severity)
        assert run(*args) == {"level": expected.level, "reasons": expected.reasons}


def test_unknown_drug_exits_2_with_the_closest_matches():
    with pytest.raises(CommandError) as caught:
        call_command("triage", "--text", "rash", "--drug", "lamotrigene", "--json", stdout=StringIO())
    assert caught.value.returncode == 2
    assert "lamotrigene" in str(caught.value)
    assert "lamotrigine" in str(caught.value)


def test_plain_output_lists_level_and_reasons():
    out = StringIO()
    call_command("triage", "--text", "rash", "--drug", "lamotrigine", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "URGENT"
    assert lines[1].startswith("- Rash on a high-risk anticonvulsant — Any new rash on lamotrigine")


def _manage(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env["DJANGO_SETTINGS_MODULE"] = "clinic.settings_test"
    return subprocess.run(
        [sys.executable, "manage.py", "triage", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_as_a_process_stdout_is_only_the_json_and_unknown_drug_exits_2():
    ok = _manage("--text", "I can’t keep myself safe", "--drug", "Zoloft", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"level": "emergency", "reasons": json.loads(ok.stdout)["reasons"]}
    assert ok.stdout.strip().startswith('{"level": "emergency", "reasons": [')

    unknown = _manage("--text", "rash", "--drug", "Lamictol", "--json")
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert "Lamictol" in unknown.stderr and "lamictal" in unknown.stderr.lower()

    bad = _manage("--text", "rash", "--severity", "awful", "--json")
    assert bad.returncode == 2
    assert "severity" in bad.stderr


def test_recent_changes_are_context_and_keep_the_json_contract():
    text = "I'm sweating loads, shaking and my heart is racing, I feel really hot"
    assert run("--text", text, "--drug", "sertraline")["level"] == "urgent"
    payload = run("--text", text, "--drug", "sertraline", "--recent", "tramadol")
    assert set(payload) == {"level", "reasons"} and payload["level"] == "emergency"
