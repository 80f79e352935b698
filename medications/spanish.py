"""Spanish in the triage engine (issue 17): normalisation, negation, idioms, crisis language and
the red-flag concepts, all from medications/data/lexicon_es.json (each entry with its sources).

medications.triage runs this lexicon on EVERY report next to the English one, whatever language
the report is detected as (medications.language only picks what the patient is shown): a
misdetected or mixed ("Spanglish") report never loses a red flag. The Spanish patterns use the
SAME concept names as red_flags.json, so one rule ("fever + stiffness + confusion") fires on
"fiebre, rigidez y confusión", on "fever and rigidez", or on the English words alone.

Negation is NegEx-style, as in medications.textmatch, with Spanish cues ("no", "sin", "ni",
"niega", "ningún", "nada de"), pseudo-negations whose "no" is the symptom or the risk ("no puedo
respirar", "no se me baja", "no sé si quiero seguir viviendo"), hypotheticals ("si me sale…",
"por si acaso", "me dijeron que vigilara…") and history ("hace años", "de niña"). Idioms ("me
muero de risa", "matarme estudiando") are removed before the crisis patterns run.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from medications import formulary, textmatch

LEXICON_FILE = Path(__file__).resolve().parent / "data" / "lexicon_es.json"
# The same order and categories as medications.crisis_language.ORDER.
CRISIS_ORDER = (
    "suicidal",
    "goodbye",
    "command_hallucination",
    "self_harm",
    "harm_others",
    "passive",
    "overdose",
    "poisoning",
)
# Only "I took…" / "the child swallowed…" statements honour hypotheticals ("¿qué pasa si me tomo
# dos?" is a question); "si no mejoro me mato" is still crisis language.
_HYPOTHETICAL_OK = {"overdose", "poisoning"}
# In crisis language a negation ends at the first comma after the word it denies: "casi no como,
# ya hice mi plan" denies eating, not the plan. (Symptom lists keep the comma inside the scope:
# "sin fiebre, tos ni dolor" denies all three.)
_CRISIS_NEGATION_END = re.compile(r"\b(?:no|nunca|sin|ni|ya no|tampoco|jamas)(?: \w+){1,4}\s*,")

_KEEP = re.compile(r"[^a-z0-9.,!?;:\n ]+")
_SPACES = re.compile(r"[ \t]+")
_REPEATS = re.compile(r"([a-z])\1{2,}")  # "ayudaaaa" -> "ayuda"
_GROUP = re.compile(r"\{([a-z_]+)\}")


def fold(text: str) -> str:
    """Lower case without accents or tildes: "Sé", "se" and "SE" compare equal, as patients type them."""
    decomposed = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class Lexicon:
    spellings: re.Pattern
    spelling_map: dict[str, str]
    concepts: dict[str, re.Pattern]
    crisis: dict[str, tuple[re.Pattern, ...]]
    idioms: re.Pattern
    cue: re.Pattern
    pseudo: re.Pattern
    hypothetical: re.Pattern
    history: re.Pattern
    now: re.Pattern
    clause_break: re.Pattern
    subject_break: re.Pattern
    third_person: re.Pattern
    first_person: re.Pattern
    post_negation: re.Pattern
    post_resolved: re.Pattern
    post_history: re.Pattern
    window_words: int
    drug_names: re.Pattern
    drug_map: dict[str, str]


def _compile(pattern: str, groups: dict[str, str]) -> re.Pattern:
    expanded = _GROUP.sub(lambda m: {"w": r"\w+", "d": r"\d+"}.get(m.group(1)) or groups[m.group(1)], pattern)
    return re.compile(rf"(?<!\w)(?:{expanded})(?!\w)")


def _alternation(patterns: list[str], groups: dict[str, str]) -> re.Pattern:
    return _compile("|".join(f"(?:{p})" for p in patterns), groups)


def _medicine_names(data: dict) -> str:
    """Medicine names a patient may write instead of "pastillas" ("tomé 10 de adderall"): the
    Spanish names in the lexicon and the formulary's generic and brand names (5+ letters)."""
    names = {fold(name) for name in data["drug_names"]}
    names |= {fold(name) for name in formulary.names().index if len(name.replace(" ", "")) >= 5}
    names = {" ".join(_KEEP.sub(" ", name.replace("-", " ").replace("/", " ")).split()) for name in names}
    return "(?:" + "|".join(sorted(map(re.escape, filter(None, names)), key=len, reverse=True)) + ")"


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    data = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
    groups = {**data["groups"], "drug": _medicine_names(data)}
    groups = {name: _GROUP.sub(lambda m: groups.get(m.group(1), m.group(0)), value) for name, value in groups.items()}
    for entry in [*data["concepts"].values(), *data["crisis"].values()]:
        missing = [key for key in entry["sources"] if key not in data["sources"]]
        if missing:
            raise ValueError(f"lexicon_es.json names unknown sources {missing}")
    neg = data["negation"]
    spellings = {fold(key): value for key, value in data["spellings"].items() if fold(key) != value}
    return Lexicon(
        spellings=re.compile(
            r"(?<!\w)(" + "|".join(sorted(map(re.escape, spellings), key=len, reverse=True)) + r")(?!\w)"
        ),
        spelling_map=spellings,
        concepts={name: _alternation(entry["patterns"], groups) for name, entry in data["concepts"].items()},
        crisis={name: tuple(_compile(p, groups) for p in entry["patterns"]) for name, entry in data["crisis"].items()},
        idioms=_alternation(data["idioms"]["patterns"], groups),
        cue=_compile(neg["cues"], groups),
        pseudo=_compile(neg["pseudo"], groups),
        hypothetical=_compile(neg["hypothetical"], groups),
        history=_compile(neg["history"], groups),
        now=_compile(neg["now"], groups),
        clause_break=re.compile(neg["clause_break"]),
        subject_break=re.compile(neg["subject_break"]),
        third_person=_compile(neg["third_person"], groups),
        first_person=_compile(neg["first_person"], groups),
        post_negation=re.compile(neg["post_negation"]),
        post_resolved=re.compile(neg["post_resolved"]),
        post_history=re.compile(neg["post_history"]),
        window_words=int(neg["window_words"]),
        drug_names=re.compile(
            r"(?<!\w)(" + "|".join(sorted(map(re.escape, data["drug_names"]), key=len, reverse=True)) + r")(?!\w)"
        ),
        drug_map=data["drug_names"],
    )


