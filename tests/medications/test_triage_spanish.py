"""Spanish in the triage engine (issue 17): language detection, normalisation, negation, idioms,
every crisis category and red-flag concept in Spanish, and what a Spanish-writing patient and
their psychiatrist see (medications/spanish.py, medications/language.py,
medications/data/lexicon_es.json)."""

from __future__ import annotations

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import Alert
from medications import language, spanish, triage
from medications.models import SideEffectReport
from tests import factories
from tests.helpers import log_in
from tests.medications.test_triage import _post_report


def assess(text, *drugs, severity=None):
    return triage.assess_text(text, drugs=list(drugs), severity=severity)


# -- Detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "me duele la cabeza",
        "Tengo fiebre",
        "ya no quiero estar aquí",
        "se me hincharon los labios",
        "mi hija se tragó unas pastillas",
        "¿es normal?",
        "no he dormido en días",
        "Desde que empecé la sertralina estoy muy nerviosa y no puedo dormir",
        "vomité sangre",
    ],
)
def test_spanish_reports_are_detected(text):
    assert language.detect(text) == language.SPANISH


@pytest.mark.parametrize(
    "text",
    [
        "I have a headache",
        "my lips are swollen since I started it",
        "feeling a bit dizzy in the mornings",
        "",
        "   ",
        "12/5",
        "Desyrel",  # a brand name alone says nothing about the language
        "I feel so much better, gracias doctor",  # one Spanish word in an English report
    ],
)
def test_english_and_signal_free_reports_are_english(text):
    assert language.detect(text) == language.ENGLISH


def test_detection_is_deterministic():
    text = "no se q hacer, me siento mal"
    assert {language.detect(text) for _ in range(20)} == {language.SPANISH}


# -- Normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("¿Qué me pasa? ¡Ayúdenme!", "que me pasa? ayudenme!"),
        ("Xq nose q hacer, tb me duele", "porque no se que hacer, tambien me duele"),
        ("pq k no puedo", "porque que no puedo"),
        ("Se me está PELANDO la piel", "se me esta pelando la piel"),
        ("ayudaaaa", "ayuda"),
        ("niño, año, corazón", "nino, ano, corazon"),
    ],
)
def test_normalisation_folds_accents_and_texting_spellings(raw, normal):
    assert spanish.normalize(raw) == normal


def test_reasons_quote_the_patients_own_spelling():
    result = assess("No sé si quiero seguir viviendo")
    assert result.level == "emergency"
    assert '"No sé si quiero seguir viviendo"' in result.reasons[0]
    # An expanded texting spelling is quoted in its expanded form (it cannot be found as typed).
    assert "porque" in spanish.Reading("xq ya no quiero vivir").original("porque ya no quiero vivir")


# -- Negation, pseudo-negation, hypotheticals, history ---------------------------------------------

NEGATED = [
    ("fever", "no tengo fiebre"),
    ("fever", "sin fiebre"),
    ("rash", "ni fiebre ni sarpullido"),
    ("rash", "ningún sarpullido"),
    ("fever", "nada de fiebre"),
    ("seizure", "nunca he tenido convulsiones"),
    ("seizure", "jamás tuve una convulsión"),
    ("facial_swelling", "no se me hinchó la cara"),
    ("fever", "fiebre: no"),
    ("rash", "el sarpullido ya se me quitó"),
]


@pytest.mark.parametrize(("concept", "text"), NEGATED)
def test_negated_symptoms_are_not_findings(concept, text):
    assert concept not in spanish.Reading(text).concepts()


@pytest.mark.parametrize(
    ("concept", "text"),
    [
        ("breathing_trouble", "no puedo respirar"),
        ("swallowing_trouble", "no puedo tragar"),
        ("priapism", "tengo una erección que no se baja"),
        ("unable_to_urinate", "no puedo orinar desde ayer"),
        ("facial_swelling", "no puedo tragar y se me hinchó la lengua"),
        ("fever", "no sé qué me pasa, tengo fiebre"),
        ("rash", "no tengo fiebre pero sí un sarpullido"),
    ],
)
def test_pseudo_negations_and_new_clauses_keep_the_symptom(concept, text):
    assert concept in spanish.Reading(text).concepts()


