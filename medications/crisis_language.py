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
from functools import lru_cache

from medications import textmatch

_PILLS = r"(?:pills|tablets|tabs|meds|medication|medications|medicine|medicines|capsules|drugs|prescription|bottle|pack|packet|supply|doses|lithium)"
_HARM = r"(?:kill|hurt|harm|cut|stab|shoot|attack|strangle|burn|poison|drown|murder|die|end (?:it|my life)|jump)"
_OTHERS = (
    r"(?:someone|somebody|people|others|other people|everyone|everybody|him|her|them|the baby|my baby|"
    r"(?:the|that|this) (?:guy|man|woman|lady|bloke|kid|person|neighbou?r)|my (?:\w+ )?(?:step ?(?:mum|mom|mother|dad|father|son|daughter|brother|sister|kids?)|wife|husband|partner|boss|mother|mom|mum|father|dad|son|daughter|kids?|children|child|baby|brother|"
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
        r"\b(?:painless|quickest|fastest|easiest|surest) way out\b(?! of (?:the|this|here|town|a|my))",
        r"\b(?:got hold of|hid|hidden|hiding|stashed|stashing) (?:a |some |the )?(?:rope|noose|ligature|cord)\b(?! (?:for|to) (?:the |a |my )?(?:swing|climbing|boat|garden|camping|tent|dog|tow|gym|washing|laundry))",
        r"\b(?:walk(?:ing|ed)?|step(?:ping|ped)?|run(?:ning)?|ran|jump(?:ing|ed)?|throw(?:ing)? myself|threw myself|lie (?:down )?|lying (?:down )?) (?:out )?(?:into|in front of|under|onto) (?:traffic|a (?:train|truck|lorry|bus|car)|the (?:tracks|train|traffic|motorway|highway))\b",
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
        r"\b(?:i know|i have decided|decided) (?:exactly )?(?:how|when|where) (?:i am going to|i will|i would|to) do it\b",
        r"\bi know (?:exactly )?(?:which|what|how many) (?:\w+ )?(?:pills|tablets|meds|ones|bridge|building|method) i (?:would|will|am going to|d) (?:take|use|jump from)\b",
        r"\b(?:tonight|tomorrow|this weekend|on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|after (?:the|my) (?:kids|birthday|funeral|christmas)) is (?:when|the night|the day) (?:i will|i am going to|it happens)\b",
        r"\b(?:it|everything) will (?:all )?be over (?:soon|tonight|tomorrow|by (?:the weekend|monday|friday|morning))\b",
        r"\bsee you on the other side\b(?! of (?:the|my) (?:surgery|operation|trip|holiday|weekend|move))",
        r"\b(?:started|been|am|begun|began|started quietly) saying goodbyes? to (?:people|everyone|everybody|my friends|my family|friends|family)\b",
        r"\b(?:look after|take care of|have|keep) my (?:\w+ ){0,2}(?:dog|cat|pets?|kids|children|things|plants) (?:if|when) (?:anything|something) (?:happens|were to happen|should happen) to me\b(?! (?:during|in|at) (?:the )?(?:surgery|operation|hospital|trip|travel|flight))",
        r"\bif i am (?:not|no longer) (?:here|around|alive) (?:next (?:week|month)|tomorrow|by then|by next \w+)\b(?! (?:because|since|as) (?:i|we) (?:will be|am|are) (?:away|travel\w*|on holiday))",
        r"\b(?:sorted out|decided|worked out|wrote down|written down|planned) who (?:gets|will get|should get|is getting|will have|can have) (?:my|all my) (?:things|stuff|belongings|possessions|money|savings)\b",
        r"\b(?:gave|given|giving|give) (?:away (?:all |most )?(?:of )?(?:my|his|her) (?!(?:\w+ )?(?:old|spare|extra|unused|outgrown|broken|baby)\b)(?:\w+ ){0,2}(?:cats?|dogs?|pets?|guitar|games|console|laptop|computer|bike|car|jewell?e?ry|watch|collection|records|books|savings|money|things|stuff|belongings|possessions)|(?:my|his|her) (?:cats?|dogs?|pets?) (?:away|to))\b(?![^.?!]{0,40}\b(?:to (?:look after|mind|watch|keep|hold)|for the (?:week|weekend|night|holiday|day)|while (?:i|we)))",
        r"\bgave away (?:all )?(?:of )?(?:my|his|her|their) (?!old |spare |extra |unused |outgrown |baby )(?:\w+ ){0,2}\w+\b(?! (?:to (?:charity|a charity)|that (?:no longer|did not) fit))",
        r"\b(?:wrote|written|writing|left|leaving) (?:my |a |some )?(?:\w+ )?(?:a )?(?:letters?|notes?) explaining (?:why|everything|what i (?:did|am going to do|have done))\b",
        r"\b(?:note|letter|message|text)s? (?:\w+ ){0,4}(?:saying|that said|that says|to say) (?:i am )?(?:sorry for everything|goodbye|it is not your fault|it was not your fault|do not blame yourselves?|please look after)\b",
        r"\b(?:texted|messaged|sent|posted|wrote)(?: me| us| everyone| her| him)? (?:a )?(?:goodbye|good bye|bye)\b[^?]{0,80}?\b(?:not|no longer|stopped) (?:answering|picking up|responding|replying)\b",
        r"\bmade my peace\b(?! with (?:the|my|it|that|this) (?:diagnosis|decision|job|weight|ex|situation|divorce|loss))",
        # Hopelessness with intent.
        r"\b(?:no hope|hopeless|no future|nothing will (?:ever )?(?:get|be) better|it will never (?:get|be) better|nothing is going to change|no point any more|no point anymore)(?: \w+){0,8}? (?:(?:so|and) i am (?:ready|done|going to do something|going to do it|going to end|going to act)|i know what i (?:have|need|am going) to do|i have made up my mind|my mind is made up|i am ready to go|i am going to do something about it|time to (?:end|go|check out))\b",
        r"\bi know what i (?:have|need|am going) to do(?: \w+){0,3} (?:tonight|soon|now|this time|to make it stop|to end it|to stop the pain)\b",
        r"\b(?:check|checking) out (?:for good|permanently|of life|early)\b",
        # Method research told loosely (C-SSRS: researching a method is a plan): asking online whether an
        # amount would be enough or fatal, which medicine is the most dangerous, which place is the highest.
        r"\b(?:looked up|look up|looking up|googled|googling|searched|searching|researched|researching|read up on|reading up on|reading about|read about|looked into|looking into|found out|finding out|asked (?:online|chatgpt|google))(?: \w+){0,5}? (?:how many|how much|what dose|which dose|what amount|whether|if) (?:\w+ ){0,6}?(?:would|will|is|are|was) (?:be )?(?:enough|fatal|lethal|deadly)\b(?! (?:for (?:a|the|my) (?:month|week|trip|holiday)|to last|until|till))",
        r"\b(?:looked up|looking up|googled|googling|searched|searching|researched|researching|found out|finding out|reading about|read about|read up on|checked|checking)(?: \w+){0,4}? (?:which|what) (?:\w+ ){0,4}?(?:is|are|would be) (?:the )?(?:most (?:dangerous|lethal|deadly|toxic)|deadliest|most likely to kill)\b",
        r"\b(?:looked up|looking up|googled|googling|searched|searching|researched|researching|found out|finding out|checking out|checked out|scouting|scouted)(?: \w+){0,3}? (?:which|what|the) (?:\w+ ){0,4}?(?:bridge|building|car park|parking garage|cliff|tower|roof) (?:\w+ ){0,4}?(?:is )?(?:the )?(?:highest|tallest)\b",
        r"\b(?:reading|read|researching|looking at|watching) (?:\w+ ){0,5}?(?:how|where) (?:people|they|others|you|to) (?:\w+ ){0,2}?(?:go|die|do it|end it|kill themselves|kill yourself)\b(?! (?:to (?:the|a|bed|sleep|work|school)|out|home|back|about|on holiday))",
        r"\bwhat (?:happens|would happen|will happen) if (?:someone|somebody|a person|you|i|one) (?:takes?|took|swallows?|swallowed|had|has) (?:all|the whole|a whole|every one|an entire)\b",
        r"\b(?:bought|buying|got|getting|picked up) (?:\w+ ){0,3}(?:paracetamol|acetaminophen|tylenol|painkillers|pills|tablets|sleeping pills) from (?:\w+ ){0,2}(?:different|several|multiple|two|three|four|five|a few|lots of) (?:shops|stores|pharmacies|chemists|places|supermarkets)\b",
        r"\b(?:pills|tablets|meds|medication|capsules) (?:\w+ ){0,2}(?:lined up|laid out|set out|counted out)\b",
        r"\b(?:lined|lining|laid|laying|set|setting|counted|counting) (?:up |out )?(?:all )?(?:of )?(?:the |my )(?:\w+ )?(?:pills|tablets|capsules)\b(?:[^?]{0,160}?)\b(?:it is|that is|that will be|there are|there is|it will be|would be|will be|is) enough\b(?! (?:for|until|to last|till|left))",
        # Giving up, then a plan mentioned in the same report.
        r"(?<=\bi am )(?:so )?done\b(?! with (?:therapy|the course|work|school|college|uni|my (?:course|exams?|shift|degree)))[^?]{0,120}?\bi (?:have|have got|made|got|already have) a plan\b(?! (?:to|with|for (?:the|my|our|a) ))",
        # Means gathered or moved close, with the reason hinted at rather than said.
        r"\b(?:pills|tablets|meds|medication|gun|rope|razor|blades)\b[^?]{0,120}?\b(?:i think |i guess )?you (?:know|can guess) (?:why|what (?:for|i mean|that means|they are for))\b",
        r"\b(?:supply|supplies|pills|tablets|prescriptions?|meds|repeats?|refills?)\b[^?]{0,120}?\bso (?:that )?i (?:have|will have|would have|had) enough\s*(?:[.!]|$)",
        # A plan with a time or a date (C-SSRS Q5: intent with a plan), said without suicide words.
        r"\b(?:is|will be) (?:when|the (?:night|day|time)) (?:i am going to|i will|i am gonna) (?:do it|go|end it|end things)\b",
        r"\b(?:have|got|made|set) (?:a |the )?(?:date|day|time) (?:picked|chosen|set|decided)\b(?! (?:for|of) )",
        r"\b(?:i have|i|finally) (?:worked out|figured out|decided) how(?: i am going to do it| i will do it| to do it)?\s*(?:[.!?]|$)",
        r"\b(?:for|until) when i (?:decide|am ready|have had enough)\b|\bwhen i decide (?:it is|its) time\b",
        r"\b(?:have not|did not|not) (?:jumped|done it|gone through with it|taken them|tried)(?: \w+){0,2}[.,!]? yet\b",
        r"\b(?:standing|stood|stand|sitting|sat|sit|leaning|leaned|climbed|climbing) (?:on|at|by|over|onto) the (?:edge|ledge|railing|rail) of (?:the|a|my|our) (?:\w+ )?(?:balcony|bridge|roof|building|cliff|platform|car park|multi storey)\b|\b(?:standing|stood|sitting|sat) on (?:the|a) ledge\b",
        r"\b(?:swerv\w*|veer\w*|steer\w*|driv\w*|drove|crash\w*) (?:my car )?(?:into|in front of) (?:oncoming|traffic|a (?:train|truck|lorry|bus|tree|wall|bridge)|the (?:river|sea|barrier|wall|central reservation))\b",
        r"\b(?:thinking|thought|think|keep thinking)(?: \w+){0,2} (?:of|about) (?:the )?(?:train|railway|rail) (?:tracks|track|line|lines)\b",
        r"\bunaliv(?:e|ed|ing) (?:myself|me)\b",
        r"\b(?:sat|sitting|sit|waited|waiting) in (?:the|my) (?:car|garage) with the (?:engine|car|motor) (?:running|on)\b|\bwith the (?:engine|car|motor) running in (?:the|a|our) (?:closed |shut )?garage\b",
        r"\b(?:looking at|looked at|looking up|looked up|checking|checked|googled|googling|researching|researched) how (?:high|tall|deep|far down|far) (?:the |that |a |our )?(?:\w+ ){0,2}(?:bridge|building|car park|multi ?storey|cliff|tower|roof|balcony|drop|fall|river) (?:is|are|would be)\b",
        r"\b(?:scared|afraid|worried|frightened|terrified) (?:that )?i (?:will|might|would|am going to|could) (?:actually |really )?(?:do it|go through with it|act on (?:it|them|these thoughts))\b(?! (?:wrong|badly|incorrectly|right))",
        # Access to means: a stockpile or a weapon taken and kept close.
        r"\b(?:stockpil|hoard)\w* (?:\w+ ){0,3}(?:{MED})\b",
        r"\b(?:enough|plenty of|a stash of|a pile of) (?:\w+ ){0,2}(?:{MED}) (?:\w+ ){0,2}(?:saved|stashed|stored|put away|hidden|set aside|collected|to make sure|to do it|to end it)\b",
        r"\b(?:took|taken|have|got|hid|hidden|hiding|keep|keeping|kept|moved) (?:my |his |her |the |a |our )?(?:\w+ )?(?:gun|rifle|pistol|shotgun|handgun|firearm) (?:\w+ ){0,2}(?:in|under|into) my (?:room|bedroom|bed|car|bag|drawer|pillow)\b",
        r"\b(?:keep|keeping|carry|carrying) (?:a |my )?(?:razor|blade|knife|pills) (?:\w+ ){0,3}(?:for when|just in case|in case i)\b",
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
        r"\bwish(?:ing|ed)? (?:i|that i) (?:was|were|could be|had been) (?:dead|never born|not born|gone|not here|not alive)\b",
        r"\b(?:how |it would be |would be )?(?:peaceful|nice|easier|a relief|restful|good) (?:it )?(?:would be |will be )?to (?:just )?(?:not exist|not be (?:here|alive|around)|be dead|never wake up|not wake up|die|stop existing)\b",
        r"\bdone (?:living|with (?:life|living|this life|being alive|existing))\b",
        r"\b(?:not|will not) (?:going to )?be a burden (?:much longer|for much longer|for long|anymore|any more|any longer)\b",
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
        r"\b(?:punch|punching|punched|slap|slapping|slapped|bite|biting|bit|choke|choking|choked|strangle|strangling|strangled|pinch|pinching|pinched) myself\b",
        r"\b(?:been |keep |kept |started |start )?(?:hitting|banging|smashing|bashing|punching) my (?:head|fists?|hands?) (?:against|into|on) (?:the |a )?(?:wall|walls|floor|door|desk|table)\b",
        r"\b(?:shd|sh ed|shing)\b",
        r"\b(?:carved|carving|carve|etched|etching|scratched|scratching|burnt|burned|branded) (?:\w+ ){0,3}(?:into|in|on) my (?:arm|arms|leg|legs|skin|thigh|thighs|wrist|wrists|stomach|hand|hands|body|chest|hip|hips)\b",
        r"\bswallow\w* (?:\w+ ){0,3}(?:paper ?clips?|batteries|battery|pins|nails|glass|razors?|blades?|coins?|screws|magnets|bleach|cleaning products?)\b",
        r"\b(?:want|wanted|need|needed|urge|urges) to cut\b(?! (?:my hair|back|down|out|off|ties|the|it|them|(?:my|the|them|it) (?:hours|dose|doses|meds|losses|nails|fringe|tablets?|pills?|patch)|costs|sugar|carbs|in half|them in half))",
        r"\b(?:made|making|make|did|doing) (?:\w+ )?cuts (?:on|in|into|across) my\b",
        r"\b(?:been|keeps?|kept|started|is|was|caught (?:him|her|them)) (?:cutting|burning|hurting|harming|hitting|scratching|starving|punching) (?:him|her|them)sel(?:f|ves)\b",
        r"\brelapsed\b[^?]{0,80}?\bmy (?:arms?|thighs?|wrists?|legs?|stomach|skin) (?:is|are) (?:a mess|cut up|bleeding|covered)\b",
        r"\b(?:the |a |my )?(?:blade|razor|razor blade) is (?:next to|beside|with|near|by) me\b",
        r"\b(?:found|finding|hid|hidden|hiding|taped|stashed|stashing) (?:\w+ ){0,4}(?:razor ?blades|razors|blades)\b|\b(?:razor ?blades|blades) (?:\w+ ){0,2}(?:taped|hidden|stashed)\b",
        r"\b(?:tied|tying|tie|put|wrapped|wrapping|pulled) (?:\w+ ){0,3}(?:tight|tightly) (?:\w+ )?(?:round|around) my (?:own )?neck\b|\b(?:tied|tying|wrapped|pulled) (?:\w+ ){0,3}(?:round|around) my (?:own )?neck (?:\w+ )?(?:tight|tightly|until|to see)\b",
    ],
    "command_hallucination": [
        r"\bvoices?\b(?: \w+){0,4} (?:tell|tells|telling|told|say|says|saying|said|order|orders|ordering|ordered|command|commands|commanding|want|wants|wanting|make|makes|making|urge|urges|urging|instruct\w*) (?:me )?(?:to )?"
        + _HARM
        + r"\b",
        r"\b(?:something|someone|somebody|god|the devil|satan|a voice|they) (?:is |are |keeps |keep )?(?:telling|told|tells|ordering|commanding|wants|want) me to (?:kill|hurt|harm|cut|stab|die|end my life|jump) (?:myself|me|"
        + _OTHERS
        + r")\b",
        r"\bcommand hallucinations?\b",
        r"\bvoices?\b(?: \w+){0,12} (?:i|that i) (?:have to|must|need to|should|got to) (?:stop|get|punish|deal with|get rid of|kill|hurt|attack|silence) (?:him|her|them|my \w+|the \w+)\b",
    ],
    "harm_others": [
        r"\b(?:want|wanted|wanting|going|plan|planning|planned|urge|urges|thoughts?|thinking|thought|tempted|intend|intending|ready|decided|feel like|picturing|picture|imagining|imagine|fantasi[sz]ing)(?: about| of)? (?:to )?(?:kill|killing|hurt|hurting|harm|harming|stab|stabbing|shoot|shooting|attack|attacking|strangle|strangling|murder|murdering|smother|smothering|drown|drowning) "
        + _OTHERS
        + r"\b(?! (?:feelings|by accident|accidentally))",
        r"\bhomicidal\b",
        r"\b(?:want|wants|wanted|going|plans?|planning|talking about|talks about|threaten\w*) (?:to )?shoot (?:up )?(?:his|her|my|the|a|their|our) (?:old )?(?:school|college|office|workplace|work|church|mosque|synagogue|temple|mall|class|classmates|colleagues)\b",
        r"\bi (?:could|might|would|will|am going to) (?:really |actually |seriously )?(?:hurt|kill|stab|attack|strangle) (?:someone|somebody|people|him|her|them)\b(?! (?:by accident|accidentally|with (?:my|the) (?:driving|cooking|singing|jokes)))",
        r"\b(?:thinking|thought|think|fantasi\w+|urges?|want|wanted|tempted|keep thinking)(?: about| of| to)? (?:\w+ )?(?:running|run|mowing|mow) (?:people|someone|somebody|pedestrians|them|him|her|cyclists) (?:over|down)\b",
        r"\bviolent (?:thoughts|urges|fantasies|images|impulses) (?:about|towards?|of|against) (?:\w+ )?(?:someone|somebody|people|my|him|her|them|others|the|a|coworkers|colleagues)\b",
        r"\b(?:hit|kill|death) ?list\b",
        r"\b(?:urges?|want|wanted|thinking|thoughts|tempted|keep thinking|imagining|picturing)(?: about| of| to)? (?:push|pushing|shove|shoving|throw|throwing) (?:people|someone|somebody|him|her|them|a stranger|strangers|a child|kids) (?:onto|in front of|off|under|into) (?:the |a )?(?:train|tracks|traffic|platform|bridge|bus|car|road|water)\b",
        r"\bthreaten(?:s|ed|ing)? to (?:do worse|kill|hurt|stab|shoot|harm|attack|burn)\b",
        r"\bi (?:hit|shoved|pushed|punched|choked|strangled|kicked|slapped|attacked|grabbed|threw \w+ at) my (?:\w+ )?(?:wife|husband|girlfriend|boyfriend|partner|mum|mom|mother|dad|father|son|daughter|baby|child|kid|kids|brother|sister|neighbou?r|carer)\b",
        r"\bscared (?:of )?what i (?:will|might|could|would) do (?:next|to (?:him|her|them|someone|somebody|people))\b",
    ],
    "overdose": [
        r"\b(?:overdosed|overdosing|overdose)\b",
        r"\b(?:took|taken|take|taking|swallowed|swallow|ate|had|used|downed|necked|chugged) (?:\w+ ){0,3}?(?:too many|too much|extra|an extra|more than (?:i should|prescribed|i was told|the dose|my dose|i am supposed to)|a double|double|twice (?:the|my|as much)|(?:two|three|four|five|2|3|4|5|several|many|a few) (?:extra|more|times (?:the|my))|the whole (?:bottle|pack|packet|box|strip|lot)|a whole (?:bottle|pack|packet|box|strip)|all (?:of )?(?:my|the) "
        + "(?:{MED})"
        + r"|a handful|handfuls|a bunch)\b"
        r"(?! (?:as (?:usual|normal|prescribed|directed)|like (?:usual|always|normal)|care|time|long|effort|fibre|fiber|water|fluids|breaks|rest|steps|precautions|days|weeks|hours|minutes|notice|caution|vitamin\w*|sleep|exercise|walks?|coffee|food|attention))",
        r"\b(?:took|taken|swallowed|had|ate) (?:about |around |like |over |maybe |nearly |almost )?(?:[1-9]\d+|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|a hundred)(?! ?(?:mg|mcg|ug|ml|g|milligrams?|micrograms?|units?|iu|percent|hours?|days?|weeks?|months?|years?|minutes?)\b) (?:of )?(?:my |the |his |her )?(?:\w+ )?"
        + "(?:{MED})"
        + r"\b",
        r"\b(?:took|taken|swallowed|had|ate|downed|necked|popped|chugged) (?:about |around |like |over |maybe |nearly |almost |at least |more than )?(?:[6-9]|six|seven|eight|nine)(?! ?(?:mg|mcg|ug|ml|g|milligrams?|micrograms?|units?|iu|percent|hours?|days?|weeks?|months?|years?|minutes?)\b) (?:of )?(?:my |the |his |her )?(?:\w+ )?"
        + "(?:{MED})"
        + r"\b(?: (?:at once|all at once|in one go|together|at the same time))?",
        r"\b(?:took|taken|swallowed|had|ate|downed|necked|popped|chugged) (?:\w+ ){0,2}?(?:the whole|a whole|an entire|the entire|the rest of (?:the|my)|what was left (?:of|in) (?:the|my)|all (?:that was )?left (?:in|of) (?:the|my)) (?:\w+ )?(?:bottle|pack|packet|box|strip|blister pack|blister|sheet|tub|jar|container|supply|prescription|month s supply|weeks supply)\b",
        r"\b(?:swallowed|took|taken|ate|downed) (?:\w+ ){0,2}(?:handfuls?|fistfuls?|a load|loads|a bunch|dozens|a pile|dozen) (?:of )?(?:my |the )?(?:\w+ )?"
        + "(?:{MED})"
        + r"\b",
        r"\bdoubled? (?:up )?(?:on )?(?:my )?(?:dose|doses|meds|pills|medication|tablets)\b",
        r"\bdouble dos(?:ed|ing)\b",
        r"\b(?:accidentally|by mistake|mistakenly|accidently) (?:took|taken|swallowed|had|take) (?:\w+ ){0,4}?(?:dose|doses|pills|tablets|meds|medication|medicine|extra|twice|again|someone|my (?:\w+ )?(?:wife|husband|partner|mom|mum|dad|son|daughter)s?)\b",
        r"\b(?:took|taken|take|took my) (?:\w+ ){0,3}?(?:dose|doses|pills|tablets|meds|medication) (?:twice|two times|2 times|again) (?:today|this morning|tonight|by mistake|by accident|accidentally)\b",
        r"\b(?:took|taken|had) (?:my |the |his |her )?(?:\w+ )?(?:dose|doses|pills?|tablets?|meds|medication) (?:3|three|4|four|5|five|several|multiple) times\b(?! (?:a|per|each) (?:day|week))",
        # A dosing error that multiplies the daily dose: "2 capsules twice a day instead of once a day".
        r"\b(?:taking|took|taken|been taking) (?:\d+|two|three|four|five) (?:tablets|pills|capsules) (?:\d+|two|three|four) times (?:a|per|each) day (?:\w+ ){0,5}instead of\b",
        # A count of a named medicine ("took 12 of my zoloft"), never a strength ("took 50 mg").
        r"\b(?:took|taken|swallowed|had|ate|downed|necked|popped|chugged) (?:about |around |like |over |maybe |nearly |almost |at least |more than )?(?:[4-9]|[1-9]\d+|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty)(?! ?(?:mg|mcg|ug|ml|g|milligrams?|micrograms?|units?|iu|percent|hours?|days?|weeks?|months?|years?|minutes?)\b) (?:of )?(?:my |the |his |her |their )?(?:\w+ )?(?:{MED})\b(?! (?:as (?:usual|prescribed|normal|directed)|like (?:usual|always)|every|each|a day|daily|per day|times|mg))",
        r"\b(?:took|taken|swallowed|had) (?:three|3|four|4|five|5) (?:of )?(?:my |the )?(?:\w+ )?(?:{MED}) (?:\w+ ){0,2}(?:at once|all at once|in one go|together|at the same time)\b",
        r"\b(?:took|taken|swallowed|had|ate|downed) (?:about |around |like |maybe |nearly |almost |over |at least )?(?:a|one|two|three|four|five|\d+|a few|several|a couple of) (?:days|day|weeks|week|months|month)s? (?:worth|supply)\b",
        r"\b(?:took|taken|swallowed|had) all (?:of )?(?:my|the|her|his|their) (?:\w+ ){0,3}(?:{MED}) (?:\w+ ){0,3}(?:at once|all at once|in one go|together|at the same time)\b",
        r"\b(?:took|taken|swallowed|had) all (?:of )?(?:my|the|her|his|their) (?:sleeping (?:pills|tablets)|painkillers|pain (?:pills|killers)|sleep (?:aids|pills)|(?:\w+ )?(?:bottle|packet|pack|box|strip))\b",
        r"\b(?:took|taken|swallowed|had|ate|downed) (?:about |around |like |nearly |almost |over )?half (?:of )?(?:the|a|my|his|her) (?:\w+ )?(?:bottle|pack|packet|box|strip|blister pack|tub|jar|supply|prescription)\b",
        r"\b(?:took|taken|swallowed|had|ate|downed) (?:all (?:of )?|the rest of )(?:my|the|his|her) (?:remaining |leftover |spare |old )?(?:{MED})\b(?! (?:dose|doses) (?:as|for)| as (?:usual|normal|prescribed)| like (?:usual|always))",
        r"\b(?:took|taken|swallowed|had) (?:about |around |like |nearly |almost |over )?(?:a|one|two|three|four|\d+|a few|several|a couple of) (?:days|weeks|months|day|week|month) (?:of|worth of) (?:my |her |his |their |the )?(?:\w+ )?(?:{MED}) (?:\w+ ){0,2}(?:at once|all at once|in one go|together|at the same time)\b",
        r"\b(?:doubled|doubling|tripled|tripling) up (?:on )?(?:my |the )?(?:\w+ )?(?:{MED})\b",
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
    r"\b(?:kill|murder|strangle|hurt) (?:him|her|them|you|my \w+|that \w+)(?: \w+){0,3}? (?:lol|lmao|lmfao|haha\w*|jk|just kidding|xd)\b",
    r"\b(?:watch|look|looking|watching) (?:out )?for (?:any )?(?:new |worsening |signs of )?(?:suicidal|suicide)\w*(?: thoughts| ideation| behaviou?r| feelings)?\b",
    r"\b(?:a|an|the|this|that) (?:\w+ ){0,3}(?:show|film|movie|book|song|episode|documentary|series|podcast|article|story|novel|play) (?:about|on) (?:a |an |the )?(?:suicide|self harm)\b",
    r"\b(?:she|he|they|friend|brother|sister|cousin|mum|mom|dad|partner|classmate|colleague) (?:\w+ ){0,2}(?:had|has|have|was having|is having|struggled with|went through|told me about) (?:\w+ )?(?:suicidal (?:thoughts|feelings|ideation)|thoughts of suicide)\b",
    r"\b(?:character|protagonist|story|novel|poem|screenplay|essay) (?:\w+ ){0,5}(?:wanting to die|wants to die|suicid\w*|self harm\w*|kill(?:ing|s)? (?:himself|herself|themselves))\b",
    r"\bcut my (?:finger|fingers|hand|foot|feet|leg|arm|thumb|knee|toe|lip|face|head)s? (?:on|while|shaving|cooking|chopping|gardening|at work|by accident|accidentally|opening)\b",
]


