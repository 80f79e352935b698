"""Scoring, exactly as published (clinical.md §3): every PHQ-9 and GAD-7 total, each band edge,
the short screens, the ASRS shaded-box rule, the MDQ rule, the AIMS Schooler–Kane rule, item 9,
worsening, and refusal of anything incomplete. Pure code: no database."""

from __future__ import annotations

import itertools

import pytest

from patients import instruments
from patients.instruments import AnswerError, score

# Expected bands written out from the reference, not computed from the code under test.
PHQ9_BAND = (
    dict.fromkeys(range(0, 5), "minimal")
    | dict.fromkeys(range(5, 10), "mild")
    | dict.fromkeys(range(10, 15), "moderate")
    | dict.fromkeys(range(15, 20), "moderately_severe")
    | dict.fromkeys(range(20, 28), "severe")
)
GAD7_BAND = (
    dict.fromkeys(range(0, 5), "minimal")
    | dict.fromkeys(range(5, 10), "mild")
    | dict.fromkeys(range(10, 15), "moderate")
    | dict.fromkeys(range(15, 22), "severe")
)


def answer_sets(items: int, total: int) -> list[dict[str, int]]:
    """Different answer sets (0–3 per item) that add up to ``total``: filled from the first
    item, from the last item, and spread evenly."""
    sets = []
    for order in (range(items), reversed(range(items))):
        values, left = [0] * items, total
        for index in order:
            values[index] = min(3, left)
            left -= values[index]
        assert left == 0
        sets.append(values)
    even = [total // items + (1 if n < total % items else 0) for n in range(items)]
    sets.append(even)
    return [{str(n + 1): v for n, v in enumerate(values)} for values in sets]


@pytest.mark.parametrize("total", range(0, 28))
def test_every_phq9_total_maps_to_its_band(total):
    for answers in answer_sets(9, total):
        result = score("phq9", answers)
        assert (result.total, result.band) == (total, PHQ9_BAND[total])


@pytest.mark.parametrize("total", range(0, 22))
def test_every_gad7_total_maps_to_its_band(total):
    for answers in answer_sets(7, total):
        result = score("gad7", answers)
        assert (result.total, result.band) == (total, GAD7_BAND[total])
        assert result.positive is (total >= 10)


@pytest.mark.parametrize(
    ("total", "band", "label"),
    [
        (0, "minimal", "None–minimal"),
        (4, "minimal", "None–minimal"),
        (5, "mild", "Mild"),
        (9, "mild", "Mild"),
        (10, "moderate", "Moderate"),
        (14, "moderate", "Moderate"),
        (15, "moderately_severe", "Moderately severe"),
        (19, "moderately_severe", "Moderately severe"),
        (20, "severe", "Severe"),
        (27, "severe", "Severe"),
    ],
)
def test_phq9_band_edges(total, band, label):
    result = score("phq9", answer_sets(9, total)[0])
    assert (result.band, result.band_label) == (band, label)


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"), (15, "severe"),
     (21, "severe")],
)  # fmt: skip
def test_gad7_band_edges(total, band):
    assert score("gad7", answer_sets(7, total)[0]).band == band


@pytest.mark.parametrize("code", ["phq2", "gad2"])
@pytest.mark.parametrize(("first", "second"), list(itertools.product(range(4), repeat=2)))
def test_short_screens_are_positive_from_3(code, first, second):
    result = score(code, {"1": first, "2": second})
    assert result.total == first + second
    assert result.positive is (first + second >= 3)
    assert result.band == ("positive" if first + second >= 3 else "negative")


def test_short_screens_ask_the_first_two_items_of_the_full_questionnaire():
    for short, full in (("phq2", "phq9"), ("gad2", "gad7")):
        assert [i.text for i in instruments.get(short).items] == [i.text for i in instruments.get(full).items[:2]]
    assert instruments.FOLLOW_UP == {"phq2": "phq9", "gad2": "gad7"}


# -- PHQ-9 item 9 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "label"), [(1, "Several days"), (2, "More than half the days"), (3, "Nearly every day")]
)
def test_phq9_item_9_above_zero_is_an_emergency_whatever_the_total(value, label):
    answers = dict.fromkeys(map(str, range(1, 9)), 0) | {"9": value}
    result = score("phq9", answers)
    assert result.total == value
    assert result.band == "minimal"
    assert result.triage_level == "emergency"
    assert label in result.triage_reasons[0]


def test_phq9_item_9_at_zero_is_routine_even_when_severe():
    result = score("phq9", dict.fromkeys(map(str, range(1, 9)), 3) | {"9": 0})
    assert (result.total, result.band, result.triage_level, result.triage_reasons) == (24, "severe", "routine", ())