@pytest.mark.parametrize(
    "text",
    [
        "si me sale un sarpullido, ¿qué hago?",
        "por si acaso sarpullido",
        "me dijeron que vigilara si me salía un sarpullido",
        "el prospecto dice que puede dar sarpullido",
    ],
)
def test_hypothetical_symptoms_are_not_findings(text):
    assert "rash" not in spanish.Reading(text).concepts()
    assert assess(text, "lamotrigine").level == "routine"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hace años me cortaba los brazos", "routine"),
        ("de niña me cortaba los brazos", "routine"),
        ("de niña me cortaba los brazos y ahora volví a cortarme", "emergency"),
        ("no quiero matarme", "routine"),
        ("niega ideas suicidas", "routine"),
        ("no tengo pensamientos suicidas", "routine"),
        ("no sé si quiero seguir viviendo", "emergency"),
        ("no quiero vivir así", "emergency"),
        ("si me tomo dos, ¿es una sobredosis?", "routine"),
        ("si no mejoro me voy a matar", "emergency"),
    ],
)
def test_crisis_negation_history_and_hypotheticals(text, expected):
    assert assess(text).level == expected, assess(text)


# -- Idioms stay benign ----------------------------------------------------------------------------

IDIOMS = [
    "me muero de risa con este video",
    "me muero de hambre",
    "me muero de sueño",
    "me muero de ganas de verte",
    "me muero de frío en la oficina",
    "me muero de calor",
    "me muero de vergüenza",
    "me muero de aburrimiento",
    "me muero por verte",
    "me mata el calor",
    "estoy muerto de cansancio",
    "estoy muerta de cansancio",
    "me voy a matar estudiando para el examen",
    "me estoy matando trabajando",
    "me mató de risa",
    "me quiero morir de vergüenza",
    "quiero desaparecer unos días de vacaciones",
    "mi amiga se suicidó hace dos años",
    "me corté el dedo cocinando",
]


@pytest.mark.parametrize("text", IDIOMS)
def test_idioms_are_not_crisis_language(text):
    result = assess(text, "sertraline")
    assert result.level == "routine", (text, result)


# -- Crisis language, one category at a time --------------------------------------------------------