def _compile_all(medicine_names: str | None) -> dict[str, list[re.Pattern]]:
    # "{MED}" stands for any pill word or, when the caller passes its medicine-name pattern, a named
    # medicine: "took 12 of my zoloft" is a count of tablets as much as "took 12 tablets".
    med = f"{_PILLS}|{medicine_names}" if medicine_names else _PILLS
    return {
        category: [re.compile(p.replace("{MED}", med)) for p in patterns] for category, patterns in PATTERNS.items()
    }


_COMPILED = _compile_all(None)


@lru_cache(maxsize=4)
def _compiled_with(medicine_names: str) -> dict[str, list[re.Pattern]]:
    return _compile_all(medicine_names)


# Preparatory acts (C-SSRS Q6) that are ordinary one at a time (a will, a cancelled contract, a quit job)
# but together are someone putting their affairs in order: two or more in one report are a goodbye.
_PREPARATORY_ACTS = [
    re.compile(p)
    for p in (
        r"\b(?:updated|made|wrote|written|changed|finished|redid|rewrote|signed) (?:a |my )(?:new )?will\b",
        r"\b(?:cancelled|canceled|cancelling|canceling|closed|closing|ended|stopped) (?:\w+ ){0,2}(?:phone contract|contracts?|subscriptions?|bank accounts?|life insurance|lease)\b",
        r"\b(?:left|leaving|wrote|written|writing) (?:\w+ ){0,3}instructions (?:for|about|on) (?:\w+ ){0,2}(?:passwords?|accounts?|pets?|cat|dog|bills|funeral|things)\b",
        r"\b(?:tying|tied|tie) up (?:all )?(?:my |the )?loose ends\b",
        r"\b(?:quit|quitting|resigned from|handed in my notice at) (?:my|his|her) (?:\w+ )?job\b",
        r"\b(?:emptied|emptying|transferred|moved|gave) (?:\w+ ){0,2}(?:bank account|savings|money|account) (?:\w+ ){0,3}(?:into|to)\b",
        r"\b(?:deleted|deleting|closed|deactivated|wiped) (?:all )?(?:of )?(?:my |his |her )?(?:social media|accounts|instagram|facebook|profiles?|tiktok|snapchat)\b",
        r"\bthanks? (?:you )?for everything\b",
        r"\b(?:wrote|written|writing|left|leaving) (?:a |some )?(?:notes?|letters?|cards?) (?:to|for) (?:my |her |his )?(?!boss|landlord|teacher|gp|doctor|work|school|neighbou?r about)\w+",
        r"\bleft (?:her|him|them) a (?:note|letter)\b",
        r"\bgave (?:my|his|her) (?:\w+ ){0,2}\w+ to (?:my|his|her) \w+\b",
        r"\bsorted out (?:my|all my|his|her) (?:affairs|things|paperwork|papers|finances)\b",
        r"\bsaying goodbye\b",
    )
]

