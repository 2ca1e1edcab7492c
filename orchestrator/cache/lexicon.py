"""Word lists the paraphrase guard reads: stop words, opposites, synonyms, named things.

General English and general technical vocabulary only; nothing here names a sentence of the
eval set. Words are written plainly; the guard stems them the same way it stems queries.
"""
from __future__ import annotations

STOP_WORDS = frozenset("""
a an the this that these those there here it its it's is are was were be been being am
do does did doing done have has had having will would shall should can could may might must
i me my mine myself we us our ours you your yours yourself he him his she her hers they them their
what which who whom whose when where why how whether if then than so such as at by for of on in
with about across per via and or but also just only very really actually please thanks thank
some any each every all both either few many much more most lot lots other another same own
let lets
know tell say said want wanna need like way ways best good better easy easiest simple simplest
thing things something anything someone anybody one ones kind kinds
possible properly proper correct correctly right exactly basically generally usually typically
explain explanation describe mean means meaning define definition example examples
step steps guide tutorial tip tips help advice idea ideas approach method methods
into onto upon up down out off over under again further once to from between among within
before after
""".split())

# Words the guard never counts as key content even when they differ between two queries.
GENERIC = frozenset("""
efficient efficiently effective effectively
recommended ideal optimal proper great nice good best better easiest simple simplest
common commonly typical normal usual main primary general overall
work works working happen happens really actual actually exact exactly
get gets got getting take takes took taking give gives put puts have has
people person persons someone somebody anyone anybody everyone everybody folks humans
process procedure
""".split())

# Pairs of opposites: one query holding one side and the other query the other side refuses.
OPPOSITES: tuple[tuple[str, str], ...] = tuple(tuple(p.split("/")) for p in """
install/uninstall ascending/descending ascend/descend asc/desc enable/disable enabled/disabled
add/remove add/delete increase/decrease increment/decrement before/after min/max minimum/maximum
encrypt/decrypt encryption/decryption encode/decode encoding/decoding upload/download
import/export importing/exporting start/stop open/close true/false yes/no on/off
push/pull input/output send/receive buy/sell win/lose gain/lose profit/loss hot/cold
high/low higher/lower highest/lowest big/small bigger/smaller biggest/smallest large/small
larger/smaller largest/smallest long/short longer/shorter longest/shortest fast/slow
faster/slower fastest/slowest first/last left/right top/bottom more/less most/least
upper/lower uppercase/lowercase positive/negative even/odd inner/outer inside/outside
compress/decompress zip/unzip merge/split join/split lock/unlock show/hide read/write
create/delete create/destroy insert/delete expand/collapse cheap/expensive early/late
earliest/latest north/south east/west male/female young/old new/old newest/oldest love/hate
accept/reject allow/deny allow/block include/exclude above/below over/under forward/backward
horizontal/vertical row/column sync/async synchronous/asynchronous public/private
global/local client/server lend/borrow deposit/withdraw credit/debit asset/liability
rise/fall up/down day/night summer/winter past/future singular/plural heat/cool freeze/thaw
connect/disconnect mount/unmount subscribe/unsubscribe follow/unfollow login/logout
sign-in/sign-out signin/signout arrive/depart arrival/departure enter/exit entry/exit
import/export inbound/outbound incoming/outgoing include/omit attach/detach load/unload
serialize/deserialize encrypted/decrypted enqueue/dequeue select/deselect check/uncheck
mute/unmute pause/resume hard/soft strong/weak heavy/light wet/dry full/empty rich/poor
ancient/modern internal/external men/women man/woman boy/girl
husband/wife father/mother son/daughter brother/sister king/queen buyer/seller
lender/borrower employer/employee landlord/tenant teacher/student parent/child
spring/autumn spring/fall sunrise/sunset morning/evening breakfast/dinner white/black
light/dark dark/bright always/never all/none everything/nothing accept/decline
win/loss winner/loser pass/fail success/failure valid/invalid legal/illegal safe/dangerous
healthy/unhealthy raw/cooked sweet/sour hire/fire appreciate/depreciate inflation/deflation
bull/bear bullish/bearish long/short overweight/underweight overflow/underflow
ceil/floor ceiling/floor round-up/round-down prefix/suffix head/tail leading/trailing
start/end begin/end beginning/end begin/finish start/finish front/back pre/post
good/bad better/worse best/worst won/lost winning/losing winner/loser raise/lower raise/reduce
increase/reduce increase/lower like/dislike agree/disagree pro/con pros/cons advantage/disadvantage
benefit/drawback strengthen/weaken tighten/loosen widen/narrow wide/narrow thick/thin deep/shallow
near/far easy/hard easy/difficult simple/complex clean/dirty happy/sad rising/falling
expand/shrink grow/shrink upgrade/downgrade uphill/downhill cheaper/pricier safe/unsafe
minimize/maximize underestimate/overestimate overcook/undercook overpay/underpay
""".split())

