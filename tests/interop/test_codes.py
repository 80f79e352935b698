"""The codes: every instrument and monitoring test has an entry, every LOINC code is well formed,
confirmed RxNorm codes have a source, and the unconfirmed ones are listed (printed with -s)."""

from __future__ import annotations

import json
import re

import pytest

from interop import codes
from medications import formulary, monitoring
from patients import instruments


def test_every_instrument_has_codes_and_every_item_is_named():
    for code, instrument in instruments.INSTRUMENTS.items():
        entry = codes.instrument_codes(code)
        assert "panel" in entry and "total" in entry, code
        for key in entry["items"]:
            assert key in {item.key for item in instrument.items}, (code, key)


def test_the_phq9_and_gad7_codes_are_the_confirmed_ones():
    assert codes.panel_loinc("phq9") == "44249-1"
    assert codes.total_loinc("phq9")[0] == "44261-6"
    assert codes.panel_loinc("gad7") == "69737-5"
    assert codes.total_loinc("gad7")[0] == "70274-6"
    assert codes.item_loinc("phq9", "9") == "44260-8"
    assert codes.answer_loinc("phq9", 3) == "LA6571-9"


def test_every_monitoring_test_has_a_ucum_unit_and_a_category():
    for test in monitoring.rules().tests:
        entry = codes.test_code(test)
        assert entry is not None, test
        assert entry.ucum and " " not in entry.ucum, test
        assert entry.category in {"laboratory", "vital-signs", "exam"}, test


def test_every_loinc_code_has_a_valid_check_digit():
    found = []
    for entry in codes.data()["instruments"].values():
        found += [part["code"] for part in (entry["panel"], entry["total"]) if part["code"]]
        found += [code for code in entry["items"].values() if code]
    found += [entry["loinc"] for entry in codes.data()["tests"].values() if entry["loinc"]]
    assert len(found) >= 40
    assert [code for code in found if not codes.loinc_check_digit_ok(code)] == []


def test_confirmed_rxnorm_codes_name_their_source_and_unconfirmed_ones_are_listed():
    entries = formulary.read_entries()
    confirmed = [e for e in entries if e["rxnorm_verified"]]
    assert all(e["rxnorm_cui"] and e.get("rxnorm_source") or "CPIC" in e["source"] for e in confirmed)
    # A PharmGKB citation quotes the row that gives this entry's code, and the PA id it names.
    pharmgkb = [e for e in confirmed if "PharmGKB" in e.get("rxnorm_source", "")]
    for entry in pharmgkb:
        row = re.search(r"row pharmgkb\.drug:(PA\d+) rxnorm:(\d+); (PA\d+) is ", entry["rxnorm_source"])
        assert row and row[1] == row[3] and row[2] == entry["rxnorm_cui"], entry["generic_name"]
    # An RxNorm-release citation quotes the record (name, RXCUI, term type) that gives this entry's code: an
    # ingredient (IN), or for a combination RxNorm's multiple-ingredient concept (MIN).
    release = [e for e in confirmed if "rxnorm-ingredients" in e.get("rxnorm_source", "")]
    for entry in release:
        row = re.search(r'record \{"Name": "([^"]+)", "RXCUI": "(\d+)", "TTY": "(IN|MIN)"\}', entry["rxnorm_source"])
        assert row and row[2] == entry["rxnorm_cui"], entry["generic_name"]
        assert (row[3] == "MIN") == ("/" in entry["generic_name"]) == (" / " in row[1]), entry["generic_name"]
    # tapentadol's code also matches the CDC MME conversion factors, an ingredient-keyed supplement to RxNorm.
    assert [e["generic_name"] for e in release if "CDCMMEClinicalConversionFactors" in e["rxnorm_source"]] == [
        "tapentadol"
    ]
    unconfirmed = sorted(e["generic_name"] for e in entries if not e["rxnorm_verified"])
    print(f"\nRxNorm unconfirmed ({len(unconfirmed)} of {len(entries)}): {', '.join(unconfirmed)}")
    print("Codes unconfirmed:\n  " + "\n  ".join(codes.unconfirmed()))
    # Each unconfirmed entry says in its source why the look-ups did not confirm it.
    assert [
        e["generic_name"] for e in entries if not e["rxnorm_verified"] and "RxNorm not confirmed" not in e["source"]
    ] == []
    assert len(confirmed) == 380
    assert len(pharmgkb) == 224
    assert len(release) == 46
    assert len(confirmed) + len(unconfirmed) == len(entries)
    by_file = {path.name: sum(e["rxnorm_verified"] for e in formulary.read_entries(path))
               for path in (formulary.DATA_FILE, formulary.COMEDICATIONS_FILE)}  # fmt: skip
    assert by_file == {"formulary.json": 184, "comedications.json": 196}


# Samples of issue 23's look-ups: each the single rxnorm row of the PharmGKB drug of that name, or the record
# of that ingredient (the combinations: RxNorm's MIN concept) among RxNorm's own ingredient records.
CONFIRMED_SAMPLES = {
    "PharmGKB": {"desvenlafaxine": "734064", "vilazodone": "1086769", "eszopiclone": "461016",
                 "lisdexamfetamine": "700810", "viloxazine": "11196", "valbenazine": "1918219",
                 "deutetrabenazine": "1876905", "paliperidone palmitate": "679314"},
    "rxnorm-ingredients": {"lurasidone": "1040028", "cariprazine": "1667655", "esketamine": "2119365",
                           "zuranolone": "2669905", "xanomeline/trospium": "2694836",
                           "olanzapine/samidorphan": "2562108", "dextromethorphan/bupropion": "2611256",
                           "tapentadol": "787390"},
}  # fmt: skip