def normalize(text: str) -> str:
    """Folded (no accents), texting spellings expanded ("xq" -> "porque", "nose" -> "no se"),
    symbols dropped ("¿", "¡", emoji), spaces collapsed."""
    lex = lexicon()
    text = fold(text).replace("-", " ").replace("/", " ")
    text = _KEEP.sub(" ", text)
    text = _REPEATS.sub(r"\1", text)
    text = _SPACES.sub(" ", text)
    text = lex.spellings.sub(lambda m: lex.spelling_map[m.group(1)], text)
    return _SPACES.sub(" ", text).strip()


# -- Negation ----------------------------------------------------------------------------------


def _window(norm: str, start: int, words: int) -> str:
    """The last ``words`` words of the clause before ``start``."""
    begin = 0
    for match in lexicon().clause_break.finditer(norm, 0, start):
        begin = match.end()
    tokens = norm[begin:start].split()
    return " ".join(tokens[-words:]) + (" " if tokens else "")


# A match that opens with one of these after "y" or a comma starts a new statement ("no hago pipí y
# me duele la panza"); intent verbs are not among them ("no quiero matarme" stays denied).
_NEW_SUBJECT_HEADS = frozenset({"me", "yo", "mi", "mis"})


def _reaches(pattern: re.Pattern, cleaned: str, head: str = "") -> bool:
    """A cue of ``pattern`` in the window that no new subject separates from the match. ``head``
    is the match's first word: "no hago pipí y me duele la panza" starts a new statement at "me"."""
    hits = list(pattern.finditer(cleaned))
    return bool(hits) and not lexicon().subject_break.search(cleaned[hits[-1].end() :] + head)


def is_negated(norm: str, start: int, end: int, *, hypothetical: bool = True, comma_ends: bool = False) -> bool:
    """True if norm[start:end] is denied ("no tengo fiebre"), only imagined ("si me sale un
    sarpullido") or past history ("de niña me cortaba") — never for pseudo-negations. With
    ``comma_ends`` a negation's scope stops at the comma after the word it denies."""
    lex = lexicon()
    before = _window(norm, start, lex.window_words)
    if comma_ends:
        ended = list(_CRISIS_NEGATION_END.finditer(before))
        before = before[ended[-1].end() :] if ended else before
    cleaned = lex.pseudo.sub(lambda m: "_" * len(m.group()), before)
    head = norm[start:end].split(" ", 1)[0]
    head = head if head in _NEW_SUBJECT_HEADS else ""
    if _reaches(lex.cue, cleaned, head) or (hypothetical and _reaches(lex.hypothetical, cleaned, head)):
        return True
    history = list(lex.history.finditer(cleaned))
    if history and _reaches(lex.history, cleaned, head) and not lex.now.search(cleaned[history[-1].end() :]):
        return True
    after = norm[end : end + 40]
    return bool(lex.post_negation.match(after) or lex.post_resolved.match(after) or lex.post_history.match(after))