def test_gad7_has_no_item_9_rule():
    assert score("gad7", dict.fromkeys(map(str, range(1, 8)), 3)).triage_level == "routine"


# -- ASRS v1.1 Part A -----------------------------------------------------------------------------

NEVER, RARELY, SOMETIMES, OFTEN, VERY_OFTEN = range(5)


@pytest.mark.parametrize(
    ("answers", "shaded"),
    [
        ([SOMETIMES, SOMETIMES, SOMETIMES, OFTEN, NEVER, NEVER], 4),
        ([SOMETIMES, SOMETIMES, SOMETIMES, SOMETIMES, SOMETIMES, SOMETIMES], 3),  # items 4–6 shade from Often
        ([RARELY, RARELY, RARELY, OFTEN, OFTEN, OFTEN], 3),  # items 1–3 shade from Sometimes
        ([VERY_OFTEN] * 6, 6),
        ([NEVER] * 6, 0),
        ([RARELY, SOMETIMES, VERY_OFTEN, OFTEN, VERY_OFTEN, SOMETIMES], 4),
    ],
)
def test_asrs_counts_shaded_answers_and_is_positive_from_4(answers, shaded):
    result = score("asrs_a", {str(n): v for n, v in enumerate(answers, start=1)})
    assert result.total == shaded
    assert result.positive is (shaded >= 4)
    assert result.band == ("positive" if shaded >= 4 else "negative")


def test_asrs_shading_thresholds_per_item():
    items = instruments.get("asrs_a").items
    first_shaded = [next(o.label for o in item.options if o.shaded) for item in items]
    assert first_shaded == ["Sometimes", "Sometimes", "Sometimes", "Often", "Often", "Often"]
    assert [o.label for o in items[0].options] == ["Never", "Rarely", "Sometimes", "Often", "Very Often"]


# -- MDQ ------------------------------------------------------------------------------------------


def mdq(yes: int, same_period="yes", problem="moderate", **extra) -> dict:
    answers = {str(n): ("yes" if n <= yes else "no") for n in range(1, 14)}
    return answers | {"same_period": same_period, "problem": problem} | extra


@pytest.mark.parametrize(
    ("answers", "positive"),
    [
        (mdq(7), True),
        (mdq(13, problem="serious"), True),
        (mdq(6), False),  # fewer than 7 "yes"
        (mdq(7, same_period="no"), False),
        (mdq(7, problem="minor"), False),
        (mdq(13, problem="none"), False),
        (mdq(9, relatives="yes", told="no"), True),  # questions 4–5 are not scored
    ],
)
def test_mdq_positive_needs_7_yes_same_period_and_moderate_or_serious_problem(answers, positive):
    result = score("mdq", answers)
    assert result.positive is positive
    assert result.band == ("positive" if positive else "negative")
    assert result.total == sum(1 for n in range(1, 14) if answers[str(n)] == "yes")


def test_mdq_has_13_yes_no_items_and_the_impairment_scale():
    definition = instruments.get("mdq")
    assert len([i for i in definition.items if i.group]) == 13
    assert [o.label for o in definition.item("problem").options] == [
        "No problem", "Minor problem", "Moderate problem", "Serious problem",
    ]  # fmt: skip


# -- AIMS -----------------------------------------------------------------------------------------


def aims(movements: list[int], globals_=(0, 0, 0), dental=("no", "no")) -> dict:
    answers = {str(n): v for n, v in enumerate(movements, start=1)}
    answers |= {"8": globals_[0], "9": globals_[1], "10": globals_[2], "11": dental[0], "12": dental[1]}
    return answers


@pytest.mark.parametrize(
    ("movements", "met"),
    [
        ([2, 2, 0, 0, 0, 0, 0], True),  # mild in two areas
        ([0, 0, 0, 3, 0, 0, 0], True),  # moderate in one area
        ([2, 1, 1, 1, 1, 1, 1], False),  # mild in only one area
        ([1] * 7, False),
        ([0] * 7, False),
        ([0, 0, 0, 0, 2, 0, 2], True),
    ],
)
def test_aims_schooler_kane_rule(movements, met):
    result = score("aims", aims(movements, globals_=(4, 4, 4)))
    assert result.positive is met
    assert result.band == ("criteria_met" if met else "criteria_not_met")
    assert result.total == sum(movements)