# Someone found with the empty container: an overdose until shown otherwise.
_EMPTY_CONTAINER = re.compile(
    r"\bempty (?:\w+ ){0,2}(?:bottle|packet|pack|box|strip|blister|container|tub|jar|pill box)\b"
    r"|\b(?:bottle|packet|pack|box|strip|blister|container|tub|jar) (?:\w+ ){0,2}(?:is|was) (?:now |completely |totally )?(?:empty|gone)\b"
)
_EMPTY_WITH = re.compile(
    r"\b(?:passed out|unconscious|unresponsive|collapsed|(?:can not|could not) (?:wake|rouse)|(?:do|did) not remember taking"
    r"|(?:was|were) (?:nearly |almost |half |still )?full|had (?:about |around )?\d+ (?:left|in it|yesterday|last night))\b"
)

# A child or a pet and medicine in one sentence: a toddler chewing tablets, a dog biting into a capsule,
# a child who found the bottle when nobody knows how many are gone.
_CHILD_OR_PET = (
    r"(?:(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve) (?:year|yr|month)s? old|\d+ ?yo|toddler|baby|son|daughter|kid|kids|"
    r"child|children|little (?:one|brother|sister|boy|girl)|grandson|granddaughter|grandchild|grandkids?|niece|nephew|dog|cat|puppy|kitten|pet)"
)
_INGEST = r"(?:swallowed|ate|eaten|chewed|chewing|chewed (?:through|open|up)|drank|drunk|bit (?:into|through|open)|bitten (?:into|through|open)|licked|sucked on|sucking on|got into|got hold of|got one of|got some of)"
_AFTER_OBJECT = (
    r"(?:bit into (?:it|one|them)|bitten into (?:it|one)|had (?:it|one|some|them) in (?:his|her|its|their) mouth|chewed (?:it|one|them|on it|some)"
    r"|ate (?:it|one|them|some)|swallowed (?:it|one|them|some)|how many (?:he|she|they|it) (?:ate|took|swallowed|had))"
)
_SENTENCE = re.compile(r"[^.?!\n]+")


