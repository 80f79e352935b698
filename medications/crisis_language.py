"""Crisis language in free text: suicidal or self-harm intent, plans (including method research,
access to means and a time or date), goodbyes and preparatory acts, command hallucinations,
harming others, overdose (a number of tablets, the whole bottle), and medicine swallowed by a child,
another person or a pet. Any hit makes a report an EMERGENCY
(levels, reasons and sources: medications/data/red_flags.json, "crisis").

Matching runs on ``textmatch.normalize``d text, so "I dont want to be here anymore",
"I don’t want to be here any more" and "i DONT WANNA be here anymore" are the same phrase.
Idioms ("dying to know", "killing it at work", "I could kill for a coffee") never match a
pattern or are removed by ``_IDIOMS``; plain negations ("no suicidal thoughts", "denies thoughts
of self-harm", "I'm not suicidal", "never thought of hurting myself") are dropped by the NegEx
check in ``textmatch.is_negated`` — but phrases whose negation *is* the risk ("I don't want to
live", "I'm not sure I want to live", "no reason to live") are patterns of their own.

When in doubt the patterns lean towards raising: a false alarm costs a phone call, a miss can
cost a life.
"""

from __future__ import annotations

# Pattern tables: one regular expression per line reads better than one split across lines.
# ruff: noqa: E501
import re
from dataclasses import dataclass

from medications import textmatch

_PILLS = r"(?:pills|tablets|tabs|meds|medication|medications|medicine|medicines|capsules|drugs|prescription|bottle|pack|packet|supply|doses|lithium)"
_HARM = r"(?:kill|hurt|harm|cut|stab|shoot|attack|strangle|burn|poison|drown|murder|die|end (?:it|my life)|jump)"
_OTHERS = (
    r"(?:someone|somebody|people|others|other people|everyone|everybody|him|her|them|the baby|my baby|"
    r"my (?:\w+ )?(?:wife|husband|partner|boss|mother|mom|mum|father|dad|son|daughter|kids?|children|child|baby|brother|"
    r"sister|family|boyfriend|girlfriend|neighbou?rs?|coworkers?|colleagues?|roommate|flatmate|teacher|ex))"
)
_LIVE = r"(?:live|be alive|stay alive|exist|keep living|go on|keep going|carry on|wake up|be here anymore|be here any more|be here any longer|be around anymore)"

