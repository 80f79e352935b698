"""The layers of docs/architecture.md, beyond what import-linter checks (.importlinter, run by
`make lint`): every module is either in a layer or part of the interface, and foreign keys point
down the layers of the models."""

from __future__ import annotations

import configparser
import fnmatch
import pkgutil
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("clinic", "patients", "medications", "appointments", "notifications", "records", "demo", "interop")
# The interface: may read any domain module, imported by none (docs/architecture.md, "Layers").
INTERFACE = (
    "*.views",
    "*_views",
    "*.urls",
    "*_urls",
    "*.forms",
    "*_forms",
    "*.admin",
    "*.apps",
    "*.tasks",
    "*.templatetags*",
    "*.management*",
    "*.migrations*",
    "clinic.settings*",
    "clinic.wsgi",
    "clinic.asgi",
    "clinic.celery",
    "clinic.schedules",
    # /healthz and check_health: read the whole stack (outbox, beat's tables, the workers).
    "clinic.health",
    "clinic.adapters",
    "clinic.context_processors",
    # Page selectors: what one page reads, across domains, after the view's access check.
    "clinic.dashboard",
    "patients.chart",
    "patients.timeline",
    "patients.measure_charts",
    "patients.rows",
    "medications.inbox",
    "patients.after_visit",
    # The downloadable record's builders: like the print views, they render our HTML across domains.
    "records.builders",
    "demo*",
)
# The layer of each app's models, as in .importlinter: clinic.models and patients.models share the
# lowest layer (the core's access rules and audit trail are about a patient); medications' and
# appointments' models sit in their apps' layers. A model may point at its own layer or a lower one.
MODEL_LAYER = {"clinic": 0, "patients": 0, "medications": 1, "appointments": 2, "records": 3}


def layered_modules() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = config["importlinter:contract:layers"]["layers"].strip().splitlines()
    return {name.strip().strip("()") for layer in layers for name in layer.replace("|", ":").split(":")}


def our_modules() -> set[str]:
    found = set()
    for package in PACKAGES:
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            found.add(info.name)
    return found


def test_every_module_is_in_a_layer_or_the_interface():
    layered = layered_modules()
    unplaced = {
        module
        for module in our_modules()
        if module not in layered and not any(fnmatch.fnmatch(module, pattern) for pattern in INTERFACE)
    }
    assert not unplaced, f"Add these to a layer in .importlinter, or to INTERFACE if they are interface: {unplaced}"


def test_every_layered_module_exists():
    missing = {name for name in layered_modules() if name not in our_modules()}
    assert not missing, f".importlinter names modules that do not exist: {missing}"


# Relations that must point up a layer, each with why ("app.Model.field -> app.Model": reason).
# None since issue 15. The test fails when a new one appears and when one listed here is gone.
FK_EXCEPTIONS: dict[str, str] = {}


def upward_relations() -> set[str]:
    found = set()
    for model in apps.get_models():
        source = model._meta.app_label
        if source not in MODEL_LAYER:
            continue
        for field in model._meta.get_fields():
            if not field.is_relation or field.auto_created or field.related_model is None:
                continue
            target = field.related_model._meta.app_label
            if target in MODEL_LAYER and MODEL_LAYER[target] > MODEL_LAYER[source]:
                found.add(f"{model._meta.label}.{field.name} -> {field.related_model._meta.label}")
    return found


def test_foreign_keys_point_down_the_app_order():
    upward = upward_relations()
    assert upward - FK_EXCEPTIONS.keys() == set(), "A model points up a layer (docs/architecture.md)"
    assert FK_EXCEPTIONS.keys() - upward == set(), "Fixed: remove these from FK_EXCEPTIONS"