def is_third_person(norm: str, start: int, end: int) -> bool:
    """True if the clause before norm[start:end] makes someone else (a friend, a pet) the subject
    of the match and no first-person word follows ("mi amiga dice que me veo amarilla" is ours)."""
    lex = lexicon()
    before = _window(norm, start, lex.window_words)
    cues = list(lex.third_person.finditer(before))
    return bool(cues) and not lex.first_person.search(before[cues[-1].end() :] + " " + norm[start:end])


# -- Matching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrisisHit:
    category: str
    phrase: str


def _fold_in_place(text: str) -> str:
    """``fold`` one character at a time, so offsets still point into the original text."""
    out = []
    for ch in text.lower():
        folded = fold(ch)
        out.append(folded if len(folded) == 1 else ch)
    return "".join(out)


class Reading:
    """A report read with the Spanish lexicon. Phrases come back in the patient's own spelling
    ("no sé si quiero seguir viviendo"), so the reason quotes their words, accents included."""

    def __init__(self, text: str):
        self.text = text or ""
        self.norm = normalize(self.text)
        self._folded = _fold_in_place(self.text)

    def original(self, phrase: str) -> str:
        """``phrase`` (normalised) as the patient wrote it; the normalised form if a spelling was
        expanded on the way ("xq" -> "porque")."""
        tokens = phrase.split()
        if tokens:
            found = re.search(r"(?<!\w)" + r"[^a-z0-9]+".join(map(re.escape, tokens)) + r"(?!\w)", self._folded)
            if found:
                return self.text[found.start() : found.end()]
        return phrase

    def concept_spans(self, offset: int = 0) -> dict[str, list[textmatch.Span]]:
        """Every red-flag concept with affirmed Spanish phrases -> their spans in the Spanish
        normal form, moved by ``offset`` (so they never overlap the English reading's spans), with
        the text in the patient's own spelling."""
        found = {}
        for name, pattern in lexicon().concepts.items():
            spans = [
                textmatch.Span(m.start() + offset, m.end() + offset, self.original(m.group()))
                for m in pattern.finditer(self.norm)
                if not is_negated(self.norm, m.start(), m.end()) and not is_third_person(self.norm, m.start(), m.end())
            ]
            if spans:
                found[name] = spans
        return found

    def concepts(self) -> dict[str, list[str]]:
        """Every red-flag concept with affirmed Spanish phrases -> those phrases."""
        return {name: [span.text for span in spans] for name, spans in self.concept_spans().items()}

    def mentioned_generics(self) -> list[str]:
        """Formulary generic names of the medicines named in Spanish ("desde que empecé la
        lamotrigina"), unless denied ("ya no tomo litio")."""
        lex, norm = lexicon(), self.norm
        found = [
            lex.drug_map[m.group(1)]
            for m in lex.drug_names.finditer(norm)
            if not is_negated(norm, m.start(), m.end(), hypothetical=False)
        ]
        return list(dict.fromkeys(found))

    def crisis(self) -> list[CrisisHit]:
        """One hit per crisis category (the first affirmed phrase), in ``CRISIS_ORDER``."""
        lex, norm = lexicon(), self.norm
        idioms = [(m.start(), m.end()) for m in lex.idioms.finditer(norm)]
        hits = []
        for category in CRISIS_ORDER:
            for pattern in lex.crisis[category]:
                match = next(
                    (
                        m
                        for m in pattern.finditer(norm)
                        if not any(s <= m.start() < e or s < m.end() <= e for s, e in idioms)
                        and not is_negated(
                            norm, m.start(), m.end(), hypothetical=category in _HYPOTHETICAL_OK, comma_ends=True
                        )
                    ),
                    None,
                )
                if match:
                    hits.append(CrisisHit(category, self.original(match.group().strip())))
                    break
        return hits


def has_crisis_language(text: str) -> bool:
    """For pages that must show crisis resources before a report is saved."""
    return bool(Reading(text).crisis())