# Groups of words that are interchangeable in a question (a substitution inside a group is not
# a different question). A word may sit in more than one group ('find' locates and calculates).
SYNONYM_GROUPS: tuple[frozenset[str], ...] = tuple(frozenset(g.split(",")) for g in """
quick,quickly,fast,faster,fastest,quicker,quickest,rapid,rapidly,speedy,soon,asap,swift,swiftly
make,cook,prepare,create,build,produce,generate
fix,solve,resolve,repair,troubleshoot,debug
error,issue,problem,bug,trouble,exception,fault
remove,delete,erase,eliminate,discard,rid,clear,wipe
check,verify,determine,test,detect,confirm,validate
find,locate,search,lookup,retrieve,fetch,obtain
use,utilize,employ
learn,study,master
begin,start,commence,initiate,launch
stop,halt,terminate,quit,cease,exit,kill,end
big,large,huge,giant,enormous
small,little,tiny,mini
show,display,print,render
explain,describe,define,meaning,definition,overview,intro,introduction
difference,differ,different,compare,comparison,distinguish,versus,vs
cost,price,fee,charge,pricing,costs
buy,purchase,acquire
car,vehicle,automobile,auto
doctor,physician,gp
kid,child,children,kids,toddler
home,house,household
job,career,employment,occupation
money,cash,funds
picture,image,photo,photograph,pic
movie,film
trip,travel,journey,vacation,holiday,visit,tour,traveling,travelling
city,town
need,require,necessary,needed,required
cause,causes,reason,reasons,trigger
symptom,symptoms
illness,disease,sickness,condition,disorder
medicine,medication,drug,pill,meds
healthy,health,wellbeing
lose,reduce,shed
improve,boost,enhance,raise
calculate,compute,find,figure
convert,change,transform,turn
combine,merge,join,concatenate,concat,append
split,divide,separate
sort,order,arrange,rank
iterate,loop,traverse
file,document,doc
folder,directory,dir
function,func,routine
program,code,script,software,app,application
string,str,text
integer,int,number,numeric,whole
dictionary,dict,map,hashmap,mapping
list,array,lists,arrays,sequence
recipe,dish,meal
eat,consume,intake
cheap,affordable,inexpensive,low-cost
weather,climate,temperature
sleep,rest,nap
exercise,workout,fitness
happen,occur
write,wrote,author,authored,written
country,nation,state
capital,capitol
save,store,persist,keep
undo,revert,rollback,roll-back
last,latest,recent,newest,previous
speed,performance,perf,fast,faster,quicker
famous,known,popular,notable,renowned
container,pot,planter,tub
stand,short,abbreviation,abbreviate,abbreviated,acronym
paint,painter,artist
often,frequently,regularly
fix,unclog,unblock,clear
exam,test,examination,quiz
grown-up,adult
virus,malware,spyware
world,earth,globe,planet
install,setup,configure
""".split())

# Named things a lowercase query still names: languages, tools, places, currencies, units. Words that
# are also common English ('go', 'word', 'windows', 'may', 'turkey') are left out: capitalised, they
# are caught as proper nouns anyway.
NAMED = frozenset("""
python java javascript typescript js ts ruby golang kotlin scala perl php haskell
elixir erlang clojure lua julia matlab fortran cobol c++ c# cpp csharp bash zsh powershell sql
html css json yaml xml toml csv markdown regex numpy pandas scipy matplotlib sklearn scikit-learn
tensorflow pytorch keras django fastapi angular vue svelte nodejs node.js
npm pip conda poetry docker kubernetes k8s terraform ansible git github gitlab linux
macos ubuntu debian fedora centos android ios iphone ipad chrome firefox vim emacs
vscode powerpoint mysql postgres postgresql sqlite mongodb redis elasticsearch kafka
aws azure gcp s3 ec2 dynamodb bedrock openai hadoop nginx
france spain italy germany england britain uk usa america canada mexico brazil argentina
japan korea india russia australia egypt greece portugal ireland scotland sweden
norway denmark finland poland netherlands holland belgium switzerland austria thailand vietnam
paris london berlin madrid rome tokyo beijing moscow sydney delhi mumbai cairo athens lisbon dublin
amsterdam vienna prague boston chicago seattle toronto vancouver dubai singapore istanbul bangkok
california texas florida europe asia africa
dollar dollars usd euro euros eur pound pounds gbp yen jpy rupee bitcoin btc ethereum
celsius fahrenheit kelvin km kilometer kilometers kilometre mile miles meter meters metre feet foot
inch inches cm mm kg kilogram kilograms gram grams lb lbs ounce ounces oz liter liters litre
gallon gallons cup cups tablespoon tablespoons teaspoon teaspoons byte bytes kb mb gb tb
monday tuesday wednesday thursday friday saturday sunday january february april june
july august september october november december
mercury venus mars jupiter saturn uranus neptune pluto
english spanish french german italian portuguese chinese mandarin japanese korean arabic hindi
russian latin greek
""".split())

