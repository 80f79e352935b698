"""Lab and measure monitoring (medications.monitoring): the data file, flags and alerts, refusing
bad input, schedules that advance with time, the psychiatrist's due list and patient reminders."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic import dates
from clinic.models import Alert, Notification
from medications import monitoring, prescribing
from medications.formulary import read_entries
from medications.models import ChangeReason, LabResult
from notifications import messages as outbox_messages
from tests import factories

pytestmark = pytest.mark.django_db

START = datetime.date(2026, 1, 5)
DAY = datetime.timedelta(days=1)


def travel(day: datetime.date):
    # Noon UTC: the same calendar day in every zone the clinic may be configured in.
    return time_machine.travel(datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC), tick=False)


def enter(patient, psychiatrist, code, value, unit, day=None, **extra):
    return monitoring.record_result(
        patient=patient,
        test_code=code,
        value=value,
        unit=unit,
        collected_on=day or timezone.localdate(),
        entered_by=psychiatrist,
        **extra,
    )


def due(patient, test_code):
    matches = [d for d in monitoring.due_items(patient) if d.test.code == test_code]
    return matches[0] if matches else None


def start(patient, psychiatrist, drug, dose, strength, frequency="qd", form="tablet", day=START):
    return factories.start(patient, psychiatrist, drug, dose, strength, frequency, form=form, start_date=day)


def start_lithium(patient, psychiatrist, day=START):
    return start(patient, psychiatrist, "lithium", "300", "300", "bid", form="capsule (carbonate)", day=day)


# -- The data file ------------------------------------------------------------------------------

REFERENCE_PROFILES = {
    "MON-AD", "MON-SNRI", "MON-TCA", "MON-MAOI", "MON-AP", "MON-LI",
    "MON-VPA", "MON-CBZ", "MON-LTG", "MON-CLZ", "MON-STIM", "MON-BZD",
}  # fmt: skip
MARKS = {"✔", "~", "?"}


def test_data_file_has_every_reference_profile_and_every_formulary_code():
    rules = monitoring.rules()
    assert set(rules.profiles) == REFERENCE_PROFILES
    used = {code for entry in read_entries() for code in entry["monitoring_profiles"]}
    assert used <= set(rules.profiles)


def test_every_item_cites_a_source_and_names_known_tests_drugs_and_tags():
    rules = monitoring.rules()
    formulary = {entry["generic_name"]: entry for entry in read_entries()}
    tags = {tag for entry in formulary.values() for tag in entry["tags"]}
    for profile in rules.profiles.values():
        assert profile.source
        for note in profile.not_scheduled:
            assert note["text"] and note["why"] and note["confidence"] in MARKS
        for item in profile.items:
            assert item.source and item.confidence in MARKS, item.id
            assert set(item.tests) <= set(rules.tests), item.id
            assert item.applies_to_drugs is None or item.applies_to_drugs <= set(formulary), item.id
            assert item.interacting_drugs <= set(formulary), item.id
            assert item.interacting_tags <= tags, item.id
            # Something must make it fall due.
            assert item.baseline or item.after_start or item.after_change or item.phases, item.id


@pytest.mark.parametrize("code", sorted(json.loads(monitoring.DATA_FILE.read_text())["tests"]))
def test_each_test_has_its_unit_and_bands_that_cover_the_possible_range_once(code):
    test = monitoring.rules().tests[code]
    assert test.units[test.unit] == 1
    low, high = test.physical_range
    assert low < high
    if not test.bands:
        return
    for band in test.bands:
        assert band.source and band.confidence in MARKS
        assert band.flag in {"normal", "low", "high", "critical"}
        assert band.level in {"routine", "urgent", "emergency"}
    points = {low, high}
    for band in test.bands:
        for bound in band.when.values():
            points |= {bound, bound - Decimal("0.0001"), bound + Decimal("0.0001")}
    for value in sorted(p for p in points if low <= p <= high):
        assert sum(band.contains(value) for band in test.bands) == 1, (code, value)


def test_every_flagged_band_of_a_scheduled_test_sets_a_recheck_or_says_why_not():
    """A flagged result must not leave the next one in the routine window unless the data says why
    (issue 16, item 19): each low/high/critical band of a test some profile schedules has either
    recheck_days with its source, or no_recheck with the reason."""
    rules = monitoring.rules()
    scheduled = {code for profile in rules.profiles.values() for item in profile.items for code in item.tests}
    checked = 0
    for code in sorted(scheduled):
        for band in rules.tests[code].bands:
            if band.flag == "normal":
                assert band.recheck_days is None and not band.no_recheck, (code, band.label)
                continue
            checked += 1
            if band.recheck_days is not None:
                assert band.recheck_days >= 1 and band.recheck_source, (code, band.label)
                assert not band.no_recheck, (code, band.label)
            else:
                assert len(band.no_recheck) >= 20, (code, band.label)  # a reason, not a placeholder
    assert checked >= 30
    lithium = {band.flag: band.recheck_days for band in rules.tests["LITHIUM"].bands}
    assert (lithium["critical"], lithium["high"]) == (1, 5)


# -- Flags, alerts and bad input -----------------------------------------------------------------


def test_lithium_18_mmol_per_l_is_critical_and_raises_one_urgent_alert(patient, psychiatrist):
    (result,) = enter(patient, psychiatrist, "LITHIUM", "1.8", "mmol/L")

    assert (result.flag, result.level) == ("critical", "urgent")
    assert "toxic threshold" in result.flag_reason
    alert = Alert.objects.get()
    assert (alert.patient, alert.level, alert.source) == (patient, "urgent", result)
    assert alert.reasons == [f"Lithium level (12 h trough) 1.8 mmol/L: {result.flag_reason}"]
    assert Notification.objects.filter(kind=Notification.Kind.SAFETY_ALERT, recipient=psychiatrist).exists()


@pytest.mark.parametrize(
    ("value", "unit", "flag"),
    [
        ("1.0", "mmol/L", "normal"),
        ("0.6", "mmol/L", "normal"),
        ("1.2", "mEq/L", "normal"),
        ("0.5", "mmol/L", "low"),
        ("1.3", "mmol/L", "high"),
        ("1.5", "mmol/L", "high"),
    ],
)
def test_lithium_below_the_toxic_threshold_raises_no_alert(patient, psychiatrist, value, unit, flag):
    (result,) = enter(patient, psychiatrist, "LITHIUM", value, unit)

    assert (result.flag, result.level) == (flag, "routine")
    assert not Alert.objects.exists()


def test_lithium_in_meq_per_l_is_the_same_as_mmol_per_l(patient, psychiatrist):
    (result,) = enter(patient, psychiatrist, "LITHIUM", "1.51", "mEq/L")

    assert (result.canonical_value, result.canonical_unit, result.level) == (Decimal("1.51"), "mmol/L", "urgent")


@pytest.mark.parametrize(
    ("value", "unit", "flag", "level", "alerts"),
    [
        ("1500", "/µL", "normal", "routine", 0),
        ("1499", "/µL", "low", "routine", 0),  # mild: continue, ANC 3x/week
        ("1000", "/µL", "low", "routine", 0),
        ("999", "/µL", "critical", "urgent", 1),  # moderate: interrupt
        ("500", "/µL", "critical", "urgent", 1),
        ("499", "/µL", "critical", "urgent", 1),  # severe: stop
        ("0", "/µL", "critical", "urgent", 1),
        ("1.2", "×10⁹/L", "low", "routine", 0),  # = 1200/µL
        ("0.4", "×10³/µL", "critical", "urgent", 1),  # = 400/µL
    ],
)
def test_anc_bands(patient, psychiatrist, value, unit, flag, level, alerts):
    (result,) = enter(patient, psychiatrist, "ANC", value, unit)

    assert (result.flag, result.level) == (flag, level)
    assert Alert.objects.count() == alerts


def test_anc_band_labels_name_the_clozapine_action(patient, psychiatrist):
    mild, moderate, severe = (enter(patient, psychiatrist, "ANC", v, "/µL")[0] for v in ("1200", "700", "300"))

    assert mild.flag_reason.startswith("Mild neutropenia")
    assert "interrupt" in moderate.flag_reason
    assert "stop it and get a haematology consult" in severe.flag_reason


@pytest.mark.parametrize(
    ("code", "unit", "edges"),
    [
        ("VALPROATE", "µg/mL", [("49.9", "low"), ("50", "normal"), ("125", "normal"), ("125.1", "high")]),
        ("CARBAMAZEPINE", "mg/L", [("3.9", "low"), ("4", "normal"), ("12", "normal"), ("12.1", "high")]),
        ("NORTRIPTYLINE", "ng/mL", [("49", "low"), ("50", "normal"), ("150", "normal"), ("151", "high")]),
    ],
)
def test_drug_level_windows(patient, psychiatrist, code, unit, edges):
    flags = [(value, enter(patient, psychiatrist, code, value, unit)[0].flag) for value, _ in edges]

    assert flags == edges
    assert not Alert.objects.exists()


def test_wrong_unit_is_refused_with_the_accepted_units_and_nothing_is_stored(patient, psychiatrist):
    with pytest.raises(ValidationError) as refused:
        enter(patient, psychiatrist, "LITHIUM", "1.8", "mg/dL")

    assert refused.value.message_dict == {
        "unit": [
            "Lithium level (12 h trough) is entered in mmol/L or mEq/L, not mg/dL. "
            "Check the unit on the lab report; other units are not converted."
        ]
    }
    assert not LabResult.objects.exists()
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    ("code", "value", "unit", "message"),
    [
        ("LITHIUM", "25", "mmol/L",
         "25 mmol/L is outside the possible range for Lithium level (12 h trough) (0–20 mmol/L)."),
        ("ANC", "250", "×10⁹/L",
         "250 ×10⁹/L (= 250000 /µL) is outside the possible range for Absolute neutrophil count (ANC) (0–200000 /µL)."),
        ("WEIGHT", "1200", "lb", "1200 lb (= 544.3108 kg) is outside the possible range for Weight (1–500 kg)."),
        ("SODIUM", "12", "mmol/L", "12 mmol/L is outside the possible range for Sodium (Na⁺) (80–220 mmol/L)."),
    ],
)  # fmt: skip
def test_value_outside_the_physical_range_is_refused(patient, psychiatrist, code, value, unit, message):
    with pytest.raises(ValidationError) as refused:
        enter(patient, psychiatrist, code, value, unit)

    assert refused.value.message_dict == {"value": [f"{message} Check the value and the unit."]}
    assert not LabResult.objects.exists()


@pytest.mark.parametrize("value", ["", "abc", "-1", "1.2.3", "0.00001", "1e3"])
def test_value_that_is_not_a_plain_number_is_refused(patient, psychiatrist, value):
    with pytest.raises(ValidationError) as refused:
        enter(patient, psychiatrist, "LITHIUM", value, "mmol/L")

    assert "value" in refused.value.message_dict
    assert not LabResult.objects.exists()


def test_future_date_and_date_before_birth_are_refused(patient, psychiatrist):
    for day, message in [
        (timezone.localdate() + DAY, "The collection date cannot be in the future."),
        (patient.date_of_birth - DAY, "The collection date is before the patient's date of birth."),
    ]:
        with pytest.raises(ValidationError) as refused:
            enter(patient, psychiatrist, "LITHIUM", "0.8", "mmol/L", day)
        assert refused.value.message_dict == {"collected_on": [message]}
    assert not LabResult.objects.exists()


def test_blood_pressure_is_one_reading_stored_as_two_results(patient, psychiatrist):
    systolic, diastolic = enter(patient, psychiatrist, "BP", "142/86", "mmHg")

    assert (systolic.test_code, systolic.value, systolic.flag) == ("SBP", Decimal("142"), "high")
    assert (diastolic.test_code, diastolic.value, diastolic.flag) == ("DBP", Decimal("86"), "high")
    for bad in ("86/142", "142", "142/abc"):
        with pytest.raises(ValidationError):
            enter(patient, psychiatrist, "BP", bad, "mmHg")
    assert LabResult.objects.count() == 2


def test_half_a_blood_pressure_out_of_range_stores_neither_half(patient, psychiatrist):
    with pytest.raises(ValidationError):
        enter(patient, psychiatrist, "BP", "120/10", "mmHg")

    assert not LabResult.objects.exists()


def test_results_are_append_only(patient, psychiatrist):
    (result,) = enter(patient, psychiatrist, "LITHIUM", "0.8", "mmol/L")

    with pytest.raises(PermissionError):
        result.save()
    with pytest.raises(PermissionError):
        result.delete()


def test_weight_gain_of_5_percent_on_an_antipsychotic_is_flagged(patient, psychiatrist):
    with travel(START):
        start(patient, psychiatrist, "olanzapine", "5", "5")
        (baseline,) = enter(patient, psychiatrist, "WEIGHT", "80", "kg")
    with travel(START + 28 * DAY):
        (small,) = enter(patient, psychiatrist, "WEIGHT", "83.9", "kg")
    with travel(START + 56 * DAY):
        (gain,) = enter(patient, psychiatrist, "WEIGHT", "185.2", "lb")  # 84.0 kg

    assert (baseline.flag, small.flag) == ("none", "none")
    assert gain.flag == "high" and gain.level == "routine"
    assert gain.flag_reason.startswith("5.0% above the antipsychotic baseline (80 kg on Jan 5, 2026)")


# -- Schedules ------------------------------------------------------------------------------------


def test_clozapine_anc_weekly_then_every_two_weeks_after_6_months_then_monthly_after_12(patient, psychiatrist):
    with travel(START):
        start(patient, psychiatrist, "clozapine", "25", "25")
        baseline = due(patient, "ANC")
    assert (baseline.due_on, baseline.status, baseline.reason) == (START, "due", "baseline")

    gaps = []
    day = START
    while day <= START + 420 * DAY:
        with travel(day):
            enter(patient, psychiatrist, "ANC", "2100", "/µL")
            upcoming = due(patient, "ANC")
        assert upcoming.status == "upcoming"
        gaps.append(((day - START).days, (upcoming.due_on - day).days))
        day = upcoming.due_on

    assert gaps[:3] == [(0, 7), (7, 7), (14, 7)]
    assert {gap for elapsed, gap in gaps if elapsed < 182} == {7}
    assert (175, 7) in gaps and (182, 14) in gaps
    assert {gap for elapsed, gap in gaps if 182 <= elapsed < 365} == {14}
    assert (364, 14) in gaps and (378, 30) in gaps and (408, 30) in gaps
    assert {gap for elapsed, gap in gaps if elapsed >= 365} == {30}


def test_a_missed_weekly_anc_turns_overdue_the_day_after(patient, psychiatrist):
    with travel(START):
        start(patient, psychiatrist, "clozapine", "25", "25")
        enter(patient, psychiatrist, "ANC", "2100", "/µL")
    with travel(START + 6 * DAY):
        assert due(patient, "ANC").status == "upcoming"
    with travel(START + 7 * DAY):
        assert due(patient, "ANC").status == "due"
    with travel(START + 8 * DAY):
        overdue = due(patient, "ANC")
    assert (overdue.status, overdue.due_on) == ("overdue", START + 7 * DAY)


@pytest.mark.parametrize(("value", "days"), [("1200", 2), ("700", 1), ("300", 1)])
def test_a_neutropenic_anc_brings_the_next_one_forward(patient, psychiatrist, value, days):
    with travel(START):
        start(patient, psychiatrist, "clozapine", "25", "25")
        enter(patient, psychiatrist, "ANC", value, "/µL")
        next_anc = due(patient, "ANC")

    assert next_anc.due_on == START + days * DAY
    flag = "low" if value == "1200" else "critical"
    assert (next_anc.reason, next_anc.after_flag) == (
        f"re-check due {dates.day(next_anc.due_on, year=True)} after a {flag} result",
        flag,
    )


def test_baseline_is_due_at_the_start_unless_taken_within_30_days_before(patient, psychiatrist, patient2):
    with travel(START - 40 * DAY):
        enter(patient, psychiatrist, "ANC", "2000", "/µL")
    with travel(START - 20 * DAY):
        enter(patient2, psychiatrist, "ANC", "2000", "/µL")
    with travel(START):
        start(patient, psychiatrist, "clozapine", "25", "25")
        start(patient2, patient2.primary_psychiatrist, "clozapine", "25", "25")
        too_old, recent = due(patient, "ANC"), due(patient2, "ANC")

    assert (too_old.reason, too_old.due_on) == ("baseline", START)
    # The clock of the weekly phase starts at the start, not at the pre-start result.
    assert (recent.reason, recent.due_on) == ("weekly for the first 6 months", START + 7 * DAY)


def test_antipsychotic_metabolic_schedule(patient, psychiatrist):
    with travel(START):
        start(patient, psychiatrist, "olanzapine", "5", "5")
        items = {d.test.code: d for d in monitoring.due_items(patient)}
        assert {code: (d.due_on, d.reason) for code, d in items.items()} == {
            code: (START, "baseline") for code in ("WEIGHT", "WAIST", "SBP", "GLUCOSE_FASTING", "CHOLESTEROL_TOTAL")
        }
        enter(patient, psychiatrist, "WEIGHT", "70", "kg")
        enter(patient, psychiatrist, "BP", "118/76", "mmHg")
        enter(patient, psychiatrist, "HBA1C", "5.4", "%")
        assert due(patient, "WEIGHT").due_on == START + 28 * DAY
        assert due(patient, "SBP").due_on == START + 84 * DAY
        assert due(patient, "GLUCOSE_FASTING").due_on == START + 84 * DAY  # an HbA1c counts
    weights = []
    for week in (4, 8, 12):
        with travel(START + week * 7 * DAY):
            enter(patient, psychiatrist, "BMI", "24", "kg/m²")  # a BMI counts as the weight check
            weights.append((due(patient, "WEIGHT").due_on - START).days)
    assert weights == [56, 84, 84 + 91]
    with travel(START + 84 * DAY):
        enter(patient, psychiatrist, "BP", "118/76", "mmHg")
        assert due(patient, "SBP").due_on == START + (84 + 365) * DAY


def test_ecg_before_ziprasidone_but_not_olanzapine(patient, psychiatrist, patient2):
    with travel(START):
        start(patient, psychiatrist, "ziprasidone", "20", "20", "bid", form="capsule")
        start(patient2, patient2.primary_psychiatrist, "olanzapine", "5", "5")
        assert due(patient, "QTC").due_on == START
        assert due(patient2, "QTC") is None


def test_lithium_level_5_days_after_the_start_and_after_every_dose_change(patient, psychiatrist):
    with travel(START):
        rx = start_lithium(patient, psychiatrist)
        first = due(patient, "LITHIUM")
        renal = due(patient, "CREATININE")
    assert (first.due_on, first.latest, first.reason) == (START + 5 * DAY, START + 7 * DAY, "5 days after the start")
    assert (renal.due_on, renal.reason) == (START, "baseline")

    with travel(START + 5 * DAY):
        enter(patient, psychiatrist, "LITHIUM", "0.7", "mmol/L")
        maintenance = due(patient, "LITHIUM")
    # At least every 2-3 months (label): due from 2 months, overdue after 3.
    assert (maintenance.due_on, maintenance.latest) == (START + 65 * DAY, START + 95 * DAY)

    with travel(START + 40 * DAY):
        prescribing.change_dose(rx, actor=psychiatrist, dose_mg=Decimal(450), reason=ChangeReason.INEFFECTIVE)
        after_change = due(patient, "LITHIUM")
    assert (after_change.due_on, after_change.reason) == (START + 45 * DAY, "5 days after the dose change")

    with travel(START + 43 * DAY):  # too early to show the new steady state
        enter(patient, psychiatrist, "LITHIUM", "0.8", "mmol/L")
        assert due(patient, "LITHIUM").due_on == START + 45 * DAY
    with travel(START + 48 * DAY):
        assert due(patient, "LITHIUM").status == "overdue"
        enter(patient, psychiatrist, "LITHIUM", "0.9", "mmol/L")
        assert due(patient, "LITHIUM").due_on == START + (48 + 60) * DAY


def test_a_dose_decrease_also_restarts_the_lithium_level(patient, psychiatrist):
    with travel(START):
        rx = start_lithium(patient, psychiatrist)
    with travel(START + 5 * DAY):
        enter(patient, psychiatrist, "LITHIUM", "1.3", "mmol/L")
        assert due(patient, "LITHIUM").due_on == START + 10 * DAY  # a high level: re-check in 5 days
    with travel(START + 6 * DAY):
        prescribing.change_dose(rx, actor=psychiatrist, dose_mg=Decimal(150), reason=ChangeReason.SIDE_EFFECT)
        # The decrease is the action on it: the level is timed from the new dose's steady state.
        assert due(patient, "LITHIUM").due_on == START + 11 * DAY


def test_starting_or_stopping_an_nsaid_on_lithium_makes_a_level_due(patient, psychiatrist):
    with travel(START):
        start_lithium(patient, psychiatrist)
    with travel(START + 5 * DAY):
        enter(patient, psychiatrist, "LITHIUM", "0.7", "mmol/L")
    with travel(START + 20 * DAY):
        nsaid = start(patient, psychiatrist, "ibuprofen", "400", "400", "tid", day=START + 20 * DAY)
        started = due(patient, "LITHIUM")
        enter(patient, psychiatrist, "LITHIUM", "0.9", "mmol/L", START + 20 * DAY)
    assert (started.due_on, started.reason) == (START + 25 * DAY, "after an interacting medicine started or stopped")
    with travel(START + 26 * DAY):
        enter(patient, psychiatrist, "LITHIUM", "1.0", "mmol/L")
    with travel(START + 30 * DAY):
        prescribing.discontinue(nsaid, actor=psychiatrist, reason=ChangeReason.NO_LONGER_NEEDED)
        assert due(patient, "LITHIUM").due_on == START + 35 * DAY


def test_lithium_ecg_only_over_40(patient, psychiatrist, patient2):
    patient2.date_of_birth = datetime.date(1980, 3, 1)
    patient2.save(update_fields=["date_of_birth"])
    with travel(START):
        start_lithium(patient, psychiatrist)  # 35
        start_lithium(patient2, patient2.primary_psychiatrist)  # 45
        assert due(patient, "QTC") is None
        assert due(patient2, "QTC").due_on == START


def test_snri_blood_pressure_after_a_dose_increase_only(patient, psychiatrist):
    with travel(START):
        rx = start(patient, psychiatrist, "venlafaxine", "37.5", "37.5", "bid")
        assert due(patient, "SBP").reason == "baseline"
        enter(patient, psychiatrist, "BP", "120/78", "mmHg")
        assert due(patient, "SBP") is None  # no periodic BP in MON-SNRI
    with travel(START + 10 * DAY):
        # Same daily dose, once a day: not an increase.
        prescribing.change_dose(rx, actor=psychiatrist, dose_mg=Decimal(75), frequency="qd", reason=ChangeReason.OTHER)
        assert due(patient, "SBP") is None
    with travel(START + 20 * DAY):
        prescribing.change_dose(rx, actor=psychiatrist, dose_mg=Decimal(150), reason=ChangeReason.INEFFECTIVE)
        after = due(patient, "SBP")
    assert (after.due_on, after.latest, after.reason) == (
        START + 48 * DAY,
        START + 62 * DAY,
        "28 days after the dose increase",
    )
    with travel(START + 40 * DAY):
        enter(patient, psychiatrist, "BP", "126/80", "mmHg")  # from 2 weeks after the change counts
        assert due(patient, "SBP") is None


def test_stimulant_bp_and_heart_rate_at_baseline_and_after_any_dose_change(patient, psychiatrist):
    with travel(START):
        rx = start(patient, psychiatrist, "methylphenidate", "10", "10", "bid")
        assert {d.test.code for d in monitoring.due_items(patient)} == {"SBP", "HR"}
        enter(patient, psychiatrist, "BP", "118/72", "mmHg")
        enter(patient, psychiatrist, "HR", "72", "bpm")
        assert monitoring.due_items(patient) == []
    with travel(START + 14 * DAY):
        prescribing.change_dose(rx, actor=psychiatrist, dose_mg=Decimal(5), reason=ChangeReason.SIDE_EFFECT)
        assert {d.test.code: d.due_on for d in monitoring.due_items(patient)} == {
            "SBP": START + 42 * DAY,
            "HR": START + 42 * DAY,
        }


def test_carbamazepine_level_is_rechecked_3_to_5_weeks_after_starting(patient, psychiatrist):
    with travel(START):
        start(patient, psychiatrist, "carbamazepine", "200", "200", "bid")
        level = due(patient, "CARBAMAZEPINE")
    assert (level.due_on, level.latest) == (START + 21 * DAY, START + 35 * DAY)
    with travel(START + 30 * DAY):
        assert due(patient, "CARBAMAZEPINE").status == "due"
        enter(patient, psychiatrist, "CARBAMAZEPINE", "8", "µg/mL")
        assert due(patient, "CARBAMAZEPINE") is None


def test_lamotrigine_schedules_nothing_but_keeps_its_advice(patient, psychiatrist):
    with travel(START):
        rx = start(patient, psychiatrist, "lamotrigine", "25", "25")
        assert monitoring.due_items(patient) == []
    ((profile, drugs),) = monitoring.not_scheduled_for([rx])
    assert (profile.code, drugs) == ("MON-LTG", ["lamotrigine"])
    assert "rash" in profile.not_scheduled[0]["text"]


def test_two_profiles_on_one_test_make_one_item(patient, psychiatrist):
    with travel(START):
        start_lithium(patient, psychiatrist)
        start(patient, psychiatrist, "olanzapine", "5", "5")
        weights = [d for d in monitoring.due_items(patient) if d.test.code == "WEIGHT"]
    assert len(weights) == 1
    assert (weights[0].profiles, weights[0].drugs) == (["MON-AP", "MON-LI"], ["lithium", "olanzapine"])


def test_stopping_the_drug_ends_its_schedule(patient, psychiatrist):
    with travel(START):
        rx = start(patient, psychiatrist, "clozapine", "25", "25")
        assert due(patient, "ANC") is not None
        prescribing.discontinue(
            rx, actor=psychiatrist, reason=ChangeReason.SIDE_EFFECT, abrupt_stop_justification="Neutropenia"
        )
        assert monitoring.due_items(patient) == []


# -- The psychiatrist's list ----------------------------------------------------------------------


def test_due_for_psychiatrist_lists_only_open_items_of_their_patients_in_two_queries(
    patient, patient2, psychiatrist, django_assert_num_queries
):
    with travel(START):
        start(patient, psychiatrist, "clozapine", "25", "25")
        start(patient2, patient2.primary_psychiatrist, "clozapine", "25", "25")
        others = [factories.PatientFactory(primary_psychiatrist=psychiatrist) for _ in range(4)]
        for other in others:
            start_lithium(other, psychiatrist)
            enter(other, psychiatrist, "ANC", "2000", "/µL")
    with travel(START + 10 * DAY), django_assert_num_queries(2):
        listed = monitoring.due_for_psychiatrist(psychiatrist)

    assert {d.patient for d in listed} == {patient, *others}
    assert all(d.status in ("overdue", "due") for d in listed)
    assert listed[0].status == "overdue"
    assert patient2 not in {d.patient for d in listed}


# -- Patient reminders -----------------------------------------------------------------------------


def test_reminders_are_phi_free_and_planned_once_per_test_due_date_and_channel(patient, psychiatrist):
    with travel(START):
        start(patient, psychiatrist, "methylphenidate", "10", "10", "bid")
        first = monitoring.plan_lab_reminders()
        again = monitoring.plan_lab_reminders()

    # BP and heart rate at baseline, in the portal and by email (SMS is off by default).
    assert len(first) == 4 and again == []
    rows = Notification.objects.filter(kind=Notification.Kind.LAB_DUE)
    assert {(r.recipient, r.channel) for r in rows} == {(patient.user, "in_app"), (patient.user, "email")}
    assert {r.idempotency_key.rsplit(":", 1)[0] for r in rows} == {
        f"lab-due:{patient.pk}:SBP:20260105",
        f"lab-due:{patient.pk}:HR:20260105",
    }

    email = rows.filter(channel="email").first()
    message = outbox_messages.render_message(email)
    text = f"{message.subject} {message.text} {message.html}".lower()
    assert "you have a check-up test due" in text
    assert "http://testserver/my/" in message.text or message.text.count("/my/") == 1
    for secret in ("methylphenidate", "blood pressure", "pulse", "alice", patient.legal_last_name.lower()):
        assert secret not in text
    assert outbox_messages.message_context(email, absolute=False)["details_url"] == "/my/"
    in_app = rows.filter(channel="in_app").first()
    assert outbox_messages.in_app_text(in_app) == (
        "You have a check-up test due. Your home page says which one.",
        "/my/",
    )


def test_no_reminder_for_upcoming_items_or_patients_without_a_login(patient, psychiatrist):
    no_login = factories.PatientFactory(primary_psychiatrist=psychiatrist)
    with travel(START):
        start(patient, psychiatrist, "clozapine", "25", "25")
        start(no_login, psychiatrist, "clozapine", "25", "25")
        enter(patient, psychiatrist, "ANC", "2000", "/µL")
        enter(patient, psychiatrist, "WEIGHT", "70", "kg")
        enter(patient, psychiatrist, "WAIST", "80", "cm")
        enter(patient, psychiatrist, "BP", "120/80", "mmHg")
        enter(patient, psychiatrist, "HBA1C", "5.2", "%")
        enter(patient, psychiatrist, "LDL_C", "100", "mg/dL")
        assert monitoring.plan_lab_reminders() == []
    with travel(START + 7 * DAY):
        (row,) = [r for r in monitoring.plan_lab_reminders() if r.channel == "in_app"]
    assert row.idempotency_key == f"lab-due:{patient.pk}:ANC:20260112:in_app"


def test_the_periodic_task_plans_reminders(patient, psychiatrist):
    from clinic.celery import app
    from clinic.schedules import PERIODIC_TASKS
    from medications.tasks import plan_lab_reminders

    assert PERIODIC_TASKS["Plan lab reminders"]["task"] == "medications.tasks.plan_lab_reminders"
    assert "medications.tasks.plan_lab_reminders" in app.tasks
    with travel(START):
        start(patient, psychiatrist, "methylphenidate", "10", "10", "bid")
        assert plan_lab_reminders() == 4
        assert plan_lab_reminders() == 0