PATTERNS: dict[str, list[str]] = {
    "suicidal": [
        r"\bsuicid(?:e|al|ality)\b",
        r"\b(?:kill|killing|killed|hang|hanging|hanged|shoot|shooting|drown|drowning|poison|poisoning|suffocate|suffocating|off|offing) myself\b",
        r"\b(?:end|ending|ended|take|taking|took) (?:my|my own) life\b",
        r"\bend(?:ing)? (?:it all|everything|things|my suffering|it (?:all )?(?:now|tonight|today|soon|for good))\b",
        r"\b(?:want|wanted|wanting|going|plan|planning|planned|ready|decided|tempted|thinking about|thought about|think about) (?:to )?end(?:ing)? it\b(?! (?:with|between))",
        r"\b(?:want|wants|wanted|wanting|wish|wishing|going|plan|planning|ready|try|trying|tried|decided|urge|urges|tempted|need|needing) to (?:die|be dead|not exist|not be alive|stop existing|disappear forever|sleep forever|never wake up|not wake up)\b(?! (?:of|from) (?:embarrassment|laughter|laughing|shame|boredom|cringe))",
        r"\b(?:plan|plans|planned|planning|method|methods|ways?|how) (?:to|for|of) (?:kill(?:ing)? myself|end(?:ing)? (?:my life|it)|die|dying|hang myself|overdose|suicide|commit suicide)\b",
        r"\b(?:how many|how much) (?:\w+ ){0,4}?(?:would|will|does|do i need|do you need|to)(?: it)?(?: take)?(?: to)? (?:kill (?:me|myself|someone|a person)|die|be lethal|be fatal|overdose)\b",
        r"\blethal dose\b",
        r"\b(?:stockpil|hoard)\w* (?:my |up |some )?(?:\w+ )?" + _PILLS,
        r"\b(?:wrote|written|writing|write|left|leave) (?:a |my )?(?:suicide|goodbye|farewell) (?:note|letter)s?\b",
        r"\bjump(?:ing)? (?:off|from|in front of) (?:a |the )?(?:bridge|building|roof|train|car|cliff|balcony|window|truck|bus|overpass|tower)\b",
        r"\bslit(?:ting)? (?:my )?wrists?\b",
        r"\b(?:walk|step|run|drive|crash|jump)(?:ing)? (?:my car )?(?:into|in front of) (?:traffic|a (?:train|truck|bus|car|tree|wall))\b",
        r"\b(?:want|going|plan|planning|thinking|thought|tempted|urge|urges|wanted)(?: about| of| to)? (?:to )?(?:take|taking|swallow|swallowing) (?:all|the whole|a whole|every one of|a bunch of|lots of|too many|a lot of|handfuls of|all of)(?: (?:my|the))? "
        + _PILLS,
        r"\b(?:want|going|plan|planning|thinking|thought|tempted|urge|urges)(?: about| of| to)? (?:to )?overdos\w*",
        r"\b(?:tried|try|trying|attempted|attempt) to (?:kill myself|end my life|end it|overdose|hang myself|take my (?:own )?life)\b",
        r"\b(?:should|could|will|going to|ready to|about to) (?:just )?end it(?: all)?\b(?! (?:with|between))",
        r"\b(?:commit|committing|committed) suicide\b",
        r"\b(?:have|made|got|making|worked out) (?:a |the )?plan\b(?: \w+){0,6} (?:do it|go through with it|end it|carry it out)\b",
        r"\bsuicide attempt\b",
        r"\b(?:can not|could not|not able to|unable to|do not think i can|not sure i can|do not know if i can) (?:keep|stay) (?:myself )?safe\b",
        r"\b(?:do not|no longer) feel safe (?:with|around|from) myself\b",
        r"\bnot safe (?:with|around|from) myself\b",
        r"\b(?:bought|buying|got|getting) (?:a )?(?:gun|rope|noose)\b(?: \w+){0,3} (?:to|so i can|for) (?:kill|end|die|use on myself)",
        r"\bnoose\b",
        # Method research (C-SSRS: a plan includes the method): "looked up how many it would take".
        r"\b(?:looked up|look up|looking up|googled|googling|searched|searching|researched|researching|read up on|reading up on|checked|checking|worked out|working out|figured out|figuring out|calculated|calculating|counted|counting) (?:online |on the internet |on google )?(?:how many|how much|what dose|which dose|what amount|what number|how long|the dose)(?: \w+){0,6}? (?:it would take|would it take|would take|it takes|it will take|i would need|i need|would (?:kill|be (?:fatal|lethal|deadly|enough))|is (?:fatal|lethal|deadly|enough to)|to (?:die|kill|be fatal|be lethal|not wake up|end it|do it|stop my heart|overdose)|(?:a )?(?:fatal|lethal|deadly)(?: dose)?)\b",
        r"\b(?:fatal|deadly|lethal) (?:dose|doses|amount|amounts|quantity|number of (?:pills|tablets))\b",
        r"\b(?:what|which) (?:dose|amount) (?:of (?:\w+ ){1,2})?(?:is|would be|will be) (?:fatal|lethal|deadly|enough to (?:die|kill))\b",
        r"\b(?:painless|quickest|fastest|easiest|surest|best) (?:way|ways|method|methods) to (?:die|go|end it|do it|kill myself)\b",
        r"\bhow long (?:it|does it|would it) (?:takes?|take) to die\b",
        # Access to means: "bought a rope", "saving my pills", "gun in the house and I keep thinking about it".
        r"\b(?:bought|buying|got|getting|have|keep|kept|hid|hidden|hiding) (?:a |some |the |myself a )?(?:rope|noose)\b(?! (?:for|to) (?:the |a |my )?(?:swing|climbing|boat|garden|camping|tent|dog|tow|gym|washing|laundry))",
        r"\b(?:saving|saved|save|stashing|stashed|stash|collecting|collected|hiding|hid|hidden|keeping|kept|storing|stored) (?:up )?(?:all )?(?:of )?(?:my |some |the |a few |extra |spare )?(?:\w+ )?"
        + _PILLS
        + r"\b(?! (?:for (?:my |the )?(?:trip|holiday|travel|vacation|refill|weekend|when i travel)|in (?:a|the) (?:pill box|organi[sz]er|fridge|cupboard|cabinet)))",
        r"\b(?:a |my |the |our |dads |his |her )?(?:gun|guns|firearm|rifle|pistol|shotgun|handgun)\b(?: \w+){0,8} (?:and )?i (?:keep|kept|can not stop|have been|been|am|was) (?:thinking|looking|staring|going back|fixating|fixated) (?:about|at|to|on) (?:it|them|using (?:it|them))\b",
        r"\b(?:thinking|thought|think|fantasi[sz]ing) (?:a lot )?about (?:using )?(?:the|my|a|dads|his|her|our) (?:gun|rifle|pistol|shotgun|rope|pills|stash)\b",
        r"\b(?:bought|got|getting|buying|loaded|cleaned|took out|held) (?:a |the |my )?(?:gun|rifle|pistol|shotgun|handgun)\b(?: \w+){0,4} (?:for myself|to use on myself|and (?:put|held) it to my head|just in case)\b",
        r"\b(?:enough|plenty of|a (?:big |huge )?stash of|a pile of|a supply of) (?:\w+ )?"
        + _PILLS
        + r" (?:\w+ ){0,2}(?:saved|stashed|stored|put away|hidden|set aside|collected)\b",
        r"\b" + _PILLS + r" (?:saved|stashed|put away|hidden|set aside) (?:up|away)\b",
        r"\b(?:bought|got|getting|buying|purchased|picked up|ordered) (?:a |myself a |a new )?(?:gun|handgun|pistol|rifle|shotgun|firearm)\b(?! (?:for (?:hunting|work|my job|the range|target|sport|protection of)|licen[cs]e))",
        r"\bi (?:have|have got|got|found|know) (?:a|the) (?:way|means|method) to do it\b",
        # A plan with a time, a date or a place.
        r"\b(?:picked|chosen|chose|set|decided on|planned|worked out|know) (?:a |the )?(?:date|day|time|night|place|spot|bridge)\b(?! (?:for|of) (?:the|our|my|a|his|her) (?:wedding|party|move|trip|holiday|vacation|surgery|appointment|interview|meeting|birthday|exam|operation|visit|flight|date))",
        r"\b(?:i know|i have decided|decided) (?:how|when|where) (?:i am going to|i will|i would|to) do it\b",
        r"\b(?:tonight|tomorrow|this weekend|on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|after (?:the|my) (?:kids|birthday|funeral|christmas)) is (?:when|the night|the day) (?:i will|i am going to|it happens)\b",
        r"\b(?:it|everything) will (?:all )?be over (?:soon|tonight|tomorrow|by (?:the weekend|monday|friday|morning))\b",
        r"\bmade my peace\b(?! with (?:the|my|it|that|this) (?:diagnosis|decision|job|weight|ex|situation|divorce|loss))",
        # Hopelessness with intent.
        r"\b(?:no hope|hopeless|no future|nothing will (?:ever )?(?:get|be) better|it will never (?:get|be) better|nothing is going to change|no point any more|no point anymore)(?: \w+){0,8}? (?:(?:so|and) i am (?:ready|done|going to do something|going to do it|going to end|going to act)|i know what i (?:have|need|am going) to do|i have made up my mind|my mind is made up|i am ready to go|i am going to do something about it|time to (?:end|go|check out))\b",
        r"\bi know what i (?:have|need|am going) to do(?: \w+){0,3} (?:tonight|soon|now|this time|to make it stop|to end it|to stop the pain)\b",
        r"\b(?:check|checking) out (?:for good|permanently|of life|early)\b",
    ],
    "passive": [
        r"\b(?:would|will|is|be|were) (?:a lot |so much )?(?:better|happier|easier|better off)(?: off)? (?:for (?:everyone|everybody|them|my family|all|the world) )?(?:if|when) i (?:(?:was|were|am) (?:not|no longer) (?:here|around|alive|in the picture|in their lives|born)|(?:was|were) (?:gone|dead|never born)|died|disappeared|did not wake up|did not exist|was not)\b",
        r"\b(?:better|happier|easier|safer) (?:off )?without me\b",
        r"\bbetter off (?:not (?:existing|being here|being alive|alive|here|around|born)|never (?:being|having been) born)\b",
        r"\b(?:feel|feeling|felt|feels) like (?:dying|ending it|ending (?:it all|things|my life|everything)|killing myself|not being (?:here|alive|around)|not existing|disappearing forever|i want to die|giving up on life)\b(?! (?:my|your|her|his|the) hair)",
        r"\b(?:would|had|d) (?:much )?rather (?:be dead|die|not (?:be alive|exist|live|wake up|be here|be around))\b",
        r"\bmight as well (?:be dead|die|not exist|not be here|end it)\b",
        r"\b(?:part of me|i|sometimes i|i still|i really) (?:wants?|wanted|wanting) to (?:die|be dead|not exist|not be alive|not be here)\b",
        r"\bcan not (?:live|go on|keep living|continue|keep going) like this\b",
        r"\b(?:do not|can not|could not) see (?:a|any) way out\b",
        r"\bsee no way out\b",
        r"\bno way out\b(?! of (?:the|this|my) (?:contract|lease|deal|meeting|job|parking))",
        r"\b(?:what is|whats) the point (?:of|in) (?:living|life|being alive|going on|carrying on|anything|even trying|being here)\b",
        r"\bwhy (?:should|would|do|bother to) i (?:even )?(?:keep )?(?:live|living|go on|going on|keep going|bother living|stay alive|be alive|carry on)\b",
        r"\bwant to (?:go to )?sleep forever\b",
        r"\b(?:had|have had|i have had) enough of (?:life|living|being alive|it all|everything|this life|existing|being here)\b",
        r"\b(?:do not|can not|could not|no longer|fail to) see (?:the|any|a) (?:point|reason|purpose) (?:in|of|to|for) (?:living|life|going on|being alive|carrying on|live|go on|being here|existing)\b",
        r"\b(?:passive|active) (?:si|suicidal ideation)\b",
        r"\bsi (?:with|without) (?:a )?(?:plan|intent)\b",
        r"\b(?:endorses|endorsing|reports|reporting|having|have|had) si\b",
        r"\bbetter off (?:dead|gone|without me|if i (?:was|were|am) (?:dead|gone|not here|not around|never born))\b",
        r"\b(?:would|will|is|be) (?:better|easier) (?:for everyone |for them |for my family )?if i (?:was|were|died|am|disappeared|did not wake up|was not here|were not here|was gone|were gone|was dead|were dead)\b",
        r"\bwish (?:i|that i) (?:was|were|could be|had been) (?:dead|never born|not born|gone|not here|not alive)\b",
        r"\bwish (?:i|that i) (?:had )?never (?:been born|existed|woke up)\b",
        r"\bwish(?:ing|ed)? (?:that )?i (?:could|would) (?:just )?(?:die|disappear|not wake up|never wake up|fall asleep and not wake up|go to sleep and not wake up|stop existing|not exist)\b",
        r"\b(?:hope|hoping|wish|wishing|pray|praying) (?:i|that i) (?:do not|will not|never|would not|did not) wake up\b",
        r"\b(?:hope|hoping|wish|wishing|pray|praying) (?:i|that i) (?:die|get hit|do not make it|get cancer)\b",
        r"\b(?:go to sleep|fall asleep|sleep)(?: forever)? and (?:never|not) wake up\b",
        r"\b(?:wish|wishing|hope|hoping) (?:someone|somebody|something|a car|a bus|a truck) would (?:kill|hit|run over) me\b",
        r"\b(?:do not|no longer|not|never|dont) (?:want|wish|feel like|care|have (?:the|any) (?:will|desire|energy)) to "
        + _LIVE
        + r"\b(?! (?:with|in|at|near|there|here|next|through))",
        r"\b(?:not|no longer) (?:sure|certain) (?:if |whether |that )?i (?:want|wish|care|have a reason) to "
        + _LIVE
        + r"\b",
        r"\b(?:do not know|unsure) (?:if|whether|why) i (?:want to|should|can|even want to) " + _LIVE + r"\b",
        r"\b(?:do not|no longer) care (?:if|whether) i (?:live|die|wake up|am alive|survive|make it)\b",
        r"\b(?:no|lost (?:the|my|all)|losing (?:the|my)|there is no) (?:will|desire|reason|reasons|point) (?:to|in) (?:live|living|go on|going on|keep going|stay alive|be alive|carrying on|carry on)\b",
        r"\bnothing (?:left )?to live for\b",
        r"\bno (?:point|reason|use|sense) (?:in |to )?(?:living|being alive|going on|carrying on|existing|life)\b",
        r"\blife (?:is|feels) (?:not|no longer) worth (?:living|it)\b",
        r"\bnot worth living\b",
        r"\b(?:tired|sick|weary) of (?:living|being alive|life|existing|being here)\b",
        r"\b(?:can not|could not|will not be able to) (?:go on|keep going|carry on|do this|keep doing this|take it|take this) (?:anymore|any more|any longer|much longer)\b",
        r"\bcan not go on (?:living|like this anymore)\b",
        r"\b(?:think|thinking|thought|thoughts|dream|dreaming|fantasi[sz]e|fantasi[sz]ing) (?:a lot |a lot more |more |often |sometimes |constantly )?(?:about|of) (?:dying|death|being dead|my death|my own death|not being (?:here|alive|around)|ending (?:it|things|my life)|killing myself|suicide|not waking up|my funeral|disappearing forever|not existing)\b",
        r"\b(?:want|wish|need) (?:it all|everything|my life|life|it) to (?:end|stop|be over)\b(?! (?:soon)? (?:so|and) i can (?:sleep|rest))",
        r"\b(?:no one|nobody|noone) (?:would|will|is going to|is gonna) (?:miss me|notice if i (?:died|was gone|were gone|disappeared)|care if i (?:died|die|was gone|were gone|disappeared))\b",
        r"\b(?:just )?want to disappear\b",
        r"\bwant to sleep (?:forever|and never wake up)\b",
        r"\b(?:i )?(?:should|deserve to) (?:just )?die\b",
        r"\bwant(?:ed)? to be dead\b",
    ],
    "goodbye": [
        r"\b(?:this is|these are) (?:my )?(?:final |last )?goodbyes?\b",
        r"\b(?:final|last) goodbyes?\b",
        r"\bgoodbye (?:forever|for good|for ever|everyone|everybody|world|cruel world|all|to (?:everyone|everybody|you all|all of you))\b",
        r"\bsay(?:ing)? (?:my )?goodbyes\b",
        r"\b(?:wrote|written|writing|write|left|leave|sent|send|sending)(?: \w+){0,2} (?:letters?|notes?|messages?|texts?) (?:to )?(?:say(?:ing)? )?(?:goodbye|good bye|farewell)s?\b",
        r"\b(?:wanted|want|needed|need) to say (?:goodbye|good bye|bye)(?: to (?:you|everyone|everybody|you all|my family))?(?! (?:to (?:my|the) (?:old|last|previous)))\b",
        r"\b(?:will not|may not|might not|am not going to|probably will not) be (?:around|here|alive) (?:much longer|for much longer|for long|anymore|any more|any longer|tomorrow|by tomorrow|next week|by then|to see|after (?:today|tonight|this))\b",
        r"\bgiv(?:e|ing|en) away (?:all )?(?:of )?(?:my|all my) (?:things|stuff|belongings|possessions|pets|cat|dog|money)\b",
        r"\b(?:you|nobody|no one|they) will (?:not|never) (?:hear from|see) me again\b",
        r"\bby the time (?:you|anyone|someone|somebody) (?:read|reads|see|sees|get|gets) this\b",
        r"\b(?:put|putting|getting|got|get) my affairs in order\b",
        r"\bmy (?:will|funeral) (?:is |are )?(?:ready|sorted|written|planned|done)\b",
        r"\bthis is (?:the )?(?:end|my last (?:message|note|day))\b",
        r"\b(?:tonight|today) is (?:the night|the day|my last)\b",
        # Preparatory acts (C-SSRS Q6): giving things away, letters, a will, rehoming pets.
        r"\b(?:wrote|written|writing|left|leaving) (?:a |some )?(?:note|notes|letter|letters) (?:for|to) (?:my |all my )?(?:family|kids|children|wife|husband|partner|mum|mom|parents|everyone|loved ones)\b(?! (?:about|to remind|reminding|so (?:she|he|they) know|with|explaining my (?:meds|medication|dose)))",
        r"\bgiv(?:e|ing|en|ven)(?: \w+)? away (?:all |most |everything |some )?(?:of )?(?:my|all my) (?:things|stuff|belongings|possessions|pets|cat|dog|cats|dogs|money|savings|jewell?e?ry|books|clothes|guitar|records|games|collection|treasured|favou?rite|valuables|prized)\b",
        r"\bgiv(?:e|ing|en) (?:all |most )?(?:of )?my (?:things|stuff|belongings|possessions|valuables|pets|cat|dog) (?:away|to (?:my |friends|family|people))\b",
        r"\b(?:found|finding|find|rehomed|rehoming|rehome) (?:a )?(?:new )?(?:homes?|owners?) for (?:my |all my )?(?:pets?|cats?|dogs?)\b",
        r"\b(?:wrote|written|writing|write|left|leave|leaving|finished) (?:\w+ ){0,3}(?:letters?|notes?|cards?|messages?|videos?) (?:\w+ ){0,4}(?:to read |to open |to watch )?(?:after i am gone|when i am gone|after i die|when i die|for after|for when i am gone|once i am gone|in case i do not (?:make it|come back|wake up))\b",
        r"\b(?:just |suddenly |finally |this week |yesterday |last night |today |quickly )(?:made|wrote|written|did|done|sorted out|drew up|drawn up|updated|changed) (?:a |my )will\b",
        r"\b(?:cancelled|canceled|cancelling|stopped|closing|closed) (?:\w+ ){0,2}(?:my )?(?:life insurance|bank accounts?|phone contract|subscriptions) (?:\w+ ){0,3}(?:will not need|no longer need|not need) (?:it|them) (?:anymore|any more|after)\b",
    ],
    "self_harm": [
        r"\bself (?:harm|harming|harmed|injury|injuring|injure|mutilat\w*|destruct\w*)\b",
        r"\b(?:hurt|hurting|harm|harming|harmed|cut|cutting|burn|burning|burned|burnt|injure|injuring|injured|punish|punishing|starve|starving|scratch|scratching|hit|hitting|bang|banging|stab|stabbing|mutilate|mutilating) myself\b",
        r"\b(?:started|start|been|began|begun|back to|relapsed (?:on|into)|went back to|going back to) (?:cutting|self harming|burning myself|hurting myself|harming myself)\b",
        r"\bcutting (?:again|my (?:arms|wrists|legs|skin|thighs))\b",
        r"\b(?:urge|urges) to (?:cut|hurt|harm|burn)(?! (?:someone|somebody|people|others|him|her|them))\b",
        r"\b(?:cut|cutting|cuts|slashed|slashing|slash|burned|burning|burnt|scratched|scratching) (?:up )?my (?:arms?|wrists?|legs?|thighs?|skin|stomach|body)\b",
        r"\b(?:scared|afraid|worried|frightened) (?:that )?i (?:might|will|would|could|am going to) (?:hurt|harm|kill|cut) myself\b",
    ],
    "command_hallucination": [
        r"\bvoices?\b(?: \w+){0,4} (?:tell|tells|telling|told|say|says|saying|said|order|orders|ordering|ordered|command|commands|commanding|want|wants|wanting|make|makes|making|urge|urges|urging|instruct\w*) (?:me )?(?:to )?"
        + _HARM
        + r"\b",
        r"\b(?:something|someone|somebody|god|the devil|satan|a voice|they) (?:is |are |keeps |keep )?(?:telling|told|tells|ordering|commanding|wants|want) me to (?:kill|hurt|harm|cut|stab|die|end my life|jump) (?:myself|me|"
        + _OTHERS
        + r")\b",
        r"\bcommand hallucinations?\b",
    ],
    "harm_others": [
        r"\b(?:want|wanted|wanting|going|plan|planning|planned|urge|urges|thoughts?|thinking|thought|tempted|intend|intending|ready|decided|feel like)(?: about| of)? (?:to )?(?:kill|killing|hurt|hurting|harm|harming|stab|stabbing|shoot|shooting|attack|attacking|strangle|strangling|murder|murdering|smother|smothering|drown|drowning) "
        + _OTHERS
        + r"\b(?! (?:feelings|by accident|accidentally))",
        r"\bhomicidal\b",
    ],
    "overdose": [
        r"\b(?:overdosed|overdosing|overdose)\b",
        r"\b(?:took|taken|take|taking|swallowed|swallow|ate|had|used|downed|necked|chugged) (?:\w+ ){0,3}?(?:too many|too much|extra|an extra|more than (?:i should|prescribed|i was told|the dose|my dose|i am supposed to)|a double|double|twice (?:the|my|as much)|(?:two|three|four|five|2|3|4|5|several|many|a few) (?:extra|more|times (?:the|my))|the whole (?:bottle|pack|packet|box|strip|lot)|a whole (?:bottle|pack|packet|box|strip)|all (?:of )?(?:my|the) "
        + _PILLS
        + r"|a handful|handfuls|a bunch)\b"
        r"(?! (?:care|time|long|effort|fibre|fiber|water|fluids|breaks|rest|steps|precautions|days|weeks|hours|minutes|notice|caution|vitamin\w*|sleep|exercise|walks?|coffee|food|attention))",
        r"\b(?:took|taken|swallowed|had|ate) (?:about |around |like |over |maybe |nearly |almost )?(?:[1-9]\d+|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|a hundred) (?:of )?(?:my |the |his |her )?(?:\w+ )?"
        + _PILLS
        + r"\b",
        r"\b(?:took|taken|swallowed|had|ate|downed|necked|popped|chugged) (?:about |around |like |over |maybe |nearly |almost |at least |more than )?(?:[6-9]|six|seven|eight|nine) (?:of )?(?:my |the |his |her )?(?:\w+ )?"
        + _PILLS
        + r"\b(?: (?:at once|all at once|in one go|together|at the same time))?",
        r"\b(?:took|taken|swallowed|had|ate|downed|necked|popped|chugged) (?:\w+ ){0,2}?(?:the whole|a whole|an entire|the entire|the rest of (?:the|my)|what was left (?:of|in) (?:the|my)|all (?:that was )?left (?:in|of) (?:the|my)) (?:\w+ )?(?:bottle|pack|packet|box|strip|blister pack|blister|sheet|tub|jar|container|supply|prescription|month s supply|weeks supply)\b",
        r"\b(?:swallowed|took|taken|ate|downed) (?:\w+ ){0,2}(?:handfuls?|fistfuls?|a load|loads|a bunch|dozens|a pile|dozen) (?:of )?(?:my |the )?(?:\w+ )?"
        + _PILLS
        + r"\b",
        r"\bdoubled? (?:up )?(?:on )?(?:my )?(?:dose|doses|meds|pills|medication|tablets)\b",
        r"\bdouble dos(?:ed|ing)\b",
        r"\b(?:accidentally|by mistake|mistakenly|accidently) (?:took|taken|swallowed|had|take) (?:\w+ ){0,4}?(?:dose|doses|pills|tablets|meds|medication|medicine|extra|twice|again|someone|my (?:\w+ )?(?:wife|husband|partner|mom|mum|dad|son|daughter)s?)\b",
        r"\b(?:took|taken|take|took my) (?:\w+ ){0,3}?(?:dose|doses|pills|tablets|meds|medication) (?:twice|two times|2 times|again) (?:today|this morning|tonight|by mistake|by accident|accidentally)\b",
    ],
    "poisoning": [
        r"\b(?:my |our |the |a |his |her )?(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve) (?:year|month|yr)s? old (?:\w+ ){0,2}?(?:swallowed|ate|eaten|has eaten|chewed|got into|has got into|took|has taken|may have (?:swallowed|eaten|taken|had)|might have (?:swallowed|eaten|taken|had))(?: \w+){0,5}? (?:pills?|tablets?|capsules?|meds|medication|medications|medicine|medicines|(?:my|the|her|his) (?:\w+ )?(?:bottle|packet|pack|strip|blister pack|pill box|pill organi[sz]er))\b",
        r"\b(?:my |our |the |a |his |her )?(?:\w+ )?(?:son|daughter|kid|kids|child|children|toddler|baby|grandson|granddaughter|grandchild|niece|nephew|little one|boy|girl|twins?|dog|cat|puppy|kitten|pet|parrot|ferret|rabbit|husband|wife|partner|mom|mum|mother|dad|father|grandma|grandmother|grandpa|grandfather|roommate|flatmate|friend|brother|sister)s? (?:\w+ ){0,2}(?:swallowed|ate|eaten|has eaten|chewed|chewed up|got into|has got into|took|has taken|taken|has had|may have (?:swallowed|eaten|taken|had)|might have (?:swallowed|eaten|taken|had)|could have (?:swallowed|eaten|taken)|found and (?:ate|swallowed))(?: \w+){0,5}? (?:pills?|tablets?|capsules?|meds|medication|medications|medicine|medicines|gummies|vitamins|edibles|patch|patches|my (?:\w+ )?(?:dose|prescription)|(?:my|the|her|his) (?:\w+ )?(?:bottle|packet|pack|strip|blister pack|pill box|pill organi[sz]er))\b",
        r"\b(?:found|caught) (?:my |our |the )?(?:\w+ )?(?:son|daughter|kid|child|toddler|baby|grandson|granddaughter|dog|cat|puppy|pet|boy|girl) (?:with|chewing|eating|sucking on) (?:\w+ ){0,3}(?:pills?|tablets?|capsules?|meds|medicine|bottle|packet|strip|blister pack)\b",
        r"\b(?:pills?|tablets?|capsules?|meds|medicine|medication) (?:\w+ ){0,3}(?:missing|gone|chewed) (?:\w+ ){0,4}(?:and )?(?:my |our |the )?(?:\w+ )?(?:son|daughter|kid|child|toddler|baby|dog|cat|puppy|pet) (?:was|is|has been) (?:\w+ )?(?:playing with|chewing|near|holding|got)\b",
        r"\baccidental (?:ingestion|poisoning|overdose)\b",
    ],
}

