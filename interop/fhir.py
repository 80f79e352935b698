"""Titrate's records as FHIR R4 resources, following US Core where a profile exists (docs/api.md).

Pure mapping: every function takes rows already read (and already scoped by the caller through
``interop.smart.Grant.patients``) and returns a JSON-ready dict. Nothing here queries the database,
so a page of resources costs the queries its selector made (interop.search), whatever the page holds.

Dose history (docs/api.md, "MedicationRequest and dose history"): one MedicationRequest per start or
dose change (a PrescriptionEvent). The newest one of an active prescription is ``active``; an older
one is ``stopped`` with the reason "dose changed", and the request that replaced it points back to it
through ``priorPrescription``; the last one of a discontinued prescription is ``stopped`` with the
discontinuation reason. All requests of one prescription share ``groupIdentifier`` (the course).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from interop import codes
from medications.models import ChangeReason, Frequency, Route, dose_text

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
NPI = "http://hl7.org/fhir/sid/us-npi"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
MEDREQ_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"

# The statuses of a dose-bearing prescription event: starts and dose changes.
DOSE_EVENTS = ("started", "dose_changed")


def instant(value: datetime.datetime) -> str:
    return timezone.localtime(value, datetime.UTC).isoformat(timespec="seconds")


def day(value: datetime.date) -> str:
    return value.isoformat()


def number(value: Decimal) -> float | int:
    value = Decimal(value).normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def ref(resource_type: str, pk, display: str = "") -> dict:
    reference = {"reference": f"{resource_type}/{pk}"}
    if display:
        reference["display"] = display
    return reference


def system_uri(base_url: str, name: str) -> str:
    """Titrate's own code systems and identifier systems, under the portal's address."""
    return f"{base_url.rstrip('/')}/fhir/sid/{name}"


def _meta(last_updated: datetime.datetime, profile: str | None = None) -> dict:
    meta = {"lastUpdated": instant(last_updated)}
    if profile:
        meta["profile"] = [US_CORE + profile]
    return meta


# -- People ---------------------------------------------------------------------------------------

GENDER = {"female": "female", "male": "male", "intersex": "other", "unknown": "unknown"}
BIRTH_SEX = {"female": "F", "male": "M"}


def patient(record, *, base_url: str) -> dict:
    names = [{"use": "official", "family": record.legal_last_name, "given": [record.legal_first_name]}]
    if record.preferred_name:
        names.append({"use": "usual", "family": record.legal_last_name, "given": [record.preferred_name]})
    resource = {
        "resourceType": "Patient",
        "id": str(record.pk),
        "meta": _meta(record.created_at, "us-core-patient"),
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "system": system_uri(base_url, "mrn"),
                "value": record.mrn,
            }
        ],
        "active": record.is_active,
        "name": names,
        "gender": GENDER.get(record.sex, "unknown"),
        "birthDate": day(record.date_of_birth),
        "extension": [
            {
                "url": US_CORE + "us-core-birthsex",
                "valueCode": BIRTH_SEX.get(record.sex, "UNK"),
            }
        ],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": record.preferred_language}]}}],
    }
    telecom = []
    if record.phone:
        telecom.append({"system": "phone", "value": str(record.phone), "use": "mobile"})
    if record.email:
        telecom.append({"system": "email", "value": record.email})
    if telecom:
        resource["telecom"] = telecom
    if record.address_line1 or record.city:
        address = {"country": record.country}
        lines = [line for line in (record.address_line1, record.address_line2) if line]
        if lines:
            address["line"] = lines
        for key, value in (("city", record.city), ("state", record.region), ("postalCode", record.postal_code)):
            if value:
                address[key] = value
        resource["address"] = [address]
    if record.primary_psychiatrist_id:
        resource["generalPractitioner"] = [ref("Practitioner", record.primary_psychiatrist_id)]
    return resource


def practitioner(user) -> dict:
    name = {"family": user.last_name or user.email, "given": [user.first_name] if user.first_name else []}
    if not name["given"]:
        del name["given"]
    if user.credentials:
        name["suffix"] = [user.credentials]
    resource = {
        "resourceType": "Practitioner",
        "id": str(user.pk),
        "meta": _meta(user.date_joined, "us-core-practitioner"),
        "active": user.is_active,
        "name": [name],
    }
    if user.npi:
        resource["identifier"] = [{"system": NPI, "value": user.npi}]
    return resource


def care_team(record) -> dict:
    """One care team per patient: the primary psychiatrist and those sharing care. Uses
    ``record.primary_psychiatrist`` and ``record.care_team.all()`` (prefetched by the caller)."""
    participants = []
    if record.primary_psychiatrist_id:
        participants.append(
            {
                "role": [{"text": "Primary psychiatrist"}],
                "member": ref("Practitioner", record.primary_psychiatrist_id, str(record.primary_psychiatrist)),
            }
        )
    for member in record.care_team.all():
        if member.pk != record.primary_psychiatrist_id:
            participants.append(
                {"role": [{"text": "Shares care"}], "member": ref("Practitioner", member.pk, str(member))}
            )
    resource = {
        "resourceType": "CareTeam",
        "id": str(record.pk),
        "meta": _meta(record.created_at, "us-core-careteam"),
        "status": "active" if record.is_active else "inactive",
        "name": "Psychiatric care team",
        "subject": ref("Patient", record.pk),
    }
    if participants:
        resource["participant"] = participants
    return resource


# -- Problems and allergies -----------------------------------------------------------------------


def condition(diagnosis) -> dict:
    resource = {
        "resourceType": "Condition",
        "id": str(diagnosis.pk),
        "meta": _meta(diagnosis.recorded_at, "us-core-condition-problems-health-concerns"),
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": diagnosis.status}]},
        "verificationStatus": {"coding": [{"system": CONDITION_VERIFICATION, "code": "confirmed"}]},
        "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item"}]}],
        "code": {
            "coding": [{"system": codes.ICD10CM, "code": diagnosis.icd10_code, "display": diagnosis.description}],
            "text": diagnosis.description,
        },
        "subject": ref("Patient", diagnosis.patient_id),
        "recordedDate": instant(diagnosis.recorded_at),
        "recorder": ref("Practitioner", diagnosis.recorded_by_id),
    }
    if diagnosis.onset_date:
        resource["onsetDateTime"] = day(diagnosis.onset_date)
    if diagnosis.resolved_date:
        resource["abatementDateTime"] = day(diagnosis.resolved_date)
    return resource


CRITICALITY = {"mild": "low", "moderate": "low", "severe": "high", "anaphylaxis": "high"}
REACTION_SEVERITY = {"mild": "mild", "moderate": "moderate", "severe": "severe", "anaphylaxis": "severe"}


def allergy(row) -> dict:
    resource = {
        "resourceType": "AllergyIntolerance",
        "id": str(row.pk),
        "meta": _meta(row.recorded_at, "us-core-allergyintolerance"),
        "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active" if row.is_active else "inactive"}]},
        # Recorded as the patient describes it, not confirmed by a challenge test.
        "verificationStatus": {"coding": [{"system": ALLERGY_VERIFICATION, "code": "unconfirmed"}]},
        "criticality": CRITICALITY.get(row.severity, "unable-to-assess"),
        "code": {"text": row.substance},
        "patient": ref("Patient", row.patient_id),
        "recordedDate": instant(row.recorded_at),
        "recorder": ref("Practitioner", row.recorded_by_id),
    }
    coding = codes.rxnorm_coding(row.medication)
    if coding:
        resource["code"]["coding"] = coding
    if row.medication_id or row.drug_class:
        resource["category"] = ["medication"]
    if row.reaction:
        resource["reaction"] = [
            {"manifestation": [{"text": row.reaction}], "severity": REACTION_SEVERITY.get(row.severity, "moderate")}
        ]
    return resource


# -- Medicines ------------------------------------------------------------------------------------


def medication_concept(medication, text: str = "") -> dict:
    concept = {"text": text or medication.generic_name}
    coding = codes.rxnorm_coding(medication)
    if coding:
        concept["coding"] = coding
    return concept


# Timing of each Frequency (medications.models.Frequency): (times, period, unit, when).
TIMING = {
    "qd": (1, 1, "d", None),
    "qam": (1, 1, "d", "MORN"),
    "qhs": (1, 1, "d", "HS"),
    "bid": (2, 1, "d", None),
    "tid": (3, 1, "d", None),
    "qid": (4, 1, "d", None),
    "qod": (1, 2, "d", None),
    "qwk": (1, 1, "wk", None),
    "q2wk": (1, 2, "wk", None),
    "q4wk": (1, 4, "wk", None),
}


def dosage(dose_mg: Decimal, frequency: str, route_label: str, extra: str = "") -> dict:
    times, period, unit, when = TIMING[frequency]
    repeat = {"frequency": times, "period": period, "periodUnit": unit}
    if when:
        repeat["when"] = [when]
    text = f"{dose_text(dose_mg)} {Frequency(frequency).label} {route_label}".strip()
    if extra:
        text = f"{text}, {extra}"
    return {
        "text": text,
        "timing": {"repeat": repeat},
        "route": {"text": route_label},
        "doseAndRate": [{"doseQuantity": {"value": number(dose_mg), "unit": "mg", "system": codes.UCUM, "code": "mg"}}],
    }


def medication_requests(prescription, events, *, base_url: str) -> list[dict]:
    """Every start and dose change of one prescription as linked MedicationRequests (module doc).
    ``events`` are the prescription's events in order (prefetched by the caller)."""
    # Newest by id, as interop.search's status filter decides it (the order they were recorded).
    dose_events = sorted((event for event in events if event.kind in DOSE_EVENTS), key=lambda event: event.pk)
    resources = []
    previous = None
    route = Route(prescription.route).label
    for position, event in enumerate(dose_events):
        newest = position == len(dose_events) - 1
        if newest and prescription.status == "active":
            status, reason = "active", None
        elif newest:
            why = ChangeReason(prescription.discontinue_reason).label if prescription.discontinue_reason else ""
            status, reason = "stopped", why or "Discontinued"
        else:
            status, reason = "stopped", "Dose changed"
        frequency = event.to_frequency or prescription.frequency
        resource = {
            "resourceType": "MedicationRequest",
            "id": str(event.pk),
            "meta": _meta(event.created_at, "us-core-medicationrequest"),
            "status": status,
            "intent": "order",
            "category": [{"coding": [{"system": MEDREQ_CATEGORY, "code": "community"}]}],
            "reportedBoolean": False,
            "medicationCodeableConcept": medication_concept(prescription.medication),
            "subject": ref("Patient", prescription.patient_id),
            "authoredOn": instant(event.created_at),
            "requester": ref("Practitioner", event.actor_id),
            "groupIdentifier": {"system": system_uri(base_url, "prescription"), "value": str(prescription.pk)},
            "dosageInstruction": [
                dosage(event.to_dose_mg, frequency, route, prescription.extra_instructions if position == 0 else "")
            ],
            "dispenseRequest": {"validityPeriod": {"start": day(event.effective_date)}},
        }
        if reason:
            resource["statusReason"] = {"text": reason}
        if event.reason:
            # Why this start or change was made (the indication is reasonReference).
            resource["note"] = [{"text": f"Reason for this dose: {ChangeReason(event.reason).label}"}]
        if prescription.indication_id:
            resource["reasonReference"] = [ref("Condition", prescription.indication_id)]
        if position == 0:
            resource["dispenseRequest"].update(
                {
                    "quantity": {"value": prescription.quantity},
                    "numberOfRepeatsAllowed": prescription.refills,
                }
            )
        if previous is not None:
            resource["priorPrescription"] = ref("MedicationRequest", previous.pk)
        if status == "stopped" and not newest:
            resource["dispenseRequest"]["validityPeriod"]["end"] = day(dose_events[position + 1].effective_date)
        elif status == "stopped" and prescription.end_date:
            resource["dispenseRequest"]["validityPeriod"]["end"] = day(prescription.end_date)
        resources.append(resource)
        previous = event
    return resources