CRISIS = [
    ("suicidal", "quiero matarme"),
    ("suicidal", "he pensado en quitarme la vida"),
    ("suicidal", "estuve buscando cuántas pastillas de litio hacen falta para morir"),
    ("suicidal", "he estado juntando pastillas"),
    ("suicidal", "ya tengo un plan para hacerlo"),
    ("suicidal", "esta noche acabo con todo"),
    ("passive", "ya no quiero estar aquí"),
    ("passive", "quisiera dormirme y no despertar"),
    ("passive", "estarían mejor sin mí"),
    ("passive", "no le veo sentido a la vida"),
    ("passive", "soy una carga para mi familia"),
    ("goodbye", "estoy regalando mis cosas"),
    ("goodbye", "escribí cartas de despedida"),
    ("goodbye", "cuando lean esto ya no estaré"),
    ("self_harm", "volví a cortarme"),
    ("self_harm", "tengo ganas de hacerme daño"),
    ("command_hallucination", "las voces me dicen que me mate"),
    ("harm_others", "tengo ganas de matar a mi jefe"),
    ("overdose", "me tomé todo el frasco"),
    ("overdose", "me tomé 20 pastillas"),
    ("poisoning", "mi hijo de 3 años se tragó unas pastillas de mi litio"),
    ("poisoning", "el perro se comió mis pastillas"),
    ("overdose", "me tomé dos pastillas de más"),
    ("overdose", "me tomé una caja entera de mis pastillas"),
    ("overdose", "se tragó como 15 pastillas"),
    ("suicidal", "ya compré la soga"),
    ("passive", "me quiero ir para siempre"),
    ("passive", "ya no le encuentro sentido a nada"),
    ("suicidal", "me voy a tomar todas las pastillas esta noche"),
    ("goodbye", "ya escribí la carta para mis hijos, me despido"),
    ("self_harm", "me he estado cortando los brazos otra vez"),
    ("self_harm", "me quemo con cigarros a propósito"),
    ("overdose", "tomé el doble de litio por error"),
    ("overdose", "me acabé el frasco de clonazepam"),
    # Preparatory acts and plans told without suicide words (988 Lifeline warning signs, C-SSRS).
    ("suicidal", "tengo las pastillas de mi mamá contadas para el sábado"),
    ("suicidal", "guarda un arma escondida debajo del colchón y no quiere decir para qué"),
    ("suicidal", "anda preguntando dónde tenemos las medicinas de la abuela"),
    ("suicidal", "ya arreglé mi plan, nadie lo va a impedir"),
    ("suicidal", "ya elegí la fecha, el domingo será el día."),
    ("passive", "últimamente creo que sería mejor no despertar"),
    ("passive", "me da tristeza despertar cada mañana"),
    ("passive", "mi tío repite que ya vivió bastante"),
    ("passive", "ya no quiero seguir, estoy agotada"),
    ("goodbye", "me mandó un mensaje raro, como despidiéndose de todos"),
    ("goodbye", "está regalando sus pertenencias a los vecinos"),
    ("goodbye", "dijo que ya no los va a necesitar"),
    ("goodbye", "me pidió que cuidara sus plantas para cuando ya no esté"),
    ("goodbye", "la semana pasada hizo su testamento sin decirle a nadie"),
    ("goodbye", "le mandé audios a mis primos, que me perdonen por todo"),
    ("goodbye", "ya anoté quién se queda con mis ahorros"),
    ("self_harm", "anoche me volví a quemar con el encendedor"),
    ("self_harm", "me sigo cortando todos los días"),
    ("passive", "mejor me muero y ya"),
    ("passive", "no le encuentro caso a seguir viviendo"),
    ("suicidal", "me conseguí un revólver"),
    ("goodbye", "dejé unas notas en el cajón por si no despierto"),
    # A negation ends at the comma after the word it denies: the plan after it stands.
    ("suicidal", "no salgo de la casa, ya tengo mi plan"),
    # Someone else swallowed a medicine: a child, a pet, or an adult who took another person's pills.
    ("poisoning", "mi chamaco abrió el pastillero y se metió unas en la boca"),
    ("poisoning", "mi nieta de 2 años trepó al baño y se tragó varias de mis pastillas"),
    ("poisoning", "mi esposo se tomó dos pastillas de las de su hermana por error"),
    ("poisoning", "mi papá confundió los frascos y se tomó las mías"),
    ("overdose", "me tomé como 12 de sertralina"),
    ("overdose", "me tomé media caja de paracetamol"),
    ("overdose", "mi suegra se tomó la pastilla de la noche dos veces"),
    ("overdose", "olvidé que ya la había tomado y me tomé otra"),
    ("overdose", "anoche me empiné el bote de clonazepam"),
    ("overdose", "me tomé todos los del frasco"),
    ("poisoning", "el niño se tomó el jarabe de la abuela, casi todo"),
    ("passive", "mi mamá dice que ya no le ve sentido a la vida"),
    ("passive", "me quiero ir a dormir y no despertar"),
    ("overdose", "anoche me tragué siete de mis pastillas para dormir"),
    ("passive", "dice que estaríamos mejor sin él"),
    ("suicidal", "se encerró en su cuarto con una navaja"),
    ("suicidal", "estoy pensando en tragarme todas las del frasco"),
    ("suicidal", "estuve viendo en internet qué dosis son letales"),
]


@pytest.mark.parametrize(("category", "text"), CRISIS)
def test_spanish_crisis_language_is_an_emergency(category, text):
    result = assess(text)
    assert result.level == "emergency", (text, result)
    assert f"crisis:{category}" in result.rules, (text, result)


def test_reasons_stay_in_english_and_quote_the_spanish_words():
    result = assess("Ya no quiero estar aquí")
    assert result.reasons == [
        "Passive suicidal ideation — Thoughts of being better off dead or of not wanting to live, "
        "in the patient's words "
        '(treated like PHQ-9 item 9): "Ya no quiero estar aquí"'
    ]