# Idioms and third-party mentions: a crisis match inside one of these is dropped.
_IDIOMS = [
    r"\bdying (?:to|for) (?:know|see|try|hear|meet|get|go|find out|tell|have|eat|watch|read)\b",
    r"\bto die for\b",
    r"\b(?:could|would) (?:kill|murder) (?:for|someone for)\b",
    r"\bkill(?:ed|ing|s)? myself (?:laughing|with laughter)\b",
    r"\bkilling myself (?:at (?:work|the gym)|working|with work|trying|to get fit|to keep up|over (?:this|that|work|the exam|exams))\b",
    r"\b(?:friend|friends|brother|sister|mother|father|mom|mum|dad|son|daughter|partner|wife|husband|cousin|someone|somebody|he|she|they|patient|client|colleague|roommate) (?:who )?(?:is|was|are|were|feels|felt|seems|seemed|has been|had been|got) (?:really |very |a bit )?suicidal\b",
    r"\b(?:nearly|almost) killed myself (?:\w+ ){0,3}(?:tripping|falling|on the|in the|at the|when|laughing|slipping)\b",
    r"\b(?:hurt|injured|cut|burned|burnt|hit|banged|scratched) myself (?:\w+ ){0,3}(?:shaving|cooking|chopping|lifting|running|playing|at the gym|at work|working out|exercis\w*|by accident|accidentally|on (?:a|the|some)|with (?:a|the) (?:knife|iron|oven|pan|kettle|razor)|when i (?:fell|slipped|tripped)|falling|in the kitchen|gardening)\b",
    r"\b(?:fell|slipped|tripped|accidentally|by accident) (?:and |over and )?(?:hurt|cut|burned|burnt|hit|banged|injured) myself\b",
    r"\b(?:died|dying|death|lost (?:\w+ ){1,3}|killed (?:himself|herself|themselves)|took (?:his|her|their) (?:own )?life) (?:by|to|from|of) suicide\b",
    r"\b(?:his|her|their|a friends|my friends|my brothers|my sisters|my moms|my mums|my dads|my fathers|my mothers|my sons|my daughters|my cousins|my uncles|my aunts) suicide\b",
    r"\bsuicide (?:squad|doors?|run|runs|mission|king|notes? (?:in|from) (?:a|the) (?:book|film|movie|show))\b",
    r"\bsuicide (?:prevention|awareness) (?:training|course|month|week|day|walk|event|charity)\b",
    r"\b(?:a|an|the|this|that) (?:\w+ )?(?:show|film|movie|book|song|episode|documentary|series|podcast|article|story|lecture|talk|course|training|play) (?:about|on) (?:suicide|self harm)\b",
    r"\bwant to disappear (?:for a (?:while|bit|few days|holiday|weekend)|on (?:a|holiday))\b",
    r"\b(?:the|my|this) (?:pain|headache|nausea|itching|noise|side effects?) (?:to|would) (?:end|stop|be over)\b",
    r"\b(?:take|taking|took) (?:extra|too much|too many) (?:care|time|effort)\b",
    r"\bkill (?:some )?time\b",
    r"\bcut my (?:finger|fingers|hand|foot|feet|leg|arm|thumb|knee|toe|lip|face|head)s? (?:on|while|shaving|cooking|chopping|gardening|at work|by accident|accidentally|opening)\b",
]