def medication_statement(row) -> dict:
    resource = {
        "resourceType": "MedicationStatement",
        "id": str(row.pk),
        "meta": _meta(row.confirmed_at or row.recorded_at),
        "status": "active" if row.is_active else "stopped",
        "medicationCodeableConcept": medication_concept(row.medication, row.name)
        if row.medication_id
        else {"text": row.name},
        "subject": ref("Patient", row.patient_id),
        "dateAsserted": instant(row.recorded_at),
        "informationSource": ref("Patient", row.patient_id)
        if row.patient_reported
        else ref("Practitioner", row.recorded_by_id),
    }
    period = {}
    if row.start_date:
        period["start"] = day(row.start_date)
    if row.stopped_on:
        period["end"] = day(row.stopped_on)
    if period:
        resource["effectivePeriod"] = period
    if row.dose_text:
        resource["dosage"] = [{"text": row.dose_text}]
    if row.source:
        resource["note"] = [{"text": f"Source: {row.source}"}]
    return resource


# -- Scores, answers and measurements -------------------------------------------------------------

INSTRUMENT_SYSTEM = "instrument"


def _instrument_concept(instrument, *, base_url: str) -> dict:
    loinc, display = codes.total_loinc(instrument.code)
    concept = {
        "coding": [
            {"system": system_uri(base_url, INSTRUMENT_SYSTEM), "code": instrument.code, "display": instrument.name}
        ],
        "text": f"{instrument.name} {instrument.total_label.lower()}",
    }
    if loinc:
        concept["coding"].insert(0, {"system": codes.LOINC, "code": loinc, "display": display})
    return concept