@pytest.mark.parametrize(
    "text",
    [
        "me tomé mis pastillas como siempre",
        "me tomé 2 pastillas para el dolor de cabeza",
        "mi hijo se tomó su medicina de la tos",
        "me tomé un café de más",
        "quiero acabar con todo el papeleo",
        "tomo todas mis pastillas en la mañana",
        "trago las pastillas con jugo",
        "ya me tomé las pastillas de hoy",
        "no quiero seguir tomando esta medicina",
        "me tomé el doble de tiempo en llegar",
        "le escribí una carta a mi mamá por su cumpleaños",
        "me despido, gracias doctora",
        "compré dos celulares para mis hijos",
        "mi perro se comió mis calcetines, las pastillas están bien guardadas",
        "la nena se tomó su jarabe como le toca",
        "ya hice mi plan de estudio para el examen",
        "hoy es el día de mi cita, ¿a qué hora es?",
        "no quiero seguir con la misma dosis, ¿la podemos cambiar?",
        "me despedí de mi hermana en el aeropuerto",
        "mi mamá se tomó sus pastillas de la presión",
        "tengo la caja de pastillas guardada arriba del refri",
        "mi abuela hizo su testamento hace diez años",
        "me corto el pelo otra vez la semana que viene",
        "mi prima tuvo una sobredosis hace años y ahora está bien",
        "me tomé mis 6 pastillas del día como siempre",
        "estaríamos mejor sin el carro viejo",
        "me metí a la cocina con el cuchillo para picar cebolla",
        "mejor me muero de risa que enojarme",
    ],
)
def test_ordinary_medicine_taking_is_not_an_overdose(text):
    assert assess(text).level == "routine", assess(text)


# -- Every red-flag concept, in Spanish --------------------------------------------------------------

CONCEPTS = {
    "fever": "tengo fiebre",
    "rash": "me salió un sarpullido",
    "blisters": "se me está pelando la piel",
    "mucosal_sores": "tengo llagas en la boca",
    "facial_swelling": "se me hincharon los labios y la lengua",
    "swollen_glands": "tengo los ganglios inflamados",
    "breathing_trouble": "me cuesta respirar",
    "short_of_breath": "me quedo sin aire",
    "chest_pain": "tengo dolor en el pecho",
    "chest_pain_spreading": "el dolor se me va hacia el brazo izquierdo",
    "skin_pain": "me duele la piel cuando me tocan",
    "very_high_glucose": "el azúcar me salió en 450",
    "palpitations": "el corazón me late muy rápido",
    "fainting": "me desmayé en la cocina",
    "dizziness": "estoy muy mareada",
    "seizure": "tuvo un ataque, se puso tieso y se hizo pipí",
    "stiffness": "tengo los músculos rígidos",
    "confusion": "está confundido",
    "agitation": "estoy muy inquieta, no puedo estar quieta",
    "panic": "tengo ataques de pánico",
    "impulsive": "hago cosas sin pensar",
    "heavy_sweating": "estoy sudando muchísimo",
    "shivering": "tengo escalofríos",
    "twitching": "los músculos me brincan solos",
    "diarrhoea": "tengo diarrea",
    "vomiting": "estoy vomitando",
    "tremor": "me tiemblan las manos",
    "coarse_tremor": "me tiembla todo el cuerpo",
    "unsteady": "camino como borracho",
    "slurred_speech": "arrastro las palabras",
    "extreme_drowsiness": "no puedo mantenerme despierta",
    "drowsiness": "tengo mucha somnolencia",
    "weakness": "estoy muy débil",
    "cannot_wake": "no lo puedo despertar",
    "slow_breathing": "respira muy lento",
    "blue_lips": "tiene los labios morados",
    "sore_throat": "me duele la garganta",
    "mouth_ulcers": "tengo aftas en la boca",
    "infection": "tengo una infección",
    "constipation_severe": "llevo cinco días sin ir al baño",
    "abdominal_pain": "me duele el estómago",
    "severe_abdominal_pain": "tengo un dolor muy fuerte en la boca del estómago",
    "pain_to_back": "el dolor se pasa a la espalda",
    "priapism": "una erección que no se baja",
    "dystonia": "se me tuerce el cuello para un lado",
    "swallowing_trouble": "me cuesta tragar",
    "severe_headache": "el peor dolor de cabeza de mi vida",
    "headache": "me duele la cabeza",
    "stiff_neck": "tengo el cuello rígido",
    "high_bp": "tengo la presión muy alta",
    "jaundice": "tengo los ojos amarillos",
    "dark_urine": "la orina está muy oscura",
    "pale_stools": "las heces blancas",
    "ruq_pain": "me duele debajo de las costillas del lado derecho",
    "black_stools": "hago popó negra",
    "vomit_blood": "vomité sangre",
    "eye_emergency": "me duelen mucho los ojos y veo halos",
    "extreme_thirst": "tengo muchísima sed",
    "polyuria": "orino a cada rato",
    "fruity_breath": "el aliento me huele a fruta",
    "sleep_behaviour": "manejé dormido y no me acuerdo",
    "hallucinations": "escucho voces",
    "mania_explicit": "creo que es manía",
    "less_sleep": "no he dormido en días",
    "racing_thoughts": "tengo la mente a mil",
    "high_energy": "tengo muchísima energía",
    "spending_risk": "gasté todos mis ahorros",
    "grandiosity": "me siento invencible",
    "pressured_speech": "no paro de hablar",
    "unable_to_urinate": "no puedo orinar",
    "fall_injury": "me caí y me golpeé la cabeza",
    "abnormal_movements": "tengo movimientos raros en la boca",
    "pregnancy": "estoy embarazada",
    "withdrawal_context": "dejé las pastillas de golpe",
    "not_drinking": "no puedo tomar nada de agua",
    "heat_illness": "me dio un golpe de calor",
    "rash_severe": "un sarpullido por todo el cuerpo",
    "explicit_serotonin_syndrome": "síndrome serotoninérgico",
    "explicit_nms": "síndrome neuroléptico maligno",
    "explicit_lithium_toxicity": "intoxicación por litio",
    "explicit_sjs": "Stevens-Johnson",
    "seizure_signs": "después no se acordaba de nada",
    "seizure_movements": "se cayó y empezó a sacudirse todo",
    "bitten_tongue": "amaneció con la lengua mordida",
    "lost_bladder": "se hizo pipí encima",
    "skin_sloughing": "se me está cayendo la piel a tiras",
    "clonus": "los tobillos me brincan solos",
    "feeling_hot": "me siento muy caliente",
    "recent_change": "desde que me subieron la dosis",
    "severe_stiffness": "está tieso como una tabla",
    "altered_consciousness": "está como ido, no nos reconoce",
    "days_without_sleep": "lleva cuatro noches sin dormir",
    "sore_red_eyes": "los ojos me arden",
    "genital_sores": "tengo llagas en mis partes",
    "sores_two_sites": "tengo llagas en la boca y en los genitales",
}


