"""The language a patient wrote in: English or Spanish, detected from the text, never chosen.

It decides only what the patient is SHOWN (crisis resources in Spanish, issue 17; the Spanish
portal, issue 22) and the "Written in Spanish" marker on staff pages. Triage never depends on
it: medications.triage runs the English and the Spanish lexicons on every report.

Why a small function-word method and not a library: the portal needs one decision, English or
Spanish, on short patient text, the same answer every time. lingua-language-detector is the most
accurate on short text but its wheel is ~96 MB and loads models into memory; langdetect is
non-deterministic unless seeded; langid/py3langid bring numpy and are weakest on the short texts
patients write. Between these two languages the common function words ("que", "de", "el", "y",
"me" + verb forms; "the", "and", "i", "to") and Spanish-only letters (ñ, ¿, ¡, accented vowels)
separate them on a few words, deterministically and instantly (tests/medications/
test_triage_spanish.py holds the examples). Ties and texts with no signal are English, the
portal's language, and a misdetection costs only the language of a page that also carries the
English numbers.
"""

from __future__ import annotations

import re

from medications import spanish

ENGLISH, SPANISH = "en", "es"

# Words frequent in one language and rare in the other (after accent folding). Shared or
# ambiguous forms ("a", "me", "no", "he", "son", "sin", "fin") are left out.
_SPANISH_TEXT = """
    de la que el en y los se del las un por con una su para es al lo como mas pero sus le ya o
    este si porque esta entre cuando muy sobre tambien hasta hay donde desde todo nos durante
    todos uno les ni otros ese eso esto mi antes algunos unos yo otro otras otra tanto esa estos
    mucho nada muchos poco ella estar estas algunas algo mis tu te ti tus ellas estoy tengo
    siento quiero puedo tomo tome estaba tenia hace dias noche ayer hoy manana pastillas dolor
    cabeza estomago pecho mucha muy siempre nunca ahora despues bien mal mejor peor creo sera fue
    ha han hemos tiene tienen pienso sola solo vida morir aqui ahi asi cosas gracias
    doctora medico medicina hija hijo esposo esposa cuerpo piel ojos boca sangre fiebre vomito
    vomite vomitos mareo mareos mareada mareado garganta panza barriga pastilla
    """
_ENGLISH_TEXT = """
    the and i to of in is it my that was for on with have this be at not but are feel been had
    do dont so you they her his what like when just can after since from or all an took think
    want really very about get got day days night because im ive its am were would could
    should will there their them then than which who how much more some any been being out up
    down off over again still also now today yesterday pills pain head stomach chest since
    """
_SPANISH_WORDS = frozenset(_SPANISH_TEXT.split())
_ENGLISH_WORDS = frozenset(_ENGLISH_TEXT.split())
_WORD = re.compile(r"[a-z]+")
_SPANISH_MARKS = re.compile(r"[ñ¿¡áéíóú]")


def detect(text: str) -> str:
    """ENGLISH or SPANISH for a patient's free text."""
    lowered = (text or "").lower()
    words = _WORD.findall(spanish.fold(lowered).replace("'", ""))
    score = sum(w in _SPANISH_WORDS for w in words) - sum(w in _ENGLISH_WORDS for w in words)
    score += min(len(_SPANISH_MARKS.findall(lowered)), 3)
    return SPANISH if score > 0 else ENGLISH