@pytest.mark.parametrize("cited", sorted(CONFIRMED_SAMPLES))
def test_rxnorm_codes_confirmed_samples(cited):
    expected = CONFIRMED_SAMPLES[cited]
    rows = {e["generic_name"]: e for e in formulary.read_entries(formulary.DATA_FILE)}
    assert {name: rows[name]["rxnorm_cui"] for name in expected} == expected
    assert all(rows[name]["rxnorm_verified"] and cited in rows[name]["rxnorm_source"] for name in expected)


def test_rxnorm_codes_still_unconfirmed_say_why():
    rows = {e["generic_name"]: e for e in formulary.read_entries(formulary.DATA_FILE)}
    for name in ("asenapine", "apixaban", "mixed amphetamine salts", "kava", "cannabis", "st john's wort"):
        assert rows[name]["rxnorm_verified"] is False and "RxNorm not confirmed" in rows[name]["source"], name
    comedications = formulary.read_entries(formulary.COMEDICATIONS_FILE)
    unconfirmed = [e for e in comedications if not e["rxnorm_verified"]]
    assert sorted(e["generic_name"] for e in unconfirmed) == sorted(COMEDICATIONS_UNCONFIRMED)
    assert all("RxNorm not confirmed" in e["source"] for e in unconfirmed)


# The co-medications still without a confirmed RxCUI (each source says what was searched).
COMEDICATIONS_UNCONFIRMED = (
    "omega-3-acid ethyl esters", "sitagliptin/metformin",
    "desiccated thyroid", "amlodipine/benazepril",
    "hydrocodone/acetaminophen", "oxycodone/acetaminophen", "butalbital/acetaminophen/caffeine",
    "polyethylene glycol 3350", "sennosides", "ipratropium/albuterol",
    "amoxicillin/clavulanate", "acyclovir",
    "norethindrone/ethinyl estradiol", "levonorgestrel/ethinyl estradiol",
    "etonogestrel/ethinyl estradiol", "butalbital/aspirin/caffeine",
)  # fmt: skip


def test_rxnorm_codes_confirmed_comedication_samples():
    """Co-medications confirmed from RxNorm's own ingredient records: ingredients (IN) and, for the
    combinations, RxNorm's multiple-ingredient concept (MIN) of exactly those ingredients."""
    expected = {"empagliflozin": "1545653", "dapagliflozin": "1488564", "linagliptin": "1100699",
                "torsemide": "38413", "valacyclovir": "73645", "emtricitabine/tenofovir disoproxil": "1008145",
                "lisinopril/hydrochlorothiazide": "214618", "losartan/hydrochlorothiazide": "214619",
                "olmesartan/hydrochlorothiazide": "817496", "triamterene/hydrochlorothiazide": "258337",
                "valsartan/hydrochlorothiazide": "214626", "sacubitril/valsartan": "1656339",
                "semaglutide": "1991302", "dulaglutide": "1551291", "fluticasone": "41126",
                "fluticasone/vilanterol": "1424888", "fluticasone/umeclidinium/vilanterol": "1945038",
                "drospirenone/ethinyl estradiol": "840781", "docusate": "82003", "eslicarbazepine": "1482502",
                "norgestimate/ethinyl estradiol": "214559", "icosapent ethyl": "1304974",
                "bictegravir/emtricitabine/tenofovir alafenamide": "1996259",
                "budesonide/formoterol": "389132", "canagliflozin": "1373458"}  # fmt: skip
    rows = {e["generic_name"]: e for e in formulary.read_entries(formulary.COMEDICATIONS_FILE)}
    assert {name: rows[name]["rxnorm_cui"] for name in expected} == expected
    assert all(rows[n]["rxnorm_verified"] and "rxnorm-ingredients" in rows[n]["rxnorm_source"] for n in expected)


def test_unconfirmed_codes_are_listed_and_never_sent():
    lines = codes.unconfirmed()
    assert any(line.startswith("instrument gad2 total") for line in lines)
    assert any(line.startswith("test EGFR") for line in lines)
    assert codes.test_code("EGFR").loinc is None
    raw = json.loads(codes.DATA_FILE.read_text())
    assert raw["tests"]["EGFR"]["loinc"] is None
    assert [test for test, entry in raw["tests"].items() if entry["loinc"] is None] == ["EGFR"]


def test_the_lab_codes_confirmed_in_public_sources():
    """Each confirmed in the public files cited in codes.json (two or more, except nortriptyline)."""
    expected = {
        "PLATELETS": "777-3",
        "CARBAMAZEPINE": "3432-2",
        "NORTRIPTYLINE": "3872-9",
        "GLUCOSE_FASTING": "1558-6",
        "HBA1C": "4548-4",
        "HDL_C": "2085-9",
        "TRIGLYCERIDES": "2571-8",
        "QTC": "8636-3",
    }
    assert {test: codes.test_code(test).loinc for test in expected} == expected
    assert all("stored-index id" in codes.data()["tests"][test]["source"] for test in expected)