def test_aims_total_counts_items_1_to_7_only():
    assert score("aims", aims([4] * 7, globals_=(4, 4, 4), dental=("yes", "yes"))).total == 28
    assert score("aims", aims([0] * 7, globals_=(4, 4, 4))).total == 0
    assert instruments.get("aims").rater == "clinician"


# -- Refusals -------------------------------------------------------------------------------------


def test_incomplete_answers_are_refused_naming_each_missing_item():
    answers = answer_sets(9, 10)[0]
    del answers["3"], answers["9"]
    with pytest.raises(AnswerError) as error:
        score("phq9", answers)
    assert set(error.value.errors) == {"3", "9"}


@pytest.mark.parametrize(
    "answers",
    [
        dict.fromkeys(map(str, range(1, 10)), 1) | {"4": 4},  # out of range
        dict.fromkeys(map(str, range(1, 10)), 1) | {"4": "often"},
        dict.fromkeys(map(str, range(1, 10)), 1) | {"10": 1},  # no such item
        dict.fromkeys(map(str, range(1, 10)), 1) | {"5": ""},
        [1, 1, 1, 1, 1, 1, 1, 1, 1],
    ],
)
def test_invalid_answers_are_refused(answers):
    with pytest.raises(AnswerError):
        score("phq9", answers)


def test_the_difficulty_item_is_optional_and_unscored():
    base = dict.fromkeys(map(str, range(1, 10)), 1)
    assert score("phq9", base).total == score("phq9", base | {"difficulty": 3}).total == 9
    assert score("phq9", base | {"difficulty": "2"}).answers["difficulty"] == 2


def test_answers_from_a_form_are_normalised_to_the_option_values():
    result = score("phq9", {str(n): str(n % 4) for n in range(1, 10)})
    assert result.answers == {str(n): n % 4 for n in range(1, 10)}


def test_unknown_instrument_is_refused():
    with pytest.raises(AnswerError):
        score("cssrs", {})


# -- Worsening ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "before", "after", "worse"),
    [
        ("phq9", 10, 14, False),  # +4, same band
        ("phq9", 9, 10, True),  # +1 but up a band
        ("phq9", 10, 15, True),
        ("phq9", 20, 25, True),  # +5 within "severe"
        ("phq9", 20, 24, False),
        ("phq9", 15, 8, False),  # better
        ("gad7", 9, 10, True),  # up a band
        ("gad7", 15, 21, False),  # +6 but GAD-7 counts bands only, and severe is the top
        ("gad7", 10, 14, False),
        ("phq2", 0, 6, False),  # short screens are not compared
    ],
)
def test_worsening_rule(code, before, after, worse):
    items = {"phq9": 9, "gad7": 7, "phq2": 2}[code]
    first, second = score(code, answer_sets(items, before)[0]), score(code, answer_sets(items, after)[0])
    reason = instruments.worsening(code, first.total, first.band, second.total, second.band)
    assert bool(reason) is worse


def test_worsening_reason_says_points_and_bands():
    reason = instruments.worsening("phq9", 8, "mild", 16, "moderately_severe")
    assert reason == "up 8 points (8 → 16); up from mild to moderately severe"


# -- Text as published ------------------------------------------------------------------------------


def test_phq9_text_and_options_as_published():
    definition = instruments.get("phq9")
    assert (
        definition.stem == "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    )
    assert [i.text for i in definition.items[:9]] == [
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so fidgety or "
        "restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ]
    for item in definition.items[:9]:
        assert [(o.value, o.label, o.points) for o in item.options] == [
            (0, "Not at all", 0), (1, "Several days", 1), (2, "More than half the days", 2), (3, "Nearly every day", 3),
        ]  # fmt: skip
    assert not definition.item("difficulty").scored


def test_gad7_text_as_published():
    definition = instruments.get("gad7")
    assert definition.stem == "Over the last 2 weeks, how often have you been bothered by the following problems?"
    assert [i.text for i in definition.items[:7]] == [
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ]


def test_no_c_ssrs_text_is_shipped():
    every_text = " ".join(
        [i.stem for i in instruments.INSTRUMENTS.values()]
        + [item.text for i in instruments.INSTRUMENTS.values() for item in i.items]
    ).lower()
    assert "wished you were dead" not in every_text
    assert "thoughts of killing yourself" not in every_text
    assert set(instruments.INSTRUMENTS) == {"phq9", "gad7", "phq2", "gad2", "asrs_a", "mdq", "aims"}


def test_every_instrument_names_its_source_and_copyright():
    for definition in instruments.INSTRUMENTS.values():
        assert "clinical.md §3" in definition.source
        assert definition.copyright
    assert instruments.get("asrs_a").licence_note and instruments.get("mdq").licence_note
