"""Every Form and ModelForm the project defines, for the tests that check all of them (the date
policy, text limits): every module of our apps is imported, so a form declared in a views module
is found as well as one in a forms module."""

from __future__ import annotations

import importlib
import pkgutil

from django import forms

APPS = ("clinic", "patients", "medications", "appointments", "notifications", "records")


def _import_all() -> None:
    for app in APPS:
        package = importlib.import_module(app)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{app}."):
            if ".migrations" in info.name or info.name.endswith(("settings", "settings_test", "wsgi", "asgi")):
                continue
            importlib.import_module(info.name)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def project_forms() -> list[tuple[str, type[forms.BaseForm]]]:
    """(dotted name, class) of every concrete form class declared in our apps."""
    _import_all()
    found = {
        f"{cls.__module__}.{cls.__qualname__}": cls
        for cls in _subclasses(forms.BaseForm)
        if cls.__module__.split(".")[0] in APPS and hasattr(cls, "base_fields")
    }
    return sorted(found.items())