# The units among NAMED: a unit on one side only, with no number on either, measures nothing.
UNITS = frozenset("""
celsius fahrenheit kelvin km kilometer kilometers kilometre mile miles meter meters metre feet foot
inch inches cm mm kg kilogram kilograms gram grams lb lbs ounce ounces oz liter liters litre
gallon gallons cup cups tablespoon tablespoons teaspoon teaspoons byte bytes kb mb gb tb
""".split())

NEGATIONS = frozenset("not no never none nobody nothing nowhere neither nor without cannot "
                      "cant dont doesnt didnt isnt arent wasnt werent wont wouldnt shouldnt "
                      "couldnt hasnt havent hadnt mustnt".split())

# One-sided words that turn a question around on their own.
REVERSERS = frozenset("reverse reversed reversing inverse inverted invert opposite backwards backward "
                      "except excluding unless".split())
# Reversers that say the same thing ('in reverse order' is 'backwards'): compared by kind, not by word.
REVERSER_KINDS = {"except": "except", "excluding": "except", "unless": "except"}   # all others: 'reverse'

# Phrasal verbs read as one word, so 'set up' can match its synonym 'install'.
PHRASAL = (("set up", "setup"), ("setting up", "setup"), ("log in", "login"), ("log out", "logout"),
           ("sign in", "signin"), ("sign out", "signout"), ("sign up", "signup"), ("back up", "backup"))

# Plurals the suffix stripper cannot undo ('knives' is a 'knife').
IRREGULAR = {
    "knives": "knife", "wives": "wife", "halves": "half", "shelves": "shelf", "wolves": "wolf",
    "loaves": "loaf", "thieves": "thief", "calves": "calf", "scarves": "scarf", "leaves": "leaf",
    "children": "child", "men": "man", "women": "woman", "mice": "mouse", "geese": "goose",
    "feet": "foot", "teeth": "tooth", "people": "person", "indices": "index", "matrices": "matrix",
    "vertices": "vertex", "analyses": "analysis", "criteria": "criterion", "phenomena": "phenomenon",
}

NEGATING_PREFIXES = ("un", "de", "dis", "non", "anti", "in", "im", "il", "ir", "mis", "counter")

NUMBER_WORDS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "thousand": 1000, "million": 1e6, "billion": 1e9,
    "dozen": 12, "half": 0.5, "quarter": 0.25, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "double": 2, "twice": 2, "triple": 3,
}
WEAK_NUMBER_WORDS = {"one": 1, "once": 1, "single": 1, "a": 1, "an": 1}

# Question frames: a specific frame on one side and another on the other asks a different thing.
# Earlier entries win at one position, so longer phrases come first. 'How many' and 'how much' ask
# one thing (a quantity); 'how many minutes' asks what 'how long' asks.
_TIME_UNITS = ("seconds", "minutes", "hours", "days", "weeks", "months", "years")
QUESTION_FRAMES: tuple[tuple[str, str], ...] = (
    *((f"how many {unit}", "duration") for unit in _TIME_UNITS), ("how much time", "duration"),
    ("how frequently", "frequency"), ("how regularly", "frequency"),
    ("what year", "time"), ("which year", "time"), ("what date", "time"),
    ("how long", "duration"), ("how many", "quantity"), ("how much", "quantity"), ("how often", "frequency"),
    ("how far", "distance"), ("how old", "age"), ("how big", "size"), ("how tall", "size"),
    ("what time", "time"), ("when", "time"), ("where", "place"), ("who", "person"), ("whom", "person"),
    ("why", "reason"), ("how", "manner"),
)