@lru_cache(maxsize=4)
def _ingestion_patterns(medicine_names: str | None) -> tuple[re.Pattern, ...]:
    med = (
        rf"(?:\b(?:pills?|tablets?|capsules?|meds|medication|medicines?|strips?|bottle|packet|patch|gumm(?:y|ies)|liquid)\b|{medicine_names})"
        if medicine_names
        else r"\b(?:pills?|tablets?|capsules?|meds|medication|medicines?|strips?|bottle|packet|patch)\b"
    )
    return (
        # Between the verb and the medicine no new clause starts ("my kid ate breakfast, then I took my sertraline").
        re.compile(
            rf"\b{_CHILD_OR_PET}\b(?:[^.?!]{{0,100}}?)\b{_INGEST}\b(?: (?!(?:i|then|before|after|while|and|but)\b)\w+){{0,8}}? {med}"
        ),
        re.compile(
            rf"\b{_CHILD_OR_PET}\b(?:[^.?!]{{0,100}}?)\b(?:had|put|was sucking on|was chewing|is chewing|is sucking on)\b(?: \w+){{0,6}}? {med}(?: \w+){{0,2}}? (?:in|into) (?:his|her|its|their) mouth\b"
        ),
        re.compile(rf"\b{_CHILD_OR_PET}\b(?:[^.?!]{{0,100}}?){med}(?:[^.?!]{{0,80}}?)\b{_AFTER_OBJECT}\b"),
    )