_COMPILED = {category: [re.compile(p) for p in patterns] for category, patterns in PATTERNS.items()}
_IDIOM_RE = re.compile("|".join(_IDIOMS))
# "If I took too many…" is a question, not an overdose; "if I don't get better I'll kill myself"
# is still crisis language: only the overdose category honours hypotheticals.
_HYPOTHETICAL_OK = {"overdose", "poisoning"}
ORDER = ("suicidal", "goodbye", "command_hallucination", "self_harm", "harm_others", "passive", "overdose", "poisoning")


@dataclass(frozen=True)
class CrisisHit:
    category: str
    phrase: str


def _idiom_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _IDIOM_RE.finditer(text)]


# Someone else swallowed something: "the dog ate my lithium". It is poisoning when the object names a
# medicine (the caller passes its medicine-name pattern); "the dog ate my homework" is not.
_OTHER_SWALLOWED = re.compile(
    r"\b(?:my |our |the |a |his |her )?(?:son|daughter|kid|kids|child|children|toddler|baby|grandson|granddaughter|"
    r"grandchild|niece|nephew|little one|boy|girl|dog|cat|puppy|kitten|pet|husband|wife|partner|mom|mum|mother|dad|"
    r"father|friend|brother|sister)s? (?:\w+ ){0,2}?(?:swallowed|ate|eaten|chewed|chewed up|got into|took|has taken|"
    r"may have (?:swallowed|eaten|taken)|might have (?:swallowed|eaten|taken))(?P<object>(?: \w+){1,5})"
)