def score_observation(response, *, base_url: str) -> dict:
    """A questionnaire's total as an Observation (US Core screening assessment)."""
    instrument = response.definition
    return {
        "resourceType": "Observation",
        "id": f"qr-{response.pk}",
        "meta": _meta(response.submitted_at, "us-core-observation-screening-assessment"),
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey"}]},
        ],
        "code": _instrument_concept(instrument, base_url=base_url),
        "subject": ref("Patient", response.patient_id),
        "effectiveDateTime": instant(response.submitted_at),
        "issued": instant(response.submitted_at),
        "performer": [
            ref("Patient", response.patient_id)
            if response.context == "portal"
            else ref("Practitioner", response.completed_by_id)
        ],
        "valueQuantity": {"value": response.total, "unit": "{score}", "system": codes.UCUM, "code": "{score}"},
        "interpretation": [{"text": response.band_label}],
        "derivedFrom": [ref("QuestionnaireResponse", response.pk)],
    }


FLAG = {"normal": "N", "low": "L", "high": "H", "critical": "AA"}


def lab_observation(result) -> dict:
    test = codes.test_code(result.test_code)
    name = test.display if test else result.test_code
    concept = {"text": name}
    if test and test.loinc:
        concept["coding"] = [{"system": codes.LOINC, "code": test.loinc, "display": test.display}]
    category = test.category if test else "laboratory"
    unit = test.ucum if test else result.canonical_unit
    profile = "us-core-observation-lab" if category == "laboratory" else None
    resource = {
        "resourceType": "Observation",
        "id": f"lab-{result.pk}",
        "meta": _meta(result.created_at, profile),
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": category}]}],
        "code": concept,
        "subject": ref("Patient", result.patient_id),
        "effectiveDateTime": day(result.collected_on),
        "issued": instant(result.created_at),
        "performer": [ref("Practitioner", result.entered_by_id)],
        "valueQuantity": {
            "value": number(result.canonical_value),
            "unit": result.canonical_unit,
            "system": codes.UCUM,
            "code": unit,
        },
    }
    if result.flag in FLAG:
        resource["interpretation"] = [
            {"coding": [{"system": INTERPRETATION, "code": FLAG[result.flag]}], "text": result.get_flag_display()}
        ]
    if result.note:
        resource["note"] = [{"text": result.note}]
    return resource


