"""Starting, titrating, changing and stopping prescriptions through medications.prescribing."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.models import AuditEvent
from medications import formulary, prescribing
from medications.models import ChangeReason, DosePlan, Prescription, PrescriptionEvent
from medications.prescribing import PlanStepInput
from tests import factories

pytestmark = pytest.mark.django_db
D = Decimal


def test_start_writes_prescription_history_and_audit(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, dose="50", strength="50")

    assert rx.sig == "Take 1 tablet (50 mg) by mouth once daily in the morning."
    assert rx.daily_dose_mg == D(50)
    event = rx.events.get()
    assert (event.kind, event.to_dose_mg, event.reason, event.actor) == ("started", D(50), "new_start", psychiatrist)
    audit = AuditEvent.objects.get(action=AuditEvent.Action.CREATE, object_type="medications.Prescription")
    assert (audit.patient, audit.actor, audit.object_id) == (patient, psychiatrist, str(rx.pk))


@pytest.mark.parametrize(
    ("dose", "strength", "frequency", "extra", "sig"),
    [
        ("12.5", "25", "qhs", "", "Take ½ tablet (12.5 mg) by mouth once daily at bedtime."),
        ("75", "50", "bid", "with food", "Take 1½ tablets (75 mg) by mouth twice daily, with food."),
        ("30", "7", "qd", "", "Take 30 mg by mouth once daily."),
    ],
)
def test_sig_is_plain_language(dose, strength, frequency, extra, sig):
    assert (
        prescribing.generate_sig(
            form="tablet", strength_mg=D(strength), dose_mg=D(dose), frequency=frequency, route="oral", extra=extra
        )
        == sig
    )


def test_dose_change_history_is_complete_after_a_sequence(patient, psychiatrist, psychiatrist2):
    rx = factories.start(patient, psychiatrist, start_date=datetime.date(2026, 1, 5))
    steps = [
        (D(50), ChangeReason.INEFFECTIVE, psychiatrist, datetime.date(2026, 1, 19)),
        (D(100), ChangeReason.INEFFECTIVE, psychiatrist2, datetime.date(2026, 2, 16)),
        (D(75), ChangeReason.SIDE_EFFECT, psychiatrist, datetime.date(2026, 3, 2)),
    ]
    for dose, reason, actor, day in steps:
        prescribing.change_dose(rx, actor=actor, dose_mg=dose, reason=reason, effective_date=day, note=f"to {dose}")

    history = list(rx.events.filter(kind="dose_changed").order_by("effective_date"))
    assert [(e.from_dose_mg, e.to_dose_mg) for e in history] == [(D(25), D(50)), (D(50), D(100)), (D(100), D(75))]
    assert [e.reason for e in history] == ["ineffective", "ineffective", "side_effect"]
    assert [e.actor for e in history] == [psychiatrist, psychiatrist2, psychiatrist]
    assert [e.effective_date for e in history] == [s[3] for s in steps]
    rx.refresh_from_db()
    assert rx.dose_mg == D(75)
    assert rx.sig == "Take 1½ tablets (75 mg) by mouth once daily in the morning."


def test_history_rows_cannot_be_rewritten(patient, psychiatrist):
    event = factories.start(patient, psychiatrist).events.get()
    event.note = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()


def test_titration_plan_steps_are_confirmed_one_at_a_time(patient, psychiatrist):
    start = datetime.date(2026, 3, 1)
    rx = factories.start(
        patient,
        psychiatrist,
        start_date=start,
        titration_steps=[PlanStepInput(D(25), 7), PlanStepInput(D(50), 14), PlanStepInput(D(100), None)],
    )
    plan = rx.plans.get()
    assert plan.current_step.dose_mg == D(25)
    assert plan.next_step.dose_mg == D(50)
    assert plan.next_step_due == datetime.date(2026, 3, 8)

    prescribing.confirm_next_step(plan, actor=psychiatrist, effective_date=datetime.date(2026, 3, 10))
    plan.refresh_from_db()
    rx.refresh_from_db()
    assert rx.dose_mg == D(50)
    # Due from when the step was actually confirmed, not from the original schedule.
    assert plan.next_step_due == datetime.date(2026, 3, 24)

    prescribing.confirm_next_step(plan, actor=psychiatrist, effective_date=datetime.date(2026, 3, 24))
    plan.refresh_from_db()
    rx.refresh_from_db()
    assert (rx.dose_mg, plan.status, plan.next_step) == (D(100), DosePlan.Status.COMPLETED, None)
    reasons = list(rx.events.filter(kind="dose_changed").values_list("reason", flat=True))
    assert reasons == ["titration_step", "titration_step"]
    with pytest.raises(ValidationError):
        prescribing.confirm_next_step(plan, actor=psychiatrist)


def test_taper_ends_in_a_discontinuation_with_the_planned_reason(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="lorazepam", dose="1", strength="1", frequency="bid")
    plan = prescribing.start_taper(
        rx,
        actor=psychiatrist,
        steps=[PlanStepInput(D("0.5"), 7), PlanStepInput(D("0.25"), 7), PlanStepInput(D(0), None)],
        stop_reason=ChangeReason.NO_LONGER_NEEDED,
    )
    rx.refresh_from_db()
    assert rx.dose_mg == D("0.5")

    prescribing.confirm_next_step(plan, actor=psychiatrist)
    prescribing.confirm_next_step(plan, actor=psychiatrist)

    rx.refresh_from_db()
    plan.refresh_from_db()
    assert (rx.status, rx.discontinue_reason, plan.status) == ("discontinued", "no_longer_needed", "completed")
    kinds = list(rx.events.values_list("kind", "to_dose_mg"))
    assert kinds == [
        ("started", D(1)),
        ("plan_created", D(0)),
        ("dose_changed", D("0.5")),
        ("dose_changed", D("0.25")),
        ("discontinued", D(0)),
    ]


def test_drug_that_must_not_stop_abruptly_needs_a_taper_or_a_reason(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="clonazepam", dose="0.5", strength="0.5", frequency="bid")
    assert rx.medication.taper_required

    with pytest.raises(ValidationError) as excinfo:
        prescribing.discontinue(rx, actor=psychiatrist, reason=ChangeReason.SIDE_EFFECT)
    assert "should not be stopped abruptly" in str(excinfo.value)
    assert Prescription.objects.get(pk=rx.pk).is_active

    prescribing.discontinue(
        rx, actor=psychiatrist, reason=ChangeReason.SIDE_EFFECT, abrupt_stop_justification="Paradoxical agitation."
    )
    rx.refresh_from_db()
    assert rx.status == "discontinued"
    assert "Stopped without taper: Paradoxical agitation." in rx.events.get(kind="discontinued").note


def test_drug_without_taper_need_stops_directly(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="buspirone", dose="7.5", strength="7.5", frequency="bid")

    prescribing.discontinue(rx, actor=psychiatrist, reason=ChangeReason.INEFFECTIVE)

    assert Prescription.objects.get(pk=rx.pk).status == "discontinued"


def test_second_active_prescription_of_a_drug_is_refused(patient, psychiatrist):
    factories.start(patient, psychiatrist)

    with pytest.raises(ValidationError) as excinfo:
        factories.start(patient, psychiatrist, dose="50", strength="50")
    assert "already has an active sertraline prescription" in str(excinfo.value)
    assert Prescription.objects.filter(patient=patient).count() == 1


def test_restart_after_discontinuation_is_allowed(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="buspirone", dose="5", strength="5")
    prescribing.discontinue(rx, actor=psychiatrist, reason=ChangeReason.PATIENT_PREFERENCE)

    again = factories.start(patient, psychiatrist, drug="buspirone", dose="5", strength="5")

    assert again.pk != rx.pk
    assert Prescription.objects.filter(patient=patient, medication__generic_name="buspirone").count() == 2


def test_database_constraint_holds_even_without_the_domain_check(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)
    duplicate = Prescription(
        patient=patient,
        medication=rx.medication,
        prescriber=psychiatrist,
        form="tablet",
        strength_mg=D(50),
        dose_mg=D(50),
        quantity=30,
        sig="x",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dose", "0", "The dose must be more than 0 mg."),
        ("quantity", 0, "Quantity must be between 1 and 1000."),
        ("quantity", 5000, "Quantity must be between 1 and 1000."),
        ("refills", 12, "At most 11 refills."),
    ],
)
def test_course_validation(patient, psychiatrist, field, value, message):
    kwargs = {"dose": "25", "quantity": 30, "refills": 0}
    kwargs[field] = value
    with pytest.raises(ValidationError) as excinfo:
        prescribing.validate_course(
            medication=factories.medication("sertraline"),
            dose_mg=D(kwargs["dose"]),
            strength_mg=D(25),
            quantity=kwargs["quantity"],
            refills=kwargs["refills"],
            start_date=datetime.date(2026, 1, 1),
            end_date=None,
        )
    assert message in str(excinfo.value)


def test_schedule_ii_prescriptions_have_no_refills(patient, psychiatrist):
    with pytest.raises(ValidationError, match="Schedule II: refills are not allowed"):
        factories.start(patient, psychiatrist, drug="methylphenidate", dose="10", strength="10", refills=2)


def test_change_to_zero_or_same_dose_is_refused(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist)
    with pytest.raises(ValidationError, match="more than 0 mg"):
        prescribing.change_dose(rx, actor=psychiatrist, dose_mg=D(0), reason=ChangeReason.SIDE_EFFECT)
    with pytest.raises(ValidationError, match="nothing would change"):
        prescribing.change_dose(rx, actor=psychiatrist, dose_mg=D(25), reason=ChangeReason.STABLE)
    assert rx.events.count() == 1


def test_discontinued_prescription_cannot_change(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, drug="buspirone", dose="5", strength="5")
    prescribing.discontinue(rx, actor=psychiatrist, reason=ChangeReason.INEFFECTIVE)
    with pytest.raises(ValidationError, match="discontinued"):
        prescribing.change_dose(rx, actor=psychiatrist, dose_mg=D(10), reason=ChangeReason.INEFFECTIVE)


@pytest.mark.parametrize(
    ("steps", "taper", "message"),
    [
        ([PlanStepInput(D(25), 7)], False, "at least two steps"),
        ([PlanStepInput(D(25), None), PlanStepInput(D(50), None)], False, "needs a number of days"),
        ([PlanStepInput(D(50), 7), PlanStepInput(D(25), None)], False, "must go up"),
        ([PlanStepInput(D(1), 7), PlanStepInput(D(2), 7), PlanStepInput(D(0), None)], True, "must go down"),
    ],
)
def test_plan_steps_are_validated(steps, taper, message):
    with pytest.raises(ValidationError, match=message):
        prescribing._validate_steps(steps, taper=taper)


def test_plan_created_event_summarises_the_steps(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, titration_steps=[PlanStepInput(D(25), 7), PlanStepInput(D(50), None)])
    event = rx.events.get(kind=PrescriptionEvent.Kind.PLAN_CREATED)
    assert event.note == "Titration plan: 25 mg × 7 d → 50 mg"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_leave_exactly_one_active_prescription(patient, psychiatrist):
    import threading

    from django.core.management import call_command

    # A transactional test's flush empties tables the data migration filled.
    call_command("load_formulary", verbosity=0)

    from django.db import connection, connections

    from tests.helpers import require_service

    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def prescribe():
        try:
            barrier.wait(timeout=10)
            factories.start(patient, psychiatrist)
            outcomes.append("started")
        except ValidationError:
            outcomes.append("refused")
        except Exception as exc:  # surfaced in the assertion below
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=prescribe) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["refused", "started"]
    assert Prescription.objects.active().filter(patient=patient).count() == 1


def test_dose_change_switches_to_a_stocked_strength_when_counts_get_awkward(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, dose="25", strength="25")

    prescribing.change_dose(rx, actor=psychiatrist, dose_mg=D(50), reason=ChangeReason.INEFFECTIVE)
    rx.refresh_from_db()
    assert (rx.strength_mg, rx.sig) == (D(25), "Take 2 tablets (50 mg) by mouth once daily in the morning.")

    prescribing.change_dose(rx, actor=psychiatrist, dose_mg=D(100), reason=ChangeReason.INEFFECTIVE)
    rx.refresh_from_db()
    assert (rx.strength_mg, rx.sig) == (D(100), "Take 1 tablet (100 mg) by mouth once daily in the morning.")


def test_strength_alone_can_change(patient, psychiatrist):
    rx = factories.start(patient, psychiatrist, dose="50", strength="25")

    prescribing.change_dose(rx, actor=psychiatrist, dose_mg=D(50), strength_mg=D(50), reason=ChangeReason.COST)

    rx.refresh_from_db()
    assert rx.sig == "Take 1 tablet (50 mg) by mouth once daily in the morning."


def test_every_drug_has_a_hard_limit_above_its_labelled_maximum_and_every_stocked_unit():
    """The refusal must never catch a labelled dose (issue 16, item 11): the limit is 3 × the
    highest labelled daily maximum, or the documented basis where the reference gives none."""
    for entry in formulary.read_entries():
        name, limit = entry["generic_name"], Decimal(str(entry["hard_max_mg"]))
        assert entry["hard_max_basis"], name
        if entry["max_mg_per_day"] is not None:
            assert limit >= 3 * Decimal(str(entry["max_mg_per_day"])), name
        strengths = [Decimal(str(s)) for form in entry["forms"] for s in form.get("strengths_mg", [])]
        assert limit >= max(strengths), name


def test_the_loaded_formulary_carries_the_limit(patient, psychiatrist):
    sertraline = factories.medication("sertraline")
    assert (sertraline.hard_max_mg, sertraline.hard_max_basis) == (
        Decimal(600), "3 × the labelled maximum, 200 mg/day",
    )  # fmt: skip
    with pytest.raises(ValidationError, match="above the hard limit for sertraline"):
        factories.start(patient, psychiatrist, dose="601", strength="100")
    rx = factories.start(patient, psychiatrist, dose="50", strength="50")
    with pytest.raises(ValidationError, match="Step 2: 700 mg above the hard limit"):
        prescribing.start_taper(
            rx, actor=psychiatrist, stop_reason=ChangeReason.INEFFECTIVE,
            steps=[PlanStepInput(D(50), 7), PlanStepInput(D(700), 7), PlanStepInput(D(0), None)],
        )  # fmt: skip