def _swallowed_medicine(norm: str, medicines: re.Pattern | None) -> str | None:
    if medicines is None:
        return None
    for match in _OTHER_SWALLOWED.finditer(norm):
        if medicines.search(match.group("object")) and not textmatch.is_negated(norm, match.start(), match.end()):
            return match.group()
    return None


def find(text: str, *, normalized: bool = False, medicines: re.Pattern | None = None) -> list[CrisisHit]:
    """One hit per category found (the first phrase), in ``ORDER``. ``medicines`` (a pattern of
    medicine names) lets "my toddler ate my sertraline" count as poisoning."""
    norm = text if normalized else textmatch.normalize(text)
    idioms = _idiom_spans(norm)
    hits: list[CrisisHit] = []
    for category in ORDER:
        for pattern in _COMPILED[category]:
            found = None
            for match in pattern.finditer(norm):
                if any(start <= match.start() < end or start < match.end() <= end for start, end in idioms):
                    continue
                if textmatch.is_negated(norm, match.start(), match.end(), hypothetical=category in _HYPOTHETICAL_OK):
                    continue
                found = match.group()
                break
            if found:
                hits.append(CrisisHit(category, found.strip()))
                break
    if not any(hit.category == "poisoning" for hit in hits):
        swallowed = _swallowed_medicine(norm, medicines)
        if swallowed:
            hits.append(CrisisHit("poisoning", swallowed.strip()))
    return hits