def _answer(instrument, item, value, label: str, base_url: str) -> dict:
    """One answer as FHIR: the LOINC answer code of a scored PHQ/GAD frequency item, else Titrate's
    own code of the value, else the text. A response's answer and its Questionnaire's option
    (``_answer_option``) are built here alike, so they always match."""
    loinc_answer = codes.answer_loinc(instrument.code, value) if item.scored else None
    if loinc_answer:
        return {"valueCoding": {"system": codes.LOINC, "code": loinc_answer, "display": label}}
    if isinstance(value, int):
        system = system_uri(base_url, f"answers-{instrument.code}")
        return {"valueCoding": {"system": system, "code": str(value), "display": label}}
    return {"valueString": label}


def questionnaire_response(response, *, base_url: str) -> dict:
    instrument = response.definition
    items = []
    for item, label in response.item_rows():
        answer = _answer(instrument, item, response.answers[item.key], label, base_url)
        entry = {"linkId": item.key, "text": item.text, "answer": [answer]}
        item_code = codes.item_loinc(instrument.code, item.key)
        if item_code:
            entry["definition"] = f"http://loinc.org/{item_code}"
        items.append(entry)
    items.append({"linkId": "total", "text": instrument.total_label, "answer": [{"valueInteger": response.total}]})
    resource = {
        "resourceType": "QuestionnaireResponse",
        "id": str(response.pk),
        "meta": _meta(response.submitted_at),
        "identifier": {"system": system_uri(base_url, "questionnaire-response"), "value": str(response.pk)},
        "questionnaire": questionnaire_url(instrument.code, base_url),
        "status": "completed",
        "subject": ref("Patient", response.patient_id),
        "authored": instant(response.submitted_at),
        "author": ref("Patient", response.patient_id)
        if response.context == "portal"
        else ref("Practitioner", response.completed_by_id),
        "item": items,
    }
    if response.language != "en":
        resource["language"] = response.language
    return resource