# A threat against someone and a weapon made ready, in one report: a veiled threat ("going to sort out
# the landlord") with a knife, a bat or a gun carried, hidden or sharpened.
_THREAT = re.compile(
    r"\b(?:(?:will|would|is going to|going to|gonna|threatened to|says (?:he|she) will|said (?:he|she|they) (?:will|would)|said (?:hell|shell|theyll)) (?:kill|shoot|stab|hurt) (?:me|us|the kids|my (?:kids|children|baby))\b)"
    r"|\b(?:going to|gonna|will|want to|wants to|plans? to|about to|is going to|he is going to|she is going to) "
    r"(?:make (?:\w+ ){1,3}pay|teach (?:\w+ ){1,3}a lesson|get even)\b"
    r"|\b(?:going to|gonna|will|want to|wants to|plans? to|about to|is going to|he is going to|she is going to) "
    r"(?:deal with|get rid of|sort out|sort|get even with|take care of|take out|finish off|hurt|get back at) "
    r"(?:him|her|them|(?:the|that|this|his|her|my|our|those) (?:\w+ )?(?:guy|guys|man|men|woman|lady|bloke|neighbou?rs?|landlord|boss|manager|teacher|ex|step ?\w+|husband|wife|partner|boyfriend|girlfriend|brother|sister|dad|father|mum|mom|mother|son|daughter|people|kids?|family|colleagues?|coworkers?|lot|idiot|bastard))\b"
)
_WEAPON = re.compile(
    r"\b(?:sharpen\w*|taken|took|bought|got|carrying|carries|hid|hidden|hiding|keeps?|kept|loaded|has|have) (?:\w+ ){0,3}(?:knife|knives|gun|guns|rifle|pistol|shotgun|bat|baseball bat|machete|axe|hammer|crowbar|blade|ammunition|ammo|bullets|rounds)\b"
    r"|\b(?:knife|knives|gun|rifle|pistol|bat|machete|axe) (?:\w+ ){0,3}(?:in (?:the|my|his|her) (?:car|bag|room|bedroom|pocket|garage))\b"
)