@pytest.mark.parametrize(("concept", "text"), sorted(CONCEPTS.items()))
def test_each_concept_has_spanish_words(concept, text):
    assert concept in spanish.Reading(text).concepts(), (concept, text)


def _red_flag_concepts() -> set[str]:
    return set(json.loads(triage.RULES_FILE.read_text(encoding="utf-8"))["concepts"])


def test_every_red_flag_concept_has_spanish_patterns():
    """When a red-flag concept is added to red_flags.json it needs Spanish words too."""
    lexicon = json.loads(spanish.LEXICON_FILE.read_text(encoding="utf-8"))
    lacking = sorted(name for name in _red_flag_concepts() if not lexicon["concepts"].get(name, {}).get("patterns"))
    assert lacking == []


def test_spanish_concepts_and_crisis_categories_name_real_ones_with_sources():
    lexicon = json.loads(spanish.LEXICON_FILE.read_text(encoding="utf-8"))
    assert set(lexicon["concepts"]) <= _red_flag_concepts()
    assert set(lexicon["crisis"]) == set(json.loads(triage.RULES_FILE.read_text(encoding="utf-8"))["crisis"])
    for name, entry in [*lexicon["concepts"].items(), *lexicon["crisis"].items()]:
        assert entry["sources"] and set(entry["sources"]) <= set(lexicon["sources"]), name
        assert entry["mark"] in ("✔", "~", "?"), name
    for key, source in lexicon["sources"].items():
        assert source["title"] and source["mark"] in ("✔", "~", "?"), key


def test_the_test_table_covers_every_concept():
    assert set(CONCEPTS) == _red_flag_concepts()