# -- Schedule -------------------------------------------------------------------------------------

APPOINTMENT_STATUS = {
    "scheduled": "booked",
    "confirmed": "booked",
    "checked_in": "checked-in",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
}


def appointment(row) -> dict:
    resource = {
        "resourceType": "Appointment",
        "id": str(row.pk),
        "meta": _meta(row.cancelled_at or row.created_at),
        "status": APPOINTMENT_STATUS[row.status],
        "serviceType": [{"text": row.appointment_type.name}],
        "start": instant(row.start),
        "end": instant(row.end),
        "minutesDuration": int((row.end - row.start).total_seconds() // 60),
        "created": instant(row.created_at),
        "participant": [
            {"actor": ref("Patient", row.patient_id), "status": "accepted"},
            {"actor": ref("Practitioner", row.psychiatrist_id), "status": "accepted"},
        ],
    }
    if row.cancel_reason:
        resource["cancelationReason"] = {"text": row.cancel_reason}
    return resource


# -- Questionnaire --------------------------------------------------------------------------------

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"


def questionnaire_id(code: str) -> str:
    """An instrument's Questionnaire id: its code with "-" for "_" (FHIR ids allow no underscore)."""
    return code.replace("_", "-")


def questionnaire_url(code: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/fhir/Questionnaire/{questionnaire_id(code)}"


def _answer_option(instrument, item, option, base_url: str) -> dict:
    """The answer a QuestionnaireResponse carries for this option (``_answer``), with the option's
    points as its ordinal value when the item is scored."""
    answer = _answer(instrument, item, option.value, option.label, base_url)
    if item.scored:
        answer["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": option.points}]
    return answer


def questionnaire(instrument, *, base_url: str) -> dict:
    """An instrument as the Questionnaire its responses name (``questionnaire_response``): items,
    answer options with their codes and points, and the total, in English (a Spanish response keeps
    its own text in each item)."""
    items = []
    for item in instrument.items:
        entry = {"linkId": item.key, "text": item.text, "type": "choice", "required": item.required}
        item_code = codes.item_loinc(instrument.code, item.key)
        if item_code:
            entry["code"] = [{"system": codes.LOINC, "code": item_code}]
        entry["answerOption"] = [_answer_option(instrument, item, option, base_url) for option in item.options]
        items.append(entry)
    items.append({"linkId": "total", "text": instrument.total_label, "type": "integer", "readOnly": True})
    resource = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(instrument.code),
        "url": questionnaire_url(instrument.code, base_url),
        "name": "".join(ch for ch in instrument.name if ch.isalnum()),
        "title": instrument.title,
        "status": "active",
        "subjectType": ["Patient"],
        "language": "en",
        "item": items,
    }
    for key, value in (("description", instrument.stem), ("copyright", instrument.copyright)):
        if value:
            resource[key] = value
    panel = codes.panel_loinc(instrument.code)
    if panel:
        resource["code"] = [{"system": codes.LOINC, "code": panel, "display": instrument.title}]
    return resource
