"""The compact ICD-10-CM file answers exactly as the package it was written from."""

import gzip
import random
import re

import pytest

from patients import icd10

icd = pytest.importorskip("simple_icd_10_cm")  # a dev dependency: the file's source


def test_the_shipped_file_is_the_packages_code_set(tmp_path):
    rebuilt = tmp_path / "icd10cm.csv.gz"
    assert icd10.build(rebuilt) == len(icd.get_all_codes(with_dots=True)) == 98505
    with gzip.open(rebuilt, "rb") as fresh, gzip.open(icd10.DATA, "rb") as shipped:
        assert fresh.read() == shipped.read()


def test_lookups_agree_with_the_package_on_every_code():
    for code in icd.get_all_codes(with_dots=True):
        assert icd10.normalize(code) == code  # the package lists codes dotted already
        assert icd10.is_billable(code) == icd.is_leaf(code)
        assert icd10.describe(code) == icd.get_description(code)
    # Undotted, lower-case input (add_dot is slow in the package: a sample).
    for code in random.Random(5).sample(icd.get_all_codes(with_dots=False), 300):
        assert icd10.normalize(code.lower()) == icd.add_dot(code)


@pytest.mark.parametrize("typed", ["f321", " F32.1 ", "F321", "f32", "F43.10", "f4310", "Z00", "XYZ", "F32.9X", ""])
def test_what_a_clinician_types_is_normalised_as_before(typed):
    raw = typed.strip().upper().replace(" ", "")
    expected = icd.add_dot(raw) if icd.is_valid_item(raw) else raw
    assert icd10.normalize(typed) == expected
    assert icd10.is_billable(typed) == (
        icd.is_valid_item(icd10.normalize(typed)) and icd.is_leaf(icd10.normalize(typed))
    )


def test_search_finds_billable_codes_f_codes_first():
    rng = random.Random(3)
    assert icd10.search("") == []
    assert icd10.search("major depressive single mild")[0] == ("F32.0", icd.get_description("F32.0"))
    assert all(code.startswith("F41") for code, _ in icd10.search("F41"))
    for code, _ in icd10.search("disorder", limit=25) + icd10.search(rng.choice(["anxiety", "lithium", "fracture"])):
        assert icd.is_leaf(code)


def test_an_unknown_code_is_refused():
    with pytest.raises(ValueError):
        icd10.describe("NOPE1")


def _package_search(query, limit=icd10.MAX_RESULTS):
    """The search as it was written over the package (the reference)."""
    rows = [(c, icd.get_description(c)) for c in icd.get_all_codes(with_dots=True) if icd.is_leaf(c)]
    rows.sort(key=lambda row: (not row[0].startswith("F"), row[0]))
    code_like = query.strip().upper().replace(".", "")
    words = [w for w in re.split(r"\W+", query.strip().lower()) if w]
    found = [
        (c, d)
        for c, d in rows
        if c.replace(".", "").startswith(code_like) or (words and all(w in d.lower() for w in words))
    ]
    return found[:limit]


def test_search_returns_what_the_package_search_returned():
    for query in [
        "major depressive",
        "F32",
        "f43.1",
        "anxiety disorder",
        "a",
        "Z99",
        "lithium",
        "zz qq",
        "F3",
        "bipolar II",
    ]:
        assert icd10.search(query) == _package_search(query), query