# -- Pictures from the issue, through the whole engine ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "drugs", "expected"),
    [
        ("Se me hincharon los labios y la lengua y me cuesta respirar", [], "emergency"),
        ("se me está pelando la piel, tengo ampollas y llagas en la boca", ["lamotrigine"], "emergency"),
        ("temblaba y no respondía, se mordió la lengua, se orinó", ["bupropion"], "emergency"),
        # A seizure told by what happened: emergency on any drug, as in English (call 911 for a first seizure).
        ("se cayó al piso temblando, se mordió la lengua y después no se acordaba de nada", [], "emergency"),
        ("una erección que no se baja desde hace 5 horas", ["trazodone"], "emergency"),
        ("no he dormido en días y tengo la mente a mil", ["sertraline"], "urgent"),
        ("no pego el ojo desde hace días, me siento el rey del mundo y compré tres carros", ["sertraline"], "urgent"),
        ("tengo el pito parado desde hace 5 horas y me duele", ["trazodone"], "emergency"),
        ("llevo una semana sin hacer del baño y tengo la panza dura", ["clozapine"], "emergency"),
        ("dolor en la boca del estómago que se pasa a la espalda y vomito", ["valproate"], "emergency"),
        ("fiebre alta, estoy rígido y confundido", ["haloperidol"], "emergency"),
        ("estoy muy agitada, sudando, con escalofríos y los músculos me brincan solos", ["sertraline"], "emergency"),
        ("vómitos y diarrea, me tiembla todo el cuerpo y camino como borracha", ["lithium"], "emergency"),
        ("tengo fiebre y me duele la garganta", ["clozapine"], "urgent"),
        ("me duele un poco la cabeza", ["sertraline"], "routine"),
        ("me siento mejor, gracias", ["sertraline"], "routine"),
        # Everyday wording: a tremor ("tembladera"), a pulse as a number, a heart "dando brincos".
        ("desde que me dieron tramadol: tembladera, sudo, el corazón a mil", ["sertraline", "tramadol"], "emergency"),
        ("me agregaron la fluoxetina: tiemblo, diarrea, pulso en 140", ["amitriptyline", "fluoxetine"], "emergency"),
        ("sentí el corazón dando brincos y después me desmayé en el baño", ["citalopram"], "emergency"),
        ("me aprieta el pecho como si me pisaran y el corazón me late rapidísimo", ["methylphenidate"], "emergency"),
        ("a mi sobrina se le hincharon los labios después de la pastilla", [], "emergency"),
        ("dolor de panza muy fuerte que se me va para atrás y vómito todo", ["valproate"], "emergency"),
        ("me salieron unas manchitas rojas en la panza", ["lamotrigine"], "urgent"),
        ("tengo ampollitas en las encías y me arden los ojos", ["lamotrigine"], "emergency"),
        ("mi papá no obra desde hace una semana y tiene la barriga dura", ["clozapine"], "emergency"),
        ("no puedo orinar desde ayer y tengo el vientre inflado", ["amitriptyline"], "emergency"),
        ("de pronto se me nubló la vista y me duele el ojo", ["imipramine"], "emergency"),
        ("dejé el lorazepam de golpe y veo hormigas subiendo por la pared", ["lorazepam"], "emergency"),
        ("mi hermano se levantó dormido y manejó al súper", ["zolpidem"], "urgent"),
        ("se quedó como ido y no contestaba cuando le hablábamos", ["bupropion"], "emergency"),
        ("me dio un ataque, me sacudí toda y perdí el conocimiento", ["clonazepam"], "emergency"),
        ("ando re acelerada, tengo mil ideas y saqué tres tarjetas de crédito", ["sertraline"], "urgent"),
        ("habla y habla, se gastó la quincena y dice que Dios lo eligió", ["escitalopram"], "urgent"),
        ("duermo dos horas y me sobra energía, no paro", ["bupropion"], "urgent"),
        ("desde que subieron la dosis no aguanto ni sentada, con ganas de salir corriendo", ["sertraline"], "urgent"),
        # Benign near-misses: a friend's or a pet's symptom, a comparison, ordinary words.
        ("a mi amiga le salió un sarpullido con la lamotrigina, a mí no", ["lamotrigine"], "routine"),
        ("a mi vecina se le pusieron los ojos amarillos", ["valproate"], "routine"),
        ("tengo mil ideas para la fiesta de mi hija", ["sertraline"], "routine"),
        ("hoy me siento con energía, dormí bien", ["sertraline"], "routine"),
        ("me mordí la lengua comiendo", ["bupropion"], "routine"),
        # More everyday wording, and a cause or a resolution that makes a symptom benign.
        ("me duele arriba del ombligo, se me corre a la espalda y vomito", ["valproate"], "emergency"),
        ("no hago pipí desde la mañana y me duele la parte de abajo de la panza", ["amitriptyline"], "emergency"),
        ("estoy bien torpe, vomito y hablo arrastrado", ["lithium"], "emergency"),
        ("el corazón me latía rarísimo y luego me desmayé", ["methadone"], "emergency"),
        ("mi esposo anda viendo personas que no están", ["bupropion"], "urgent"),
        ("lo encontramos cocinando dormido a las 3 de la mañana", ["zolpidem"], "urgent"),
        ("tengo ampollas en los talones por las botas nuevas", ["lamotrigine"], "routine"),
        ("me arden los ojos de tanto ver el celular", ["lamotrigine"], "routine"),
        ("me dolía la cabeza el lunes pasado pero ya se me quitó", ["sertraline"], "routine"),
        # Temperatures as numbers (°C and °F), verb-first heartbeats, a twisted neck told by a carer.
        ("calentura de 103 y está tieso, no sabe ni dónde está", ["olanzapine"], "emergency"),
        ("tiene 39.8 de fiebre, los brazos duros y está como perdido", ["haloperidol"], "emergency"),
        ("le late rapidísimo el corazón y tiene calentura", ["clozapine"], "emergency"),
        ("se le volteó la cabeza para atrás y no puede tragar", ["haloperidol"], "emergency"),
        ("no duermo, tengo pensamientos a mil", ["sertraline"], "urgent"),
        ("van cinco días sin poder ir al baño", ["clozapine"], "urgent"),
        ("no duermo bien desde hace unos días", ["sertraline"], "routine"),
        ("la encontré en el suelo con los ojos en blanco, sacudiéndose y con espuma", ["clozapine"], "emergency"),
        ("se le puso duro hace como 5 horas y no se le baja", ["trazodone"], "emergency"),
        ("no puedo hacer pipí y siento la vejiga a reventar", ["amitriptyline"], "emergency"),
        ("he dormido 3 horas en cuatro noches y ando a mil", ["sertraline"], "urgent"),
        ("tengo una inquietud terrible, tengo que andar de un lado a otro", ["aripiprazole"], "urgent"),
        ("mi abuelo se resbaló anoche en el baño y se pegó en la frente", ["lorazepam"], "urgent"),
    ],
)
def test_spanish_pictures_reach_their_level(text, drugs, expected):
    result = assess(text, *drugs)
    assert result.level == expected, (text, result)


