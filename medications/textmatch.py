"""Text normalisation and negation scope for triage (medications.triage, medications.crisis_language).

Patients write the way they talk: curly apostrophes, "dont", "im", "wanna", "kms", no full
stops. ``normalize`` maps all of that onto one plain form (lower case, contractions expanded,
"n't" -> " not") so each rule is written once. ``is_negated`` is a small NegEx-style check:
a cue ("no", "not", "never", "denies", "without", ...) shortly before a match, in the same
clause, with no new subject in between, negates it — "no fever", "denies thoughts of
self-harm", "I'm not suicidal" — while pseudo-negations ("not sure", "can't stop",
"never thought I would") do not.
"""

from __future__ import annotations

# Pattern tables: one regular expression per line reads better than one split across lines.
# ruff: noqa: E501
import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

_QUOTES = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'", "\u201c": '"', "\u201d": '"'}
)

# Whole-word replacements, applied after lower-casing and apostrophe folding. Order matters
# only where one key contains another; all are matched as whole words.
_WORDS = {
    "can't": "can not", "cant": "can not", "cannot": "can not",
    "won't": "will not", "wont": "will not", "ain't": "is not", "aint": "is not",
    "shan't": "shall not",
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "isnt": "is not", "arent": "are not",
    "wasnt": "was not", "werent": "were not", "havent": "have not", "hasnt": "has not", "hadnt": "had not",
    "wouldnt": "would not", "shouldnt": "should not", "couldnt": "could not", "mustnt": "must not",
    "i'm": "i am", "im": "i am", "i've": "i have", "ive": "i have", "i'd": "i would", "i'll": "i will",
    "you're": "you are", "youre": "you are", "they're": "they are", "we're": "we are",
    "it's": "it is", "that's": "that is", "thats": "that is", "there's": "there is",
    "what's": "what is", "he's": "he is", "she's": "she is",
    "wanna": "want to", "gonna": "going to", "gotta": "got to", "tryna": "trying to", "gunna": "going to",
    "kms": "kill myself", "kys": "kill yourself", "unalive": "kill", "unaliving": "killing",
    "sewerslide": "suicide", "sucide": "suicide", "suiside": "suicide", "suicde": "suicide",
    "sucidal": "suicidal", "suisidal": "suicidal", "suicdal": "suicidal",
    "od'd": "overdosed", "oded": "overdosed", "od'ed": "overdosed", "odd'd": "overdosed",
    "u": "you", "ur": "your", "cuz": "because", "bc": "because", "coz": "because", "cos": "because",
    "ngl": "not going to lie", "tbh": "to be honest", "idk": "i do not know", "rn": "right now",
    "my self": "myself", "me self": "myself", "selfharm": "self harm",
    "hrs": "hours", "hr": "hour",
}  # fmt: skip
_WORD_RE = re.compile(r"(?<![\w'])(" + "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True)) + r")(?![\w'])")
_OD = re.compile(r"\b(an|to|going to|i|just|had|he|she|they|might|will|would|want to|wanna) od\b")
_NT = re.compile(r"(\w)n't\b")
_HAS = re.compile(r"\b(he|she|it|that|there|who|what) is (got|been|had|not been|not had|never been|never had)\b")
_KEEP = re.compile(r"[^a-z0-9'.,!?;:\n ]+")
_SPACES = re.compile(r"[ \t]+")


def normalize(text: str) -> str:
    """Lower case, plain apostrophes, contractions expanded, symbols dropped, spaces collapsed."""
    text = (text or "").translate(_QUOTES).lower()
    text = text.replace("-", " ").replace("/", " / ")
    text = _KEEP.sub(" ", text.replace("/", " "))
    text = _SPACES.sub(" ", text)
    text = _WORD_RE.sub(lambda m: _WORDS[m.group(1)], text)
    # "OD" is also "once daily" on a label ("400 mg od"): an overdose only after words like "an", "to", "I".
    text = _OD.sub(
        lambda m: (
            f"{m.group(1)} {'overdosed' if m.group(1) in ('i', 'just', 'had', 'he', 'she', 'they') else 'overdose'}"
        ),
        text,
    )
    text = _NT.sub(r"\1 not", text)
    text = re.sub(r"\bca not\b", "can not", text)  # "can't" after the n't rule
    text = re.sub(r"\bwo not\b", "will not", text)
    # "he's got a temperature", "she's been sick": "'s" before a participle is "has", not "is".
    text = _HAS.sub(r"\1 has \2", text)
    text = text.replace("'", "")  # possessives and leftovers: "mom's" -> "moms"
    return _SPACES.sub(" ", text).strip()


# -- Clauses and negation -------------------------------------------------------------------------

# Sentence ends and contrast words end a negation's reach: "no fever but a rash".
_CLAUSE_BREAK = re.compile(r"[.!?;:\n]+|\b(?:but|however|although|though|except|apart from|yet|whereas|still)\b")
# A new subject ends it too: "I don't know, I want to die" / "not sleeping and I want to die".
_SUBJECT_BREAK = re.compile(
    r"(?:,|\band\b|\bso\b|\bbecause\b|\bsince\b|\bthen\b|\bnow\b|\bjust\b|\bwhen\b|\bif\b)\s+(?:i|im|ive)\b"
    # A carer's next statement: "he can't bend his arms, he's got a temperature".
    r"|(?:,|\band\b|\bnow\b)\s+(?:he|she|they) (?:is|has|had|was|got|keeps|started|feels|says)\b"
    r"|\b(?:because|since|so that|which|cause)\b|,\s*(?:and\s+)?(?:i|but)\b"
    # "can't pee and my stomach hurts": a new noun phrase after "and" starts a new statement.
    r"|\band (?:my|the|his|her|their|now|then|also|it|this|that)\b"
    # "can't swallow, my tongue is stuck": a comma and a new noun phrase too.
    r"|,\s*(?:my|the|his|her|their)\b"
    # "if things don't get better I'll kill myself": a new "I will / I want" is a new statement.
    r"|\bi (?:will|would|am going to|might|may|could|should|want|wanna|feel like|need)\b"
    # "didn't sleep and drank, then I collapsed": what happened next is a new statement.
    r"|(?:,\s*|\band\s+)(?:then|after that|afterwards|later)\b"
)
_NEGATION = re.compile(
    r"\b(?:no|not|never|without|denies|denied|deny|denying|none|nor|neither|negative for|free of|absence of"
    r"|nothing like|zero|ruled out|rule out)\b"
)
# Look like negation, are not: "not sure I want to live", "can't stop shaking", "never thought I'd
# want to die", "not going to lie". Blanked out before the cue search.
_PSEUDO = re.compile(
    r"\b(?:not (?:sure|certain|positive|confident|going to lie|gonna lie|to lie|only|just|that sure)"
    r"|(?:can|could|will|would) not (?:stop|help|shake|get rid of|seem to stop|keep|promise|guarantee|say)"
    # Inability is a symptom, not a denial: "can't swallow, tongue stuck", "can't pee and it hurts".
    r"|(?:can|could) not (?:swallow|breathe|pee|urinate|wee|poop|poo|move|bend|straighten|lift|open|close|walk|stand|talk|speak|see"
    r"|wake|stay awake|keep (?:food|anything|water|fluids) down|go to the (?:toilet|bathroom))"
    r"|(?:do|did|does) not (?:know|think i can|care|see (?:a|any|the) (?:point|reason|way))"
    r"|never (?:thought|imagined|expected|believed)(?: that)? i"
    r"|no (?:doubt|matter|one|body|way out|longer able|choice|other way|point|reason|hope|future|one cares)"
    r"|not (?:able to stop|stop)"
    # A change in the person is a symptom, not a denial: "she's not herself, very sleepy".
    r"|not (?:himself|herself|myself|themselves|yourself|making (?:any )?sense|with it|right in the head|all there)"
    r"|nothing (?:helps|works|matters|left)"
    r"|no longer (?:able|see|care|have (?:a|any) (?:reason|will|hope)))\b"
)
_HYPOTHETICAL = re.compile(
    r"\b(?:if i (?:ever )?(?:get|got|develop|notice|see|have|had|start)|in case|what if|what (?:should|do|would) i do if|what happens if|watch(?:ing)? (?:out )?for"
    r"|look(?:ing)? out for|warned (?:me )?(?:about|of)|told (?:me )?(?:to )?(?:watch|look) (?:out )?for"
    r"|should i (?:get|develop)|risk of|chance of|possible side effects?|side effects? (?:include|like|such as)"
    r"|leaflet|read (?:that|about)|worried (?:about|that) (?:getting|i might)|afraid of getting|in the past"
    # Questions about a picture, not a report of it: "what are the signs of serotonin syndrome?",
    # "what kind of rash should I look out for?", "I read something about it".
    r"|(?:what|which) (?:are|is) (?:the )?(?:signs?|symptoms?|warning signs?) of|signs? (?:and symptoms )?to look (?:out )?for"
    r"|(?:what|which) (?:kind|sort|type)s? of|how (?:do|would|will|can) i (?:know|tell|spot|recogni[sz]e)"
    r"|(?:read|heard|seen|saw) (?:something|a lot|stuff|things|an article|a post|online) (?:about|on|regarding)|(?:read|heard) (?:up )?on)\b"
)
# "suicidal thoughts: none", "rash? no", "self harm - denied" (a form-like answer after the match).
# Past history is not a current symptom or a current crisis: "I used to be suicidal years ago".
_HISTORY = re.compile(
    r"\b(?:used to|in the past|years ago|long ago|as a (?:kid|child|teen|teenager)|when i was (?:younger|little|a (?:kid|child|teen|teenager)|in (?:school|college|high school))"
    r"|history of|previously)\b"
)
_POST_HISTORY = re.compile(
    r"^(?:\s*[a-z]+){0,3}?\s+(?:years ago|in the past|as a (?:kid|child|teen|teenager)|when i was (?:younger|little|a (?:kid|child|teen|teenager)))\b"
)
_POST_RESOLVED = re.compile(
    r"^(?:\s*[a-z]+){0,2}?\s+(?:have|has|had|are|is)?\s*(?:gone away|went away|stopped|resolved|disappeared|gone|passed|settled|eased off|are better|got better)\b"
)
_POST_NEGATION = re.compile(
    r"^(?:\s*[a-z]+){0,2}?\s*(?:[:=?]|\b(?:was|is|are|were)\b)\s*(?:no|none|denied|negative|nil|absent|nope)\b"
    r"(?!\s+(?:one|body|way|point|reason|longer|more|hope|future))"
    r"|^(?:\s*[a-z]+){0,2}?\s+(?:denied|none|absent)\b"
)
WINDOW_WORDS = 7


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


@lru_cache(maxsize=8)
def _clause_breaks(text: str) -> tuple[tuple[int, int], ...]:
    # Every match in a report asks for its clause: find the breaks once per text, not once per match.
    return tuple((m.start(), m.end()) for m in _CLAUSE_BREAK.finditer(text))


def clause_start(text: str, position: int) -> int:
    """Where the clause holding ``position`` starts."""
    breaks = _clause_breaks(text)
    index = bisect.bisect_right(breaks, (position, position)) - 1
    # A break counts only if it lies wholly before ``position`` (as a search that stops there finds it).
    while index >= 0 and breaks[index][1] > position:
        index -= 1
    return breaks[index][1] if index >= 0 else 0


def _window(text: str, start: int, words: int) -> tuple[str, int]:
    """The last ``words`` words of the clause before ``start`` (text, offset)."""
    begin = clause_start(text, start)
    before = text[begin:start]
    tokens = list(re.finditer(r"\S+", before))
    if len(tokens) > words:
        offset = tokens[-words].start()
        before = before[offset:]
        begin += offset
    return before, begin


def is_negated(text: str, start: int, end: int, *, words: int = WINDOW_WORDS, hypothetical: bool = True) -> bool:
    """True if the match text[start:end] is negated (or, with ``hypothetical``, only imagined)."""
    before, _ = _window(text, start, words)
    cleaned = _PSEUDO.sub(lambda m: "_" * len(m.group()), before)
    cues = list(_NEGATION.finditer(cleaned))
    if cues:
        tail = cleaned[cues[-1].end() :]
        if not _SUBJECT_BREAK.search(tail):
            return True
    if hypothetical and _HYPOTHETICAL.search(cleaned):
        tail = cleaned[list(_HYPOTHETICAL.finditer(cleaned))[-1].end() :]
        if not _SUBJECT_BREAK.search(tail):
            return True
    history = list(_HISTORY.finditer(cleaned))
    if (
        history
        and not _SUBJECT_BREAK.search(cleaned[history[-1].end() :])
        and not _NOW.search(cleaned[history[-1].end() :])
    ):
        return True
    after = text[end : end + 40]
    return bool(_POST_NEGATION.match(after) or _POST_HISTORY.match(after) or _POST_RESOLVED.match(after))


_NOW = re.compile(r"\b(?:now|again|today|tonight|lately|recently|these days|this week|back)\b")


# Someone else's symptom: "my friend had a seizure", "my sister's skin is peeling". The report is about
# them only if no first-person word follows the cue before the match ("my friend saw me fit" is ours).
# "He", "she", a parent, a child or a partner are not cues: a carer may be writing about the patient
# ("he's burning up and stiff all over").
_THIRD_PERSON = re.compile(
    r"\b(?:(?:my|our|a|the|his|her|their) (?:\w+ )?(?:friends?|brother|sister|cousin|aunt|uncle|grandma|grandmother|grandad|"
    r"grandfather|neighbou?r|colleague|coworker|roommate|flatmate|nan|gran|dog|cat)s?|someone|somebody|everyone|people|"
    r"a patient)\b"
)
_FIRST_PERSON = re.compile(r"\b(?:i|me|my|myself|mine|im)\b")
# A relative is the patient when the report ties them to the medicine or says it is written for them
# ("my grandma is on lithium and...", "my brother, who takes clozapine, ...", "writing for my uncle"):
# a carer's report about them is theirs, not a bystander's.
_RELATIVE = r"(brother|sister|cousin|aunt|uncle|grandma|grandmother|grandad|grandfather|nan|gran)s?"
_CARED_FOR = re.compile(
    r"\b(?:my|our) (?:\w+ )?" + _RELATIVE + r",? (?:\d+ (?:yo |years old |year old )?)?(?:who |that )?"
    r"(?:is |was |has been |had been |is still |just )?(?:on|taking|takes|takes his|takes her|gets|getting|uses|using|"
    r"started on|was started on|put on|prescribed|(?:medication|medicine|meds|tablets|pills|dose|injection)s?)\b"
    r"|\b(?:writing|messaging|asking|here|calling|reporting) (?:for|about|on behalf of) (?:my|our) (?:\w+ )?"
    + _RELATIVE
)


@lru_cache(maxsize=8)
def _cared_for(text: str) -> frozenset[str]:
    return frozenset(m.group(1) or m.group(2) for m in _CARED_FOR.finditer(text))


def is_third_person(text: str, start: int, end: int) -> bool:
    """True if the clause before text[start:end] makes someone else the subject of the match."""
    before, _ = _window(text, start, WINDOW_WORDS)
    cared_for = _cared_for(text)
    cues = [cue for cue in _THIRD_PERSON.finditer(before) if not set(re.findall(r"\w+", cue.group())) & cared_for]
    return bool(cues) and not _FIRST_PERSON.search(before[cues[-1].end() :] + " " + text[start:end])


def find_affirmed(pattern: re.Pattern, text: str, *, others: bool = False, **options) -> list[Span]:
    """Every match of ``pattern`` in (normalised) ``text`` that is not negated (nor, unless
    ``others``, about someone else)."""
    return [
        Span(m.start(), m.end(), m.group())
        for m in pattern.finditer(text)
        if not is_negated(text, m.start(), m.end(), **options)
        and (others or not is_third_person(text, m.start(), m.end()))
    ]
