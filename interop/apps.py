from django.apps import AppConfig


class InteropConfig(AppConfig):
    """Data that travels: the FHIR R4 read API with SMART on FHIR (docs/api.md) and the codes
    (LOINC, UCUM, RxNorm) that let other systems read Titrate's records."""

    name = "interop"
    verbose_name = "Interoperability (FHIR API)"