# An attempt or an overdose followed by "N years ago": history, not the present.
_AFTER_PAST = re.compile(
    r"^(?:\s+\w+){0,4}?\s+(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|many|several|a few|a couple of) (?:years?|decades?) ago\b"
)
# "Would it be harmful if the dog ate one?": a question, not an event.
_QUESTION_IF = re.compile(
    r"\b(?:what|is it|would it|could it|how|should i|do i|can it|are they|is that)\b[^.?!]*\b(?:if|when)\b[^.!]*$"
    r"|^\s*(?:if|in case|what if|say|suppose|supposing)\b"
)


def _sentence_before(norm: str, start: int) -> str:
    begin = max(norm.rfind(ch, 0, start) for ch in ".?!\n") + 1
    return norm[begin:start]


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


_NEW_CLAUSE = re.compile(r"\b(?:after|before|then|and|with|while|but|i)\b")


def _swallowed_medicine(norm: str, medicines: re.Pattern | None) -> str | None:
    if medicines is None:
        return None
    for match in _OTHER_SWALLOWED.finditer(norm):
        found = medicines.search(match.group("object"))
        if (
            found
            and not _NEW_CLAUSE.search(match.group("object")[: found.start()])
            and not textmatch.is_negated(norm, match.start(), match.end())
            and not _QUESTION_IF.search(_sentence_before(norm, match.start()))
        ):
            return match.group()
    return None