@pytest.mark.parametrize(
    "text",
    [
        "I feel ok but ya no quiero estar aquí",  # Spanglish
        "my lips are hinchados y me cuesta respirar",
        "Since Tuesday. No sé si quiero seguir viviendo.",
    ],
)
def test_mixed_language_reports_never_lose_a_red_flag(text):
    assert assess(text).level == "emergency"


def test_english_negations_guard_words_both_languages_share():
    for text in ("denies mania", "denies homicidal ideation", "no convulsion", "denies paranoia"):
        assert assess(text, "sertraline").level == "routine", text


# -- What the patient and the psychiatrist see -------------------------------------------------------


@pytest.mark.django_db
def test_spanish_emergency_shows_crisis_resources_in_spanish(client, patient, psychiatrist, settings):
    settings.TITRATE_CLINIC_PHONE = "617 555 0100"
    factories.start(patient, psychiatrist, drug="sertraline")
    log_in(client, patient.user)

    _post_report(client, other_symptoms="Ya no quiero estar aquí. Quisiera dormirme y no despertar.")
    page = client.get(reverse("medications:my_report_sent")).content.decode()

    report = SideEffectReport.objects.get()
    assert (report.triage_level, report.language) == ("emergency", "es")
    main = page[page.index('<main id="main"') :]
    block = main[main.index('<section lang="es"') : main.index("</section>")]
    assert main.index('<section lang="es"') < main.index("What you sent")
    for needle in (
        "Busque ayuda ahora",
        'href="tel:988"',
        "marque el 2",
        "<strong>AYUDA</strong> al 988",
        'href="tel:911"',
        'href="tel:18002221222"',
        "hay intérpretes",
        'href="tel:6175550100"',
    ):
        assert needle in block, needle
    assert "Please get help now" not in main  # one crisis block, in the patient's language
    alert = Alert.objects.get()
    assert alert.level == "emergency" and '"Ya no quiero estar aquí"' in alert.reasons[0]


