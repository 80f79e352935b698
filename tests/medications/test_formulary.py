"""The formulary's two data files, their load into the database, and the one name resolver (issue 17)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from medications import formulary, safety, triage
from medications.models import Medication
from tests import factories
from tests.helpers import log_in

ENTRIES = formulary.read_entries()
PSYCHOTROPICS = [e for e in ENTRIES if e["is_psychotropic"]]
CO_MEDICATIONS = formulary.read_entries(formulary.COMEDICATIONS_FILE)
COMEDICATION_HEADER = json.loads(formulary.COMEDICATIONS_FILE.read_text(encoding="utf-8"))
# Labelled per kilogram (valproate) or per injection (depots): no mg/day maximum to check against.
NO_DAILY_MAXIMUM = {
    "valproate", "haloperidol decanoate", "olanzapine pamoate", "risperidone long-acting injection",
    "paliperidone palmitate", "aripiprazole long-acting injection",
}  # fmt: skip


def test_generic_names_are_unique_across_both_files():
    names = [e["generic_name"] for e in ENTRIES]
    assert len(names) == len(set(names))


def test_every_psychotropic_resolves_by_its_generic_name_brands_and_aliases():
    index = formulary.names()
    for entry in PSYCHOTROPICS:
        generic = entry["generic_name"]
        for name in [generic, generic.upper(), *entry["brand_names"], *entry.get("aliases", ())]:
            found = index.resolve(name)
            assert found is not None and found.generic_name == generic, name


@pytest.mark.parametrize(
    ("typed", "generic"),
    [("selegiline", "selegiline"), ("Emsam", "selegiline"), ("Eldepryl", "selegiline"),
     ("selegiline transdermal", "selegiline"), ("sertraline hydrochloride", "sertraline"),
     ("escitalopram oxalate 10 mg", "escitalopram"), ("Seroquel XR", "quetiapine"),
     ("lisdexamfetamine dimesylate", "lisdexamfetamine"), ("divalproex sodium ER", "valproate"),
     ("hydroxyzine pamoate", "hydroxyzine"), ("olanzapine pamoate", "olanzapine pamoate"),
     ("aripiprazole lauroxil", "aripiprazole long-acting injection"), ("lithium citrate", "lithium"),
     ("Norco", "hydrocodone/acetaminophen"), ("paracetamol", "acetaminophen"), ("Synthroid", "levothyroxine"),
     ("metformin ER", "metformin"), ("olanzapine samidorphan", "olanzapine/samidorphan")],
)  # fmt: skip
def test_salts_forms_brands_and_aliases(typed, generic):
    assert formulary.names().resolve(typed).generic_name == generic


@pytest.mark.parametrize(
    "typed", ["celebrx", "selegilin", "risperidone injection", "olanzapine depot", "sertraline 5x"]
)
def test_nothing_is_matched_by_similarity_or_by_dropping_a_meaningful_word(typed):
    assert formulary.names().resolve(typed) is None


def test_a_brand_names_one_generic_only():
    seen: dict[str, str] = {}
    for entry in ENTRIES:
        for brand in entry["brand_names"]:
            key = formulary.normalise(brand)
            assert seen.setdefault(key, entry["generic_name"]) == entry["generic_name"], brand


def test_look_alike_pairs_are_shown_for_the_typed_name_only():
    celebrex = formulary.names().resolve("Celebrex")
    assert [c.label for c in celebrex.confusions] == ["Celexa (citalopram)", "Cerebyx (fosphenytoin)"]
    assert "Celexa (citalopram)" in celebrex.lasa_warning()
    # Typing the generic does not warn about its brand's look-alikes.
    assert "Celebrex" not in {c.name for c in formulary.names().resolve("citalopram").confusions}
    # Two names of one drug are not a confusion to warn about; the generic's own pair still is.
    wellbutrin = formulary.names().resolve("Wellbutrin SR").confusions
    assert [c.label for c in wellbutrin] == ["buspirone"]


def test_every_confused_pair_has_a_mark_and_two_different_names():
    data = json.loads(formulary.CONFUSED_NAMES_FILE.read_text(encoding="utf-8"))
    assert "ISMP" in data["source_document"]
    for pair in data["pairs"]:
        assert pair["mark"] in {"✔", "~"} and len(set(map(formulary.normalise, pair["names"]))) == 2, pair


def test_suggestions_mark_a_look_alike_and_never_offer_it_plainly():
    suggestions = formulary.names().suggest("Zyprexx")
    labels = [str(s) for s in suggestions]
    assert labels[0] == "Zyprexa (olanzapine)"
    zyrtec = [s for s in suggestions if s.generic_name == "cetirizine"]
    assert all(s.confused_with == "Zyprexa" and "look-alike" in str(s) for s in zyrtec)


def test_triage_uses_the_same_resolver():
    assert triage.resolve_drug("Celebrex").generic_name == "celecoxib"
    assert triage.resolve_drug("selegiline").generic_name == "selegiline"
    with pytest.raises(triage.UnknownDrug) as error:
        triage.resolve_drug("celecoxb")
    assert any("look-alike/sound-alike of Celebrex" in s for s in error.value.suggestions)


def test_every_psychotropic_has_a_maximum_daily_dose_or_a_stated_reason():
    for entry in PSYCHOTROPICS:
        name = entry["generic_name"]
        if name in NO_DAILY_MAXIMUM:
            assert entry["max_mg_per_day"] is None and entry["max_text"], name
        else:
            assert entry["max_mg_per_day"] is not None and entry["max_text"], name
    lithium = next(e for e in ENTRIES if e["generic_name"] == "lithium")
    assert lithium["max_mg_per_day"] == 1800 and Decimal(str(lithium["hard_max_mg"])) == 3 * 1800


def test_co_medications_cite_the_list_and_use_only_known_tags():
    sources = COMEDICATION_HEADER["tag_sources"]
    rule_tags = {t for e in ENTRIES for t in e["tags"]}
    assert "ClinCalc DrugStats" in COMEDICATION_HEADER["source_document"]
    for entry in CO_MEDICATIONS:
        assert entry["is_psychotropic"] is False and entry["source"], entry["generic_name"]
        assert set(entry["tags"]) <= set(sources), entry["generic_name"]
        assert set(entry.get("tag_marks", {})) <= set(entry["tags"]), entry["generic_name"]
        assert set(entry.get("tag_marks", {}).values()) <= {"~", "?"}, entry["generic_name"]
    assert set(sources) <= rule_tags


@pytest.mark.parametrize(
    ("name", "tags"),
    [("celecoxib", {"NSAID"}), ("meloxicam", {"NSAID"}), ("clopidogrel", {"ANTIPLATELET"}),
     ("rivaroxaban", {"ANTICOAGULANT"}), ("lisinopril/hydrochlorothiazide", {"ACE_INHIBITOR", "THIAZIDE_DIURETIC"}),
     ("olmesartan", {"ARB"}), ("hydrocodone/acetaminophen", {"OPIOID", "CNS_DEPRESSANT"}),
     ("azithromycin", {"QT_KNOWN_RISK"}), ("eletriptan", {"SEROTONERGIC"}), ("oxybutynin", {"ANTICHOLINERGIC"}),
     ("norgestimate/ethinyl estradiol", {"HORMONAL_CONTRACEPTIVE", "ESTROGEN"}), ("amlodipine", {"ANTIHYPERTENSIVE"})],
)  # fmt: skip
def test_co_medications_carry_the_classes_the_rules_read(name, tags):
    assert tags <= set(next(e for e in CO_MEDICATIONS if e["generic_name"] == name)["tags"])
    assert name in safety.book().drugs


@pytest.mark.django_db
def test_both_files_are_in_the_medication_table():
    assert Medication.objects.count() == len(ENTRIES)
    assert Medication.objects.filter(is_psychotropic=False).count() == sum(not e["is_psychotropic"] for e in ENTRIES)
    metformin = Medication.objects.get(generic_name="metformin")
    assert (metformin.drug_class, metformin.is_psychotropic, metformin.hard_max_mg) == ("antidiabetic", False, 12000)
    assert Medication.objects.get(generic_name="lithium").max_mg_per_day == 1800
    assert not Medication.objects.filter(generic_name="selegiline transdermal").exists()


@pytest.mark.django_db
def test_loading_renames_an_old_row_in_place():
    """A database migrated before the rename keeps the row (prescriptions point at it) under the new name."""
    row = Medication.objects.get(generic_name="selegiline")
    Medication.objects.filter(pk=row.pk).update(generic_name="selegiline transdermal", brand_names=["Emsam"])
    formulary.load(Medication)
    renamed = Medication.objects.get(pk=row.pk)
    assert renamed.generic_name == "selegiline" and "Eldepryl" in renamed.brand_names
    assert Medication.objects.filter(generic_name__startswith="selegiline").count() == 1


@pytest.mark.django_db
def test_a_co_medication_shows_no_empty_education_box_to_the_patient(client, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="sertraline", dose="50", strength="50")
    factories.start(patient, psychiatrist, drug="metformin", dose="500", strength="500", frequency="bid")
    log_in(client, patient.user)
    body = client.get(reverse("patient_home")).content.decode()
    assert "Metformin" in body and "Sertraline" in body
    assert body.count("About this medicine") == 1