def find(text: str, *, normalized: bool = False, medicines: re.Pattern | None = None) -> list[CrisisHit]:
    """One hit per category found (the first phrase), in ``ORDER``. ``medicines`` (a pattern of
    medicine names) lets "my toddler ate my sertraline" count as poisoning."""
    norm = text if normalized else textmatch.normalize(text)
    idioms = _idiom_spans(norm)
    compiled = _compiled_with(medicines.pattern) if medicines is not None else _COMPILED
    hits: list[CrisisHit] = []
    for category in ORDER:
        for pattern in compiled[category]:
            found = None
            for match in pattern.finditer(norm):
                if any(start <= match.start() < end or start < match.end() <= end for start, end in idioms):
                    continue
                if textmatch.is_negated(norm, match.start(), match.end(), hypothetical=category in _HYPOTHETICAL_OK):
                    continue
                if _AFTER_PAST.match(norm[match.end() : match.end() + 60]):
                    continue
                if category in _HYPOTHETICAL_OK and _QUESTION_IF.search(_sentence_before(norm, match.start())):
                    continue
                found = match.group()
                break
            if found:
                hits.append(CrisisHit(category, found.strip()))
                break
    found_categories = {hit.category for hit in hits}
    if "goodbye" not in found_categories and "suicidal" not in found_categories:
        acts = [m.group() for m in (p.search(norm) for p in _PREPARATORY_ACTS) if m]
        if len(acts) >= 2:
            hits.append(CrisisHit("goodbye", "; ".join(acts[:3])))
    if "harm_others" not in found_categories:
        threat, weapon = _THREAT.search(norm), _WEAPON.search(norm)
        if threat and weapon and not textmatch.is_negated(norm, threat.start(), threat.end()):
            hits.append(CrisisHit("harm_others", f"{threat.group()}; {weapon.group()}"))
    if "overdose" not in found_categories:
        empty, context = _EMPTY_CONTAINER.search(norm), _EMPTY_WITH.search(norm)
        if empty and context:
            hits.append(CrisisHit("overdose", f"{empty.group()}; {context.group()}"))
    if "poisoning" not in found_categories:
        for pattern in _ingestion_patterns(medicines.pattern if medicines is not None else None):
            match = next(
                (
                    m
                    for m in pattern.finditer(norm)
                    if not textmatch.is_negated(norm, m.start(), m.end())
                    and not _QUESTION_IF.search(_sentence_before(norm, m.start()) + m.group())
                ),
                None,
            )
            if match:
                hits.append(CrisisHit("poisoning", match.group().strip()))
                break
    if not any(hit.category == "poisoning" for hit in hits):
        swallowed = _swallowed_medicine(norm, medicines)
        if swallowed:
            hits.append(CrisisHit("poisoning", swallowed.strip()))
    return hits