@pytest.mark.django_db
def test_spanish_urgent_report_asks_for_a_call_today_in_spanish(client, patient, psychiatrist):
    factories.start(patient, psychiatrist, drug="clozapine")
    log_in(client, patient.user)
    _post_report(client, other_symptoms="tengo fiebre y me duele la garganta")
    page = client.get(reverse("medications:my_report_sent")).content.decode()
    assert SideEffectReport.objects.get().triage_level == "urgent"
    assert '<section lang="es"' in page and "Llame hoy a la clínica" in page and "marque el 2" in page


@pytest.mark.django_db
def test_spanish_routine_and_english_reports_keep_their_pages(client, patient, psychiatrist):
    factories.start(patient, psychiatrist)
    log_in(client, patient.user)
    _post_report(client, other_symptoms="me duele un poco la cabeza por las mañanas")
    page = client.get(reverse("medications:my_report_sent")).content.decode()
    assert SideEffectReport.objects.get().language == "es"
    # No Spanish crisis box (the footer's language switch names "Español" in Spanish on every page).
    assert '<section lang="es"' not in page and "Thank you — your report was sent" in page

    _post_report(client, other_symptoms="I want to kill myself")
    page = client.get(reverse("medications:my_report_sent")).content.decode()
    assert SideEffectReport.objects.order_by("-pk").first().language == "en"
    assert "Please get help now" in page and '<section lang="es"' not in page


@pytest.mark.django_db
def test_unsaved_spanish_report_with_crisis_words_shows_spanish_resources(client, patient, psychiatrist):
    factories.start(patient, psychiatrist)
    log_in(client, patient.user)
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    page = _post_report(client, other_symptoms="me quiero morir", onset_date=future).content.decode()
    assert not SideEffectReport.objects.exists()
    assert '<section lang="es"' in page and "Busque ayuda ahora" in page


@pytest.mark.django_db
def test_staff_pages_mark_reports_written_in_spanish(client, patient, psychiatrist):
    factories.start(patient, psychiatrist)
    log_in(client, patient.user)
    _post_report(client, other_symptoms="se me hincharon los labios")
    _post_report(client, other_symptoms="my lips are swollen")
    spanish_report, english_report = SideEffectReport.objects.order_by("pk")
    client.logout()
    log_in(client, psychiatrist)

    inbox = client.get(reverse("medications:inbox")).content.decode()
    assert inbox.count("Written in Spanish") == 1
    detail = client.get(reverse("medications:report_detail", args=[patient.pk, spanish_report.pk])).content.decode()
    assert "Written in Spanish" in detail and '<dd class="col-sm-9 pre-line" lang="es">' in detail
    assert "(reported: &quot;se me hincharon los labios&quot;)" in detail
    other = client.get(reverse("medications:report_detail", args=[patient.pk, english_report.pk])).content.decode()
    assert "Written in Spanish" not in other


# -- Medicines named in Spanish ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("desde que empecé la lamotrigina me salió un sarpullido", "urgent"),
        ("me salió un sarpullido", "routine"),
        ("ya no tomo lamotrigina y me salió un sarpullido", "routine"),
        ("tomo litio y tengo vómitos y diarrea y tiemblo mucho", "emergency"),
        ("con el ácido valproico me duele la panza y se pasa a la espalda, y vomito", "emergency"),
    ],
)
def test_medicines_named_in_spanish_gate_the_rules(text, expected):
    assert assess(text).level == expected, assess(text)


def test_spanish_drug_names_map_to_formulary_generics():
    names = json.loads(spanish.LEXICON_FILE.read_text(encoding="utf-8"))["drug_names"]
    formulary = json.loads(triage.FORMULARY_FILE.read_text(encoding="utf-8"))["medications"]
    generics = {m["generic_name"] for m in formulary}
    assert set(names.values()) <= generics
    assert all(name == spanish.fold(name) for name in names)  # matched on folded text
