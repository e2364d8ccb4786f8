"""Provides deterministic, realistic webcare traffic for the demo connector.

Everything here is a pure function of a seed (and of time): the same arguments
always give the same messages, so a demo, a test and a benchmark can all rely
on it. Messages are plain dicts in the normalized message format (see
`webcare_tui.message_format`), with `created_at` in Europe/Amsterdam local time.

- `generate_history(seed, end, days, conversations_per_day)` streams `days` days
  of conversations ending at `end`, globally sorted by time, in bounded memory.
- `LiveTraffic(seed, rate_per_minute)` makes new inbound messages for any time
  window (`between`) and the customer's answer to a reply we sent
  (`customer_answer`).

The brand the customers talk to is the fictitious "Lindeveld" (internet, TV,
a web shop and mortgages: every topic a webcare team meets). Customers write
Dutch (~55 %), German (~20 %) or English (~25 %); the five demo agents answer in
the customer's language and sign their replies (" ^TR" on X, "Groetjes, Tim"
elsewhere).

Shape of the history: a conversation is 1-3 customer messages, an agent reply
after minutes (hours at night), an answer from the customer in 60 % of cases and
sometimes a second round: about 3.3 messages a conversation. A third of the
conversations come from an author seen before, so 60 days of 5,000 conversations
a day give ~1,000,000 messages, ~300,000 conversations and ~200,000 authors, in
about 30 s on one core and under 50 MB. Times are whole seconds.

Most who write again do so within days, about the same matter (their case goes on
or reopens). Besides them, 30 % of new authors come back 16 to 36 days later with a
new matter, some a third time: by then their earlier case has closed and the window
to reopen it has passed, so it is a new case. Over six weeks about 15 % of the
authors have two or three cases. An author's handle is unique on its platform: a
name part ending in no digit, then a number no other author of the platform has.
"""

from __future__ import annotations

import base64
import heapq
import math
import random
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "AGENTS",
    "AGENT_NAMES",
    "BRAND_HANDLE",
    "BRAND_NAME",
    "LANGUAGES",
    "PLATFORMS",
    "LiveTraffic",
    "generate_history",
]

TZ = ZoneInfo("Europe/Amsterdam")
PLATFORMS: tuple[str, ...] = ("x", "facebook", "instagram", "whatsapp", "messenger")
AGENTS: tuple[str, ...] = ("tim", "jeroen", "sanne", "noah", "lisa")
AGENT_NAMES: dict[str, str] = {
    "tim": "Tim Ruiter", "jeroen": "Jeroen Smit", "sanne": "Sanne de Boer",
    "noah": "Noah Amrani", "lisa": "Lisa Vermeulen",
}
LANGUAGES: tuple[str, ...] = ("nl", "de", "en")
BRAND_NAME = "Lindeveld"
BRAND_HANDLE = "@Lindeveld"

MIN_TEXT = 20
MAX_TEXT = 280

# --------------------------------------------------------------------------- mixes

_PLATFORM_CUM = (0.30, 0.50, 0.65, 0.85, 1.0)  # x, facebook, instagram, whatsapp, messenger
_LANG_CUM = (0.55, 0.75, 1.0)  # nl, de, en
_PUBLIC_SHARE = {"x": 0.65, "facebook": 0.80, "instagram": 0.55, "whatsapp": 0.0, "messenger": 0.0}
_TOPICS = ("question", "complaint", "compliment", "outage", "mortgage", "billing", "delivery", "account")
_TOPIC_CUM = (0.14, 0.27, 0.35, 0.55, 0.62, 0.75, 0.90, 1.0)
_SENSITIVE = frozenset({"mortgage", "billing", "account", "complaint", "delivery"})

# Relative inbound volume per local hour: quiet at night, peak 17:00-18:00.
_HOUR_WEIGHTS = (1.4, 0.9, 0.6, 0.45, 0.4, 0.55, 1.1, 2.4, 4.0, 5.2, 5.7, 5.8,
                 5.6, 5.6, 5.7, 6.0, 6.6, 8.8, 7.0, 6.1, 5.7, 5.0, 3.8, 2.4)
_HOUR_SHARE = tuple(w / sum(_HOUR_WEIGHTS) for w in _HOUR_WEIGHTS)
_DAY_WEIGHTS = (1.10, 1.05, 1.05, 1.05, 1.05, 0.85, 0.80)  # Monday .. Sunday
_DAY_FACTOR = tuple(w * 7 / sum(_DAY_WEIGHTS) for w in _DAY_WEIGHTS)

_SHIFTS = (
    ("noah", "tim"),  # night 23-07
    ("tim", "sanne", "lisa", "jeroen"),  # day 07-15
    ("jeroen", "noah", "lisa", "sanne"),  # evening 15-23
)
_INITIALS = {"tim": "TR", "jeroen": "JS", "sanne": "SB", "noah": "NA", "lisa": "LV"}

_REGULARS = 200  # the first authors of a history come back most; live returning authors are drawn from them
_LIVE_AUTHOR_BASE = 50_000_000  # live brand-new authors use indices above every history author
_LIVE_AUTHOR_SPAN = 50_000_000
_LIVE_KEY = 1 << 58  # external-id key spaces: history < 2**58 <= live < 2**59 <= answers < 2**61
_ANSWER_KEY = 1 << 59
_M61 = (1 << 61) - 1


def _mix61(k: int, salt: int) -> int:
    """A bijection of 61-bit integers that looks random: distinct keys give distinct ids."""
    x = (k ^ salt) & _M61
    x = (x * 0x0E9846AF9B1A615D) & _M61
    x ^= x >> 29
    x = (x * 0x1C69B3F74AC4AE35) & _M61
    x ^= x >> 32
    return x


def _b64(m: int, n: int = 3) -> str:
    raw = b"".join(_mix61(m, i * 0x9E3779B97F4A7C15).to_bytes(8, "big") for i in range(n - 1))
    return base64.urlsafe_b64encode(m.to_bytes(8, "big") + raw).rstrip(b"=").decode()


def _pick(cum: tuple[float, ...], r: float) -> int:
    for i, c in enumerate(cum):
        if r < c:
            return i
    return len(cum) - 1


@lru_cache(maxsize=16384)
def _hour_offset(hour_index: int) -> int:
    """Europe/Amsterdam UTC offset (seconds) during the UTC hour `hour_index` since the epoch."""
    off = datetime.fromtimestamp(hour_index * 3600, TZ).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def _local_hour(t: int) -> int:
    return ((t + _hour_offset(t // 3600)) // 3600) % 24


def _local_day(t: int) -> int:
    return (t + _hour_offset(t // 3600)) // 86400


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, TZ).isoformat()


# --------------------------------------------------------------------------- fill-ins

_PRODUCTS = {
    "nl": ("router", "tv-box", "wifi-versterker", "mediabox", "koptelefoon", "smartwatch", "laptop",
           "stofzuiger", "airfryer", "koffiemachine", "telefoon", "tablet", "soundbar", "printer",
           "elektrische tandenborstel", "babyfoon", "slimme thermostaat", "e-reader"),
    "de": ("Router", "TV-Box", "WLAN-Verstärker", "Kopfhörer", "Smartwatch", "Laptop", "Staubsauger",
           "Airfryer", "Kaffeemaschine", "Handy", "Tablet", "Soundbar", "Drucker", "E-Reader"),
    "en": ("router", "TV box", "wifi extender", "headphones", "smartwatch", "laptop", "vacuum cleaner",
           "air fryer", "coffee machine", "phone", "tablet", "soundbar", "printer", "e-reader"),
}
_CITIES = {
    "nl": ("Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen", "Tilburg", "Almere",
           "Breda", "Nijmegen", "Apeldoorn", "Haarlem", "Arnhem", "Enschede", "Amersfoort", "Zwolle", "Leiden",
           "Maastricht", "Dordrecht", "Zoetermeer", "Delft", "Alkmaar", "Leeuwarden", "Den Bosch",
           "Hilversum", "Deventer", "Venlo", "Heerlen", "Gouda", "Purmerend", "Roosendaal", "Assen"),
    "de": ("Berlin", "Hamburg", "München", "Köln", "Düsseldorf", "Frankfurt", "Essen", "Dortmund", "Bremen",
           "Leipzig", "Hannover", "Aachen", "Münster", "Duisburg", "Kleve", "Emmerich", "Bocholt", "Krefeld"),
    "en": ("Amsterdam", "Rotterdam", "Utrecht", "The Hague", "Eindhoven", "Amstelveen", "Haarlem", "Leiden",
           "Delft", "Groningen", "London", "Manchester", "Dublin", "Hoofddorp"),
}
_WEEKDAYS = {
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
           "oktober", "november", "december"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}
_CHANNELS = {
    "nl": ("NPO 1", "RTL 4", "SBS6", "Veronica", "NPO 3", "RTL 7", "ESPN"),
    "de": ("ARD", "ZDF", "RTL", "Sat.1", "ProSieben", "Sky Sport"),
    "en": ("BBC One", "CNN", "Eurosport", "BBC World", "ESPN", "Discovery"),
}
_CARRIERS = {
    "nl": ("PostNL", "DHL", "DPD", "UPS", "GLS"),
    "de": ("DHL", "Hermes", "DPD", "GLS", "UPS"),
    "en": ("PostNL", "DHL", "DPD", "UPS"),
}
_FOREIGN = ("Lagos", "São Paulo", "Jakarta", "Bangkok", "Manila", "Bukarest", "Minsk", "Hanoi")
_PRICES = (4.99, 7.5, 9.99, 12.5, 14.95, 19.99, 24.95, 29.95, 34.99, 39.0, 49.95, 59.0, 64.5, 79.99,
           89.95, 99.0, 119.0, 149.95, 199.0, 249.0)


def _money(value: float, lang: str, rng: random.Random) -> str:
    whole = int(value)
    cents = int(round((value - whole) * 100))
    if lang == "en":
        return f"€{whole:,}" + (f".{cents:02d}" if cents else "")
    grouped = f"{whole:,}".replace(",", ".")
    dec = f",{cents:02d}" if cents else ",-"
    if lang == "de":
        return f"{grouped}{dec if cents else ''} €" if rng.random() < 0.7 else f"{grouped}{dec if cents else ''} Euro"
    return f"€ {grouped}{dec}" if rng.random() < 0.6 else f"€{grouped}{dec}"


def _f_amount(rng: random.Random, lang: str) -> str:
    if rng.random() < 0.6:
        return _money(rng.choice(_PRICES), lang, rng)
    return _money(rng.randrange(5, 400) + rng.choice((0, 0.5, 0.95, 0.99)), lang, rng)


def _f_amount_big(rng: random.Random, lang: str) -> str:
    return _money(rng.randrange(10, 100) * 500, lang, rng)


def _clock(t: int) -> str:
    local = (t + _hour_offset(t // 3600)) % 86400
    return f"{local // 3600}:{local % 3600 // 60:02d}"


def _f_slot(rng: random.Random, lang: str) -> str:
    a = rng.choice((8, 9, 10, 12, 13, 14, 16, 17, 18))
    b = a + rng.choice((2, 3, 4))
    if lang == "nl":
        return f"tussen {a}:00 en {b}:00"
    if lang == "de":
        return f"zwischen {a} und {b} Uhr"
    return f"between {a}:00 and {b}:00"


def _f_date(rng: random.Random, lang: str) -> str:
    day, month = rng.randrange(1, 29), _MONTHS[lang][rng.randrange(12)]
    return f"{day}. {month}" if lang == "de" else f"{day} {month}"


def _f_postcode(rng: random.Random, lang: str) -> str:
    if lang == "de":
        return f"{rng.randrange(10000, 99999)}"
    letters = "ABCEGHJKLMNPRTVWXZ"
    return f"{rng.randrange(1000, 9999)} {rng.choice(letters)}{rng.choice(letters)}"


def _f_order(rng: random.Random, lang: str) -> str:
    return rng.choice(("LV", "LV-", "#", "")) + str(rng.randrange(10_000_000, 99_999_999))


def _f_rate(rng: random.Random, lang: str) -> str:
    value = f"{rng.uniform(3.1, 4.6):.2f}"
    return (value if lang == "en" else value.replace(".", ",")) + "%"


_FILLERS: dict[str, Any] = {
    "product": lambda rng, lang: rng.choice(_PRODUCTS[lang]),
    "city": lambda rng, lang: rng.choice(_CITIES[lang]),
    "weekday": lambda rng, lang: rng.choice(_WEEKDAYS[lang]),
    "month": lambda rng, lang: rng.choice(_MONTHS[lang]),
    "channel": lambda rng, lang: rng.choice(_CHANNELS[lang]),
    "carrier": lambda rng, lang: rng.choice(_CARRIERS[lang]),
    "foreign_city": lambda rng, lang: rng.choice(_FOREIGN),
    "amount": _f_amount,
    "amount_big": _f_amount_big,
    "slot": _f_slot,
    "date": _f_date,
    "postcode": _f_postcode,
    "order": _f_order,
    "rate": _f_rate,
    "customer_no": lambda rng, lang: str(rng.randrange(10_000_000, 99_999_999)),
    "mortgage_no": lambda rng, lang: f"{rng.randrange(100_000_000, 999_999_999)}",
    "ticket": lambda rng, lang: f"#{rng.randrange(1_000_000, 9_999_999)}",
    "house_no": lambda rng, lang: str(rng.randrange(1, 260)) + ("" if rng.random() < 0.85 else rng.choice("abc")),
    "days": lambda rng, lang: str(rng.randrange(2, 15)),
    "n": lambda rng, lang: str(rng.randrange(2, 7)),
    "minutes": lambda rng, lang: str(rng.choice((20, 25, 30, 35, 40, 45, 50, 55, 60, 75, 90))),
    "hours": lambda rng, lang: str(rng.choice((4, 8, 24, 24, 48))),
    "speed": lambda rng, lang: str(rng.randrange(1, 40)),
    "code": lambda rng, lang: str(rng.randrange(100, 999)),
}


class _Fills(dict):
    """Template fill-ins, drawn lazily: only the keys a template uses cost a draw.

    One conversation shares one `_Fills`, so its messages agree on the order
    number, the city or the product. `time` is a moment shortly before the first
    message that used it, `now` the clock time of the message being written and
    `eta` a moment a few hours after it.
    """

    __slots__ = ("rng", "lang", "t")

    def __init__(self, rng: random.Random, lang: str, t: int) -> None:
        super().__init__()
        self.rng = rng
        self.lang = lang
        self.t = t

    def at(self, t: int, **preset: str) -> _Fills:
        """Prepare for a message written at `t`."""
        self.t = t
        self.pop("now", None)
        self.pop("eta", None)
        self.update(preset)
        return self

    def __missing__(self, key: str) -> str:
        if key == "time":
            value = _clock((self.t - self.rng.randrange(10, 180) * 60) // 300 * 300)
        elif key == "now":
            value = _clock(self.t)
        elif key == "eta":
            value = _clock((self.t + self.rng.randrange(60, 300) * 60) // 900 * 900)
        else:
            value = _FILLERS[key](self.rng, self.lang)
        self[key] = value
        return value


# --------------------------------------------------------------------------- templates
# Customers' first messages, per language and topic.

_OPENERS: dict[str, dict[str, tuple[str, ...]]] = {
    "nl": {
        "question": (
            "Hoi {brand}, kan ik mijn {product} ook ophalen in jullie winkel in {city}?",
            "Vraagje: zijn jullie winkels op {weekday} gewoon open? Wil even langs in {city}",
            "Wat is eigenlijk het verschil tussen het basis- en het premiumabonnement? Twijfel nog even 🤔",
            "Kan ik mijn abonnement tijdelijk stopzetten? Ik zit de komende {n} maanden in het buitenland",
            "Hoe geef ik een adreswijziging door? Kan het nergens vinden op de site. We verhuizen op {date}",
            "Hoe lang duurt het voordat een retour van {amount} terug op mijn rekening staat?",
            "Hebben jullie de {product} ook in het zwart? Ik zie alleen wit op de website",
            "Goedemiddag, kan ik een tweede tv-box bijbestellen op hetzelfde abonnement? En wat kost dat?",
            "Zit {channel} ook in het basispakket of moet ik daarvoor een extra pakket nemen?",
            "Is er al bekend wanneer glasvezel in {city} beschikbaar komt? Wij wonen op postcode {postcode}",
        ),
        "complaint": (
            "Zit nu al {minutes} minuten in de wacht bij jullie klantenservice. Dit is echt belachelijk {brand} 😡",
            "Voor de {n}e keer deze maand komt de monteur niet opdagen. Ik had er een vrije dag voor genomen!",
            "Er werd beloofd dat ik vandaag teruggebeld zou worden. Niks gehoord. Wat een service weer 🙄",
            "Jullie nieuwe app is echt een drama, ik kan helemaal niks meer vinden",
            "Al {days} dagen wacht ik op antwoord op mijn mail. Klantnummer {customer_no}. Hallo??",
            "Waarom moet ik bij jullie voor alles drie keer bellen? Lekker klantvriendelijk {brand}",
            "De medewerker in jullie winkel in {city} was vandaag echt onbeschoft. Niet oké.",
            "Zomaar {amount} per maand duurder zonder enige uitleg. Ik overweeg serieus om over te stappen",
            "De chat op de website zegt dat er {n} wachtenden voor me zijn, en dat al een half uur. Kom op {brand}",
        ),
        "compliment": (
            "Top geholpen door jullie webcare vandaag, binnen tien minuten opgelost 👏",
            "Monteur stond om {time} precies op tijd voor de deur en was super vriendelijk. Complimenten {brand}! 😊",
            "Mijn {product} is vandaag al binnen, gisteravond pas besteld. Netjes! 📦",
            "Eindelijk een bedrijf dat gewoon doet wat het belooft. Dank jullie wel 🙏",
            "Shout-out naar de medewerker in de winkel in {city}, echt fijn geholpen met mijn {product}",
            "Nieuwe app ziet er strak uit, fijn dat ik mijn factuur nu direct kan inzien 👍",
            "Storing was sneller opgelost dan verwacht. Goed werk mensen van {brand}! 💪",
        ),
        "outage": (
            "Storing? Al sinds {time} geen internet hier in {city} 😩",
            "Is er een storing bij {brand}? Tv geeft alleen een zwart scherm met foutcode E{code}",
            "Internet valt de hele dag steeds weg, thuiswerken is zo onmogelijk. Postcode {postcode}",
            "De app doet het niet meer, ik krijg alleen 'Er is iets misgegaan'. Iemand anders ook?",
            "Geen tv en geen internet in {city} sinds vanochtend. Wanneer is dit opgelost??",
            "Snelheid is ingestort naar {speed} Mbit terwijl ik voor 500 betaal. Wat is er aan de hand?",
            "Net tijdens de wedstrijd valt {channel} weg. Serieus {brand}?! ⚽",
            "Wifi-lampje knippert oranje en er is geen verbinding meer. Router al herstart. Storing in {city}?",
            "Website en app allebei onbereikbaar sinds {time}. Liggen jullie eruit?",
        ),
        "mortgage": (
            "Hallo, mijn rentevaste periode loopt over {n} maanden af. Wanneer krijg ik een renteaanbod?",
            "Kan ik boetevrij extra aflossen op mijn hypotheek? Het gaat om ongeveer {amount_big}",
            "Ik wil mijn hypotheek oversluiten, bij wie kan ik daarvoor een afspraak maken?",
            "We hebben een huis gekocht in {city}! 🏡 Hoe lang duurt het voordat de hypotheekofferte binnen is?",
            "Mijn hypotheekofferte verloopt op {date}, maar het taxatierapport is nog niet goedgekeurd. Wat nu?",
            "Waarom is mijn maandlast voor de hypotheek ineens {amount} hoger? Daar heb ik niks over gehoord",
            "Vraag over de hypotheek: telt een tijdelijk contract met intentieverklaring mee voor de berekening?",
            "Jullie hypotheekrente voor 10 jaar vast staat nu op {rate}, geldt dat ook bij verlenging?",
        ),
        "billing": (
            "Er is deze maand twee keer {amount} afgeschreven van mijn rekening. Graag terugstorten!",
            "Mijn factuur is {amount} hoger dan normaal en ik snap niet waarom. Klantnummer {customer_no}",
            "Waar vind ik mijn factuur van {month}? In de app staat alleen de laatste",
            "Ik heb opgezegd per {date} maar krijg nog steeds een factuur. Hoe zit dat?",
            "Dubbel betaald voor bestelling {order} 😤 Hoe krijg ik dat geld terug?",
            "Rekenen jullie nu echt {amount} voor een papieren factuur? Sinds wanneer?",
            "Ik krijg een mail dat de incasso is mislukt, maar er staat gewoon genoeg op mijn rekening. Wat nu?",
            "Aanmaning ontvangen voor een factuur die ik allang betaald heb. Klantnummer {customer_no}",
        ),
        "delivery": (
            "Mijn pakket met ordernummer {order} zou gisteren komen, nog steeds niks 📦",
            "Track & trace staat al {days} dagen op 'in sorteercentrum'. Waar blijft mijn {product}?",
            "Bezorger van {carrier} zegt dat hij heeft aangebeld, maar ik was gewoon thuis! Order {order}",
            "Pakket kwam beschadigd binnen, de {product} is kapot 😢 Hoe kan ik dit retourneren?",
            "Verkeerd product ontvangen, ik had een {product} besteld. Order {order}",
            "Kan ik het bezorgadres nog wijzigen? Order {order}, ik ben {weekday} niet thuis",
            "Bezorgmoment was {slot}, inmiddels twee uur later en nog steeds niks",
            "Volgens {carrier} is mijn pakket afgeleverd, maar hier ligt niks. Order {order} 🤨",
        ),
        "account": (
            "Ik kom niet meer in mijn account en wachtwoord resetten werkt niet. De mail komt gewoon niet aan",
            "Mijn account is geblokkeerd na te vaak proberen in te loggen. Hoe los ik dit op?",
            "De sms-verificatiecode komt niet binnen, zit nu al {minutes} minuten te wachten",
            "Hoe verander ik het e-mailadres van mijn account? Het oude adres bestaat niet meer",
            "Iemand heeft ingelogd op mijn account?! Kreeg net een mail over een login vanuit {foreign_city} 😱",
            "Sinds de laatste update van de app word ik steeds uitgelogd. Irritant!",
            "Inloggen in Mijn {brand} lukt niet, ik krijg steeds foutcode {code}",
        ),
        "returning": (
            "Hoi, ik had vorige week al contact over mijn {product}, maar het probleem is helaas terug 😩",
            "Ik heb eerder al een melding gedaan (ticket {ticket}), maar nog steeds niks gehoord",
            "Daar ben ik weer 🙈 Weer hetzelfde probleem als vorige keer",
            "Vorige keer beloofden jullie dat het binnen {days} dagen geregeld zou zijn. Nog steeds niet...",
        ),
        "press": (
            "Goedemiddag, wij krijgen meldingen over een storing bij {brand} in de regio {city}. Kunnen jullie bevestigen hoeveel klanten er last van hebben?",
            "Voor een artikel over de prijsverhogingen bij {brand}: kunnen jullie reageren? Graag vóór {eta}.",
            "Hallo {brand}, klopt het dat jullie stoppen met de winkel in {city}? Ik schrijf er een stuk over.",
        ),
        "employee": (
            "Trots op mijn collega's die vannacht de storing in {city} hebben opgelost 💪",
            "Vandaag mijn eerste dag in de winkel in {city}, heb er zin in! 🎉",
            "Mooi om te zien hoeveel complimenten ons team deze week krijgt 😊 #trots",
        ),
        "bot": (
            "🔥 Verdien €{n}00 per dag vanuit huis! Klik op de link in mijn bio 💰💰",
            "Gefeliciteerd! Je bent geselecteerd voor een gratis iPhone 📱 Stuur mij nu een DM",
            "Wil jij ook meer volgers? 1000 echte volgers voor maar €4,99 👉 link in bio",
        ),
    },
    "de": {
        "question": (
            "Hallo {brand}, kann ich meine Bestellung ({product}) auch in eurem Shop in {city} abholen?",
            "Habt ihr am {weekday} geöffnet? Würde gern im Shop in {city} vorbeischauen",
            "Was ist eigentlich der Unterschied zwischen Basis- und Premium-Tarif? Bin noch unsicher 🤔",
            "Kann ich meinen Vertrag für {n} Monate pausieren? Bin beruflich im Ausland",
            "Wie lange dauert es, bis eine Rückerstattung von {amount} auf meinem Konto ist?",
            "Ist {channel} im Basispaket enthalten oder brauche ich ein Zusatzpaket?",
            "Wir ziehen am {date} um. Wie melde ich die neue Adresse bei euch an?",
        ),
        "complaint": (
            "Hänge seit {minutes} Minuten in eurer Warteschleife. Echt eine Frechheit, {brand} 😡",
            "Zum {n}. Mal ist der Techniker nicht gekommen. Ich habe mir extra freigenommen!",
            "Mir wurde ein Rückruf für heute versprochen. Nichts. Toller Service 🙄",
            "Eure neue App ist eine Katastrophe, man findet gar nichts mehr",
            "Seit {days} Tagen keine Antwort auf meine E-Mail. Kundennummer {customer_no}. Hallo??",
            "Einfach so {amount} im Monat teurer ohne jede Erklärung. Ich überlege ernsthaft zu kündigen",
        ),
        "compliment": (
            "Super Service heute vom Social-Media-Team, in zehn Minuten gelöst 👏",
            "Der Techniker war um {time} pünktlich da und total freundlich. Danke {brand}! 😊",
            "Bestellung ({product}) ist heute schon angekommen, erst gestern Abend bestellt. Top! 📦",
            "Endlich mal eine Firma, die hält, was sie verspricht. Vielen Dank 🙏",
            "Die Störung war schneller behoben als gedacht. Gute Arbeit, {brand}! 💪",
        ),
        "outage": (
            "Störung? Seit {time} kein Internet hier in {city} 😩",
            "Gibt es eine Störung bei {brand}? Der Fernseher zeigt nur schwarzen Bildschirm mit Fehlercode E{code}",
            "Das Internet bricht den ganzen Tag ständig ab, Homeoffice ist so unmöglich. PLZ {postcode}",
            "Die App funktioniert nicht mehr, es kommt nur 'Etwas ist schiefgelaufen'. Geht's noch jemandem so?",
            "Kein TV und kein Internet in {city} seit heute Morgen. Wann ist das behoben??",
            "Nur noch {speed} Mbit/s statt der bezahlten 250. Was ist da los?",
            "Mitten im Spiel fällt {channel} aus. Im Ernst, {brand}?! ⚽",
        ),
        "mortgage": (
            "Hallo, meine Zinsbindung läuft in {n} Monaten aus. Wann bekomme ich ein Angebot zur Anschlussfinanzierung?",
            "Kann ich bei meiner Hypothek kostenlos Sondertilgungen machen? Es geht um ca. {amount_big}",
            "Wir haben ein Haus in {city} gekauft! 🏡 Wie lange dauert die Zusage für die Baufinanzierung?",
            "Warum ist meine monatliche Rate für die Hypothek plötzlich {amount} höher?",
            "Frage zur Baufinanzierung: Zählt ein befristeter Arbeitsvertrag bei der Berechnung mit?",
        ),
        "billing": (
            "Diesen Monat wurden zweimal {amount} abgebucht. Bitte zurücküberweisen!",
            "Meine Rechnung ist {amount} höher als sonst und ich verstehe nicht warum. Kundennummer {customer_no}",
            "Wo finde ich meine Rechnung für {month}? In der App sehe ich nur die letzte",
            "Habe zum {date} gekündigt und bekomme trotzdem noch eine Rechnung. Wie kann das sein?",
            "Doppelt bezahlt für Bestellung {order} 😤 Wie bekomme ich mein Geld zurück?",
            "Mahnung bekommen für eine Rechnung, die längst bezahlt ist. Kundennummer {customer_no}",
        ),
        "delivery": (
            "Mein Paket mit Bestellnummer {order} sollte gestern kommen, immer noch nichts 📦",
            "Die Sendungsverfolgung steht seit {days} Tagen auf 'im Paketzentrum'. Wo bleibt meine Lieferung?",
            "{carrier} behauptet, niemand war zu Hause. Ich war den ganzen Tag da! Bestellung {order}",
            "Paket kam beschädigt an, {product} ist kaputt 😢 Wie kann ich das zurückschicken?",
            "Falscher Artikel geliefert, bestellt war: {product}. Bestellnummer {order}",
            "Laut {carrier} wurde meine Lieferung zugestellt, hier ist aber nichts. Bestellung {order} 🤨",
        ),
        "account": (
            "Ich komme nicht mehr in mein Konto, Passwort zurücksetzen klappt nicht. Die Mail kommt nie an",
            "Mein Account wurde nach zu vielen Loginversuchen gesperrt. Was kann ich tun?",
            "Der SMS-Code kommt nicht an, warte schon seit {minutes} Minuten",
            "Jemand hat sich in mein Konto eingeloggt?! Gerade eine Mail über einen Login aus {foreign_city} bekommen 😱",
            "Seit dem letzten App-Update werde ich ständig ausgeloggt. Nervig!",
        ),
        "returning": (
            "Hallo, ich hatte letzte Woche schon Kontakt wegen meiner Bestellung ({product}), das Problem ist leider zurück 😩",
            "Ich habe schon eine Meldung gemacht (Ticket {ticket}), aber noch nichts gehört",
            "Da bin ich wieder 🙈 Gleiches Problem wie beim letzten Mal",
        ),
        "press": (
            "Guten Tag, uns erreichen Meldungen über eine Störung bei {brand} im Raum {city}. Könnt ihr das bestätigen?",
            "Für einen Artikel über die Preiserhöhung bei {brand}: Gibt es ein Statement? Gern bis {eta} Uhr.",
        ),
        "employee": (
            "Stolz auf die Kolleg*innen, die heute Nacht die Störung in {city} behoben haben 💪",
            "Heute mein erster Tag im Shop in {city}, ich freue mich! 🎉",
        ),
        "bot": (
            "🔥 Verdiene {n}00 € am Tag von zu Hause! Link in meiner Bio 💰💰",
            "Glückwunsch! Du wurdest für ein gratis iPhone ausgewählt 📱 Schreib mir jetzt eine DM",
        ),
    },
    "en": {
        "question": (
            "Hi {brand}, can I pick up my order ({product}) at your store in {city}?",
            "Quick question: are your stores open on {weekday}? Want to drop by in {city}",
            "What's actually the difference between the basic and the premium plan? Still undecided 🤔",
            "Can I pause my subscription for {n} months? I'll be abroad for work",
            "How long does it take for a refund of {amount} to show up in my account?",
            "Is {channel} included in the basic package or do I need an add-on?",
            "We're moving on {date}. How do I update my address with you? Can't find it on the website",
            "Do you have an English version of the app? My Dutch isn't great yet 😅",
        ),
        "complaint": (
            "Been on hold with your customer service for {minutes} minutes now. This is ridiculous {brand} 😡",
            "Third time this month the engineer didn't show up. I took a day off for this!",
            "I was promised a callback today. Nothing. Great service as usual 🙄",
            "Your new app is a disaster, can't find anything anymore",
            "Waiting {days} days for a reply to my email. Customer number {customer_no}. Hello??",
            "Price went up by {amount} a month without any explanation. Seriously considering switching",
            "Why is all your communication only in Dutch? Not everyone here speaks it",
        ),
        "compliment": (
            "Great help from your social media team today, sorted within ten minutes 👏",
            "The engineer showed up right on time at {time} and was super friendly. Kudos {brand}! 😊",
            "My {product} arrived today, only ordered it last night. Impressive! 📦",
            "Finally a company that does what it promises. Thank you 🙏",
            "Outage was fixed faster than expected. Nice work {brand}! 💪",
        ),
        "outage": (
            "Outage? No internet here in {city} since {time} 😩",
            "Is {brand} down? TV only shows a black screen with error code E{code}",
            "Internet keeps dropping all day, working from home is impossible like this. Postcode {postcode}",
            "The app stopped working, all I get is 'Something went wrong'. Anyone else?",
            "No TV and no internet in {city} since this morning. When will this be fixed??",
            "Speed dropped to {speed} Mbps while I'm paying for 500. What's going on?",
            "{channel} cuts out right in the middle of the match. Seriously {brand}?! ⚽",
        ),
        "mortgage": (
            "Hi, my fixed-rate period ends in {n} months. When will I get a new rate offer?",
            "Can I make extra repayments on my mortgage without a penalty? About {amount_big}",
            "We just bought a house in {city}! 🏡 How long until the mortgage offer comes through?",
            "Why did my monthly mortgage payment suddenly go up by {amount}?",
            "Question about mortgages: do you accept applicants on a temporary contract with the 30% ruling?",
        ),
        "billing": (
            "I've been double charged this month, {amount} twice. Please refund!",
            "My invoice is {amount} higher than usual and I don't get why. Customer number {customer_no}",
            "Where can I find my invoice for {month}? The app only shows the latest one",
            "I cancelled as of {date} but I'm still getting invoices. How come?",
            "Paid twice for order {order} 😤 How do I get my money back?",
            "Got a payment reminder for an invoice I already paid. Customer number {customer_no}",
        ),
        "delivery": (
            "My parcel (order {order}) was supposed to arrive yesterday, still nothing 📦",
            "Tracking has said 'at sorting centre' for {days} days now. Where is my {product}?",
            "The {carrier} driver says nobody was home. I was home all day! Order {order}",
            "Parcel arrived damaged, the {product} is broken 😢 How do I return it?",
            "Received the wrong item, I ordered a {product}. Order {order}",
            "{carrier} says my parcel was delivered but there's nothing here. Order {order} 🤨",
        ),
        "account": (
            "Can't log into my account and the password reset email never arrives",
            "My account got locked after too many login attempts. How do I fix this?",
            "The SMS verification code isn't coming through, been waiting {minutes} minutes",
            "Someone logged into my account?! Just got an email about a login from {foreign_city} 😱",
            "Since the last app update I keep getting logged out. Annoying!",
        ),
        "returning": (
            "Hi, I contacted you last week about my {product}, but the problem is back 😩",
            "I already reported this before (ticket {ticket}) and still haven't heard anything",
            "Me again 🙈 Same problem as last time",
        ),
        "press": (
            "Hi {brand}, we're getting reports of an outage in {city}. Can you confirm how many customers are affected? Deadline {eta}.",
            "Working on a story about the price increases at {brand}. Would you like to comment? Deadline {eta}.",
        ),
        "employee": (
            "Proud of my colleagues who fixed the outage in {city} overnight 💪",
            "First day at the {city} store today, so excited! 🎉",
        ),
        "bot": (
            "🚀 Turn $100 into $5,000 in a week! DM me for free crypto signals 💰💰",
            "Congrats! You've been selected for a free gift card 🎁 Claim now via the link in bio",
        ),
    },
}

# More customer messages before anyone answered: a nudge or an extra detail.
_NUDGES = {
    "nl": ("Hallo? Is hier iemand?", "Nog steeds geen reactie… 🙄", "Zou fijn zijn als er even iemand reageert 🙏",
           "Kan iemand hier even naar kijken alsjeblieft?", "Ik wacht nog steeds op antwoord hoor"),
    "de": ("Hallo? Ist da jemand?", "Immer noch keine Antwort… 🙄", "Wäre nett, wenn sich mal jemand meldet 🙏",
           "Kann sich das bitte mal jemand anschauen?"),
    "en": ("Hello? Anyone there?", "Still no reply… 🙄", "Would be nice if someone got back to me 🙏",
           "Can someone please look into this?"),
}
_DETAILS = {
    "nl": {
        "outage": ("Router al {n} keer opnieuw opgestart trouwens, maakt niks uit",
                   "Postcode is {postcode}, huisnummer {house_no}", "De buren hebben het ook, dus het ligt niet aan mij"),
        "delivery": ("Ordernummer is {order} btw", "Track & trace zegt nog steeds 'onderweg'"),
        "billing": ("Klantnummer is {customer_no}", "Het gaat om de factuur van {month}"),
        "account": ("Heb het ook al via de website geprobeerd, zelfde probleem", "Mijn klantnummer is {customer_no}"),
        "mortgage": ("Mijn hypotheeknummer is {mortgage_no}", "Het gaat om de woning in {city}"),
        "complaint": ("En nu weer {minutes} minuten in de wacht. Ongelofelijk", "Klantnummer {customer_no}, voor de duidelijkheid"),
    },
    "de": {
        "outage": ("Router habe ich schon {n} Mal neu gestartet, bringt nichts", "PLZ {postcode}, Hausnummer {house_no}"),
        "delivery": ("Bestellnummer ist übrigens {order}", "Die Sendungsverfolgung zeigt immer noch 'unterwegs'"),
        "billing": ("Kundennummer ist {customer_no}", "Es geht um die Rechnung für {month}"),
        "account": ("Über die Website geht es auch nicht, gleiches Problem", "Meine Kundennummer ist {customer_no}"),
        "mortgage": ("Meine Darlehensnummer ist {mortgage_no}",),
        "complaint": ("Und jetzt wieder {minutes} Minuten Warteschleife. Unfassbar",),
    },
    "en": {
        "outage": ("Already restarted the router {n} times btw, no difference", "Postcode is {postcode}, house number {house_no}",
                   "The neighbours have it too, so it's not just me"),
        "delivery": ("Order number is {order} btw", "Tracking still says 'in transit'"),
        "billing": ("Customer number is {customer_no}", "It's about the invoice for {month}"),
        "account": ("Tried via the website as well, same problem", "My customer number is {customer_no}"),
        "mortgage": ("My mortgage number is {mortgage_no}",),
        "complaint": ("And now on hold again for {minutes} minutes. Unbelievable",),
    },
}

# Agent replies: bodies per topic (the greeting and signature are added around them).
_REPLIES: dict[str, dict[str, tuple[str, ...]]] = {
    "nl": {
        "question": (
            "Goede vraag! Dat kan zeker. Je regelt het het snelst via Mijn {brand} onder 'Abonnement'. Lukt het niet, laat het me dan weten.",
            "Dank voor je vraag. Ik zoek het even voor je uit en kom er vandaag nog bij je op terug.",
            "Dat kan! Je vindt alles op onze site onder 'Veelgestelde vragen'. Kom je er niet uit? Dan help ik je verder.",
            "Zeker! In de winkel in {city} kun je daar gewoon terecht, ze zijn open tot 18:00.",
        ),
        "complaint": (
            "Wat vervelend om te horen, dit is niet hoe het hoort. Ik wil het graag voor je rechtzetten. Kun je me je klantnummer sturen?",
            "Sorry dat je zo lang hebt moeten wachten. Ik ga er nu persoonlijk mee aan de slag en laat je vandaag nog iets weten.",
            "Dit snap ik helemaal, excuses hiervoor. Ik heb je feedback doorgezet naar het team en kijk nu wat ik voor je kan doen.",
        ),
        "compliment": (
            "Wat leuk om te lezen, dank je wel! Ik geef het compliment door aan de collega's 😊",
            "Dank je voor het mooie compliment! Fijn dat alles zo snel geregeld is 🙌",
            "Wauw, daar worden we blij van! Dank je wel en veel plezier ermee 😄",
        ),
        "outage": (
            "Wat vervelend! Er is op dit moment een storing in de regio {city}. Onze monteurs zijn ermee bezig, we verwachten dat het rond {eta} is opgelost.",
            "Balen! Ik zie bij ons geen grote storing. Wil je het modem 30 seconden uit het stopcontact halen en opnieuw opstarten? Laat je weten of dat helpt?",
            "Sorry voor het ongemak. We hebben een storing in de app, de collega's werken aan een oplossing. Via de website kun je wel gewoon inloggen.",
        ),
        "mortgage": (
            "Goed dat je het vraagt! Een hypotheekadviseur kan dit het beste met je bespreken. Zal ik een terugbelverzoek voor je inplannen?",
            "Je renteaanbod ontvang je ongeveer 4 maanden voor het einde van je rentevaste periode. Wil je eerder weten waar je aan toe bent? Dan plan ik een gesprek in.",
            "Gefeliciteerd! 🏡 De offerte volgt meestal binnen {n} werkdagen na ontvangst van alle stukken. Ik kijk even hoe het ervoor staat.",
        ),
        "billing": (
            "Wat vervelend! Ik zie inderdaad een dubbele afschrijving. Ik heb het bedrag teruggezet, binnen 5 werkdagen staat het weer op je rekening.",
            "Ik kijk graag even met je mee. Het verschil komt door een eenmalige verrekening van je vorige abonnement. Je volgende factuur is weer normaal.",
            "Je facturen vind je in Mijn {brand} onder 'Facturen'. Daar kun je ook oudere facturen als pdf downloaden.",
        ),
        "delivery": (
            "Wat balen dat je pakket er nog niet is! Ik heb het bij {carrier} nagevraagd: het wordt morgen {slot} bezorgd.",
            "Sorry hiervoor! Ik heb een nieuwe {product} voor je klaargezet, die wordt binnen 2 werkdagen bezorgd.",
            "Vervelend! Ik heb een onderzoek gestart bij {carrier}. Binnen {n} werkdagen hoor je van ons. Komt het pakket niet boven water, dan sturen we een nieuwe.",
        ),
        "account": (
            "Vervelend dat je niet kunt inloggen! Ik heb je account gedeblokkeerd, je kunt nu een nieuw wachtwoord aanvragen via 'Wachtwoord vergeten'.",
            "Goed dat je dit meteen meldt! Ik heb je account voor de zekerheid tijdelijk geblokkeerd. Wijzig je wachtwoord via de link die je zo per mail krijgt.",
            "Check ook even je spamfolder, de mail komt soms daar terecht. Staat hij daar ook niet? Dan stuur ik hem handmatig opnieuw.",
        ),
        "returning": (
            "Vervelend dat het probleem terug is! Ik zie je eerdere melding in ons systeem en pak het nu direct voor je op.",
            "Wat balen dat je opnieuw contact moet opnemen. Ik heb je dossier erbij gepakt en zorg dat het deze keer wel goed komt.",
        ),
        "redirect": (
            "Wat vervelend! Wil je ons even een DM sturen met je klantnummer? Dan kijken we direct met je mee.",
            "Daar help ik je graag mee! Stuur je ons een privébericht met je postcode en huisnummer? Dan zoek ik het voor je uit.",
        ),
        "press": (
            "Dank voor je bericht! Ik heb je vraag doorgezet naar onze woordvoerder, die neemt zo snel mogelijk contact met je op.",
        ),
        "employee": (
            "Dank je, collega! 💪 Mooi om te zien.",
            "Leuk! Veel succes en plezier, collega 😊",
        ),
    },
    "de": {
        "question": (
            "Gute Frage! Das geht ganz einfach über Mein {brand} unter 'Vertrag'. Falls es nicht klappt, sag gern Bescheid.",
            "Danke für deine Frage. Ich kläre das für dich und melde mich heute noch.",
            "Klar! Alle Infos findest du auf unserer Website unter 'Häufige Fragen'. Kommst du nicht weiter? Dann helfe ich dir gern.",
        ),
        "complaint": (
            "Das tut mir wirklich leid, so sollte es nicht laufen. Ich kümmere mich gern darum. Schickst du mir deine Kundennummer?",
            "Entschuldige bitte die lange Wartezeit. Ich nehme mich der Sache jetzt persönlich an und melde mich heute noch.",
        ),
        "compliment": (
            "Wie schön, vielen Dank! Ich gebe das Lob gern an die Kolleg*innen weiter 😊",
            "Danke für das tolle Feedback! Freut uns, dass alles so schnell geklappt hat 🙌",
        ),
        "outage": (
            "Das ist ärgerlich! Aktuell gibt es eine Störung im Raum {city}. Unsere Techniker arbeiten daran, wir rechnen mit einer Behebung gegen {eta} Uhr.",
            "Mist! Ich sehe bei uns keine größere Störung. Kannst du den Router 30 Sekunden vom Strom nehmen und neu starten? Gib mir Bescheid, ob es hilft.",
            "Sorry für die Umstände. In der App gibt es gerade eine Störung, das Team arbeitet an einer Lösung. Über die Website kannst du dich normal einloggen.",
        ),
        "mortgage": (
            "Gute Frage! Das bespricht am besten eine*r unserer Finanzierungsberater*innen mit dir. Soll ich einen Rückruf für dich einplanen?",
            "Dein Angebot zur Anschlussfinanzierung bekommst du etwa 4 Monate vor Ablauf der Zinsbindung. Willst du früher planen? Dann vereinbare ich gern einen Termin.",
        ),
        "billing": (
            "Ärgerlich! Ich sehe tatsächlich eine doppelte Abbuchung. Ich habe den Betrag erstattet, in 5 Werktagen ist er wieder auf deinem Konto.",
            "Ich schaue gern mit dir drauf. Der Unterschied kommt von einer einmaligen Verrechnung deines alten Tarifs. Die nächste Rechnung ist wieder normal.",
        ),
        "delivery": (
            "Schade, dass dein Paket noch nicht da ist! Ich habe bei {carrier} nachgefragt: Es wird morgen {slot} zugestellt.",
            "Sorry! Ich habe einen Nachforschungsauftrag bei {carrier} gestartet. Innerhalb von {n} Werktagen hörst du von uns.",
        ),
        "account": (
            "Ärgerlich, dass der Login nicht klappt! Ich habe dein Konto entsperrt, du kannst jetzt über 'Passwort vergessen' ein neues Passwort anfordern.",
            "Gut, dass du dich direkt meldest! Ich habe dein Konto sicherheitshalber gesperrt. Ändere dein Passwort über den Link, den du gleich per Mail bekommst.",
        ),
        "returning": (
            "Ärgerlich, dass das Problem wieder da ist! Ich sehe deine frühere Meldung und kümmere mich jetzt direkt darum.",
        ),
        "redirect": (
            "Das schauen wir uns gern an! Schick uns bitte eine DM mit deiner Kundennummer, dann helfen wir dir direkt weiter.",
        ),
        "press": (
            "Danke für deine Nachricht! Ich habe deine Anfrage an unsere Pressestelle weitergeleitet, sie meldet sich so schnell wie möglich.",
        ),
        "employee": (
            "Danke dir! 💪 Schön zu sehen, dass es dir Spaß macht.",
        ),
    },
    "en": {
        "question": (
            "Good question! You can arrange that via My {brand} under 'Subscription'. If it doesn't work, just let me know.",
            "Thanks for your question. I'll look into it and get back to you today.",
            "Sure! Our English FAQ is on the website under 'Help'. Can't find what you need? Happy to help further.",
        ),
        "complaint": (
            "Really sorry to hear this, that's not how it should go. I'd like to make it right. Could you send me your customer number?",
            "Apologies for the long wait. I'm picking this up personally now and will update you today.",
        ),
        "compliment": (
            "So nice to read, thank you! I'll pass the compliment on to the team 😊",
            "Thanks for the lovely feedback! Glad it all got sorted so quickly 🙌",
        ),
        "outage": (
            "So sorry! There's currently an outage in the {city} area. Our engineers are on it, we expect it to be fixed around {eta}.",
            "That's annoying! I don't see a wider outage on our side. Could you unplug the modem for 30 seconds and restart it? Let me know if that helps.",
            "Sorry for the trouble. The app is having issues right now, the team is working on a fix. You can still log in via the website.",
        ),
        "mortgage": (
            "Good question! One of our mortgage advisors can best go through this with you. Shall I schedule a callback?",
            "You'll receive your new rate offer about 4 months before your fixed-rate period ends. Want to plan earlier? I can book an appointment for you.",
        ),
        "billing": (
            "Sorry about that! I can indeed see a double charge. I've refunded the amount, it'll be back in your account within 5 working days.",
            "Happy to take a look. The difference is a one-off settlement from your previous plan. Your next invoice will be back to normal.",
        ),
        "delivery": (
            "Sorry your parcel hasn't arrived yet! I checked with {carrier}: it'll be delivered tomorrow {slot}.",
            "Apologies! I've opened an investigation with {carrier}. You'll hear from us within {n} working days.",
            "Sorry about this! I've sent you a replacement {product}, it should arrive within 2 working days.",
        ),
        "account": (
            "Sorry you can't log in! I've unlocked your account, you can now request a new password via 'Forgot password'.",
            "Good that you reported this right away! I've temporarily locked your account to be safe. Change your password via the link you'll receive by email.",
        ),
        "returning": (
            "Sorry the problem is back! I can see your earlier report and I'm picking it up right away.",
        ),
        "redirect": (
            "Happy to help! Could you send us a DM with your customer number? Then we'll look into it right away.",
        ),
        "press": (
            "Thanks for reaching out! I've forwarded your question to our press office, they'll get back to you as soon as possible.",
        ),
        "employee": (
            "Thanks, colleague! 💪 Great to see.",
        ),
    },
}

# The customer's answer to our reply, by kind ("ack" answers a thank-you for a compliment).
_ANSWERS: dict[str, dict[str, tuple[str, ...]]] = {
    "nl": {
        "thanks": (
            "Top, dank je wel voor de snelle reactie! 🙏", "Super, bedankt! Top geregeld 👍",
            "Ah fijn, dan wacht ik het even af. Bedankt!", "Dank je, dat is duidelijk 😊",
            "Geweldig, thanks voor het meedenken!", "Oké top, fijn dat het geregeld is",
        ),
        "followup": (
            "Oké, en hoe lang gaat dat ongeveer duren?", "Dank je. Krijg ik hier ook een vergoeding voor?",
            "Moet ik dan zelf nog iets doen?", "En wat als het {weekday} nog steeds niet geregeld is?",
            "Ik heb je een DM gestuurd met mijn gegevens", "Kan dat ook telefonisch? Ik ben niet zo handig met de app",
        ),
        "still_broken": (
            "Helaas, nog steeds hetzelfde probleem 😩", "Nope. Het is nu {now} en nog steeds niks",
            "Heb alles geprobeerd wat je zei, maakt geen verschil 😤", "Sorry, maar hier heb ik niks aan. Het probleem is er nog steeds",
        ),
        "angry": (
            "Dit is al de zoveelste keer. Ik ga echt overstappen 😡", "Oké, we gaan het zien. Hoop dat het nu wel lukt",
        ),
        "ack": (
            "Graag gedaan, jullie verdienen het! 😊", "Ga zo door! 👍 Fijne dag nog", "Haha dank je, jullie ook een fijne dag!",
        ),
    },
    "de": {
        "thanks": (
            "Super, vielen Dank für die schnelle Antwort! 🙏", "Top, danke! Das hat geklappt 👍",
            "Ah gut, dann warte ich mal ab. Danke!", "Danke, das ist verständlich 😊",
        ),
        "followup": (
            "Okay, und wie lange dauert das ungefähr?", "Danke. Bekomme ich dafür auch eine Gutschrift?",
            "Muss ich dann selbst noch etwas machen?", "Und was, wenn es am {weekday} immer noch nicht geht?",
            "Ich habe euch eine DM mit meinen Daten geschickt",
        ),
        "still_broken": (
            "Leider immer noch das gleiche Problem 😩", "Nö. Es ist jetzt {now} Uhr und immer noch nichts",
            "Habe alles probiert, was du gesagt hast, bringt nichts 😤",
        ),
        "angry": (
            "Das ist jetzt schon das x-te Mal. Ich kündige 😡", "Okay, mal sehen. Hoffe, es klappt diesmal",
        ),
        "ack": ("Gern, ihr habt es verdient! 😊", "Weiter so! 👍 Schönen Tag noch"),
    },
    "en": {
        "thanks": (
            "Great, thanks for the quick reply! 🙏", "Brilliant, thanks! All sorted 👍",
            "Ah ok, I'll wait and see then. Thanks!", "Thanks, that makes sense 😊", "Perfect, appreciate the help!",
        ),
        "followup": (
            "Okay, and how long will that take roughly?", "Thanks. Do I get any compensation for this?",
            "Do I need to do anything myself?", "And what if it's still not sorted by {weekday}?",
            "I've sent you a DM with my details", "Can I do that by phone as well? The app isn't my thing",
        ),
        "still_broken": (
            "Unfortunately still the same problem 😩", "Nope. It's {now} now and still nothing",
            "Tried everything you said, makes no difference 😤",
        ),
        "angry": (
            "This is the umpteenth time. I'm switching providers 😡", "Okay, we'll see. Hope it works this time",
        ),
        "ack": ("You're welcome, well deserved! 😊", "Keep it up! 👍 Have a good one"),
    },
}
# Answers that only fit one topic; used next to the generic ones above.
_TOPIC_ANSWERS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "nl": {
        "outage": {
            "thanks": ("Het werkt weer! Dank je wel 👍", "Yes, internet doet het weer. Bedankt!"),
            "still_broken": ("Router opnieuw opgestart zoals gevraagd, maar nee. Werkt nog steeds niet",
                             "Nog steeds geen internet hier 😩 Buren ook niet"),
        },
        "delivery": {
            "thanks": ("Pakket is net binnen, dank je! 📦",),
            "still_broken": ("Nog steeds geen pakket ontvangen hoor", "Track & trace zegt nu weer 'vertraagd' 🙄"),
        },
        "billing": {"still_broken": ("Het geld staat nog steeds niet terug op mijn rekening 😤",)},
        "account": {
            "thanks": ("Gelukt, ik kan weer inloggen! Dank je 🙏",),
            "still_broken": ("Nog steeds geen mail ontvangen, ook niet in de spam",),
        },
    },
    "de": {
        "outage": {
            "thanks": ("Es funktioniert wieder! Danke 👍",),
            "still_broken": ("Router neu gestartet wie gesagt, aber nein. Geht immer noch nicht",),
        },
        "delivery": {"still_broken": ("Immer noch kein Paket angekommen",)},
        "billing": {"still_broken": ("Das Geld ist immer noch nicht auf meinem Konto 😤",)},
        "account": {"thanks": ("Hat geklappt, ich komme wieder rein! Danke 🙏",)},
    },
    "en": {
        "outage": {
            "thanks": ("It's working again! Thank you 👍",),
            "still_broken": ("Restarted the router like you said, but no. Still not working",),
        },
        "delivery": {"still_broken": ("Still haven't received the parcel",)},
        "billing": {"still_broken": ("The money still isn't back in my account 😤",)},
        "account": {"thanks": ("Worked, I can log in again! Thanks 🙏",)},
    },
}
_ACK_TOPICS = frozenset({"compliment", "employee"})

# Our second reply, to the customer's answer.
_SECOND_REPLIES: dict[str, dict[str, tuple[str, ...]]] = {
    "nl": {
        "thanks": ("Graag gedaan! Fijne dag nog 😊", "Fijn dat het gelukt is! Laat gerust weten als er nog iets is."),
        "followup": (
            "Goede vraag! Normaal gesproken duurt dat 1 à 2 werkdagen. Lukt het dan nog niet, laat het me gerust weten.",
            "Je hoeft verder niks te doen, wij regelen de rest. Je krijgt een bevestiging per mail.",
            "Ja, je krijgt een vergoeding voor de dagen zonder service. Die zie je terug op je volgende factuur.",
        ),
        "still_broken": (
            "Balen dat het nog steeds niet werkt! Ik heb een monteur voor je ingepland op {weekday} {slot}.",
            "Vervelend! Ik heb je melding doorgezet naar onze technische collega's (ticket {ticket}). Binnen {hours} uur hoor je van ons.",
            "Sorry, dat had ik je graag anders verteld. Ik heb het opgeschaald naar een specialist, die belt je vandaag nog.",
        ),
    },
    "de": {
        "thanks": ("Gern geschehen! Einen schönen Tag noch 😊", "Schön, dass es geklappt hat! Melde dich gern, wenn noch etwas ist."),
        "followup": (
            "Gute Frage! Normalerweise dauert das 1 bis 2 Werktage. Falls es dann noch nicht klappt, sag gern Bescheid.",
            "Du musst nichts weiter tun, wir kümmern uns um den Rest. Du bekommst eine Bestätigung per Mail.",
        ),
        "still_broken": (
            "Schade, dass es immer noch nicht geht! Ich habe einen Techniker für {weekday} {slot} eingeplant.",
            "Ärgerlich! Ich habe deine Meldung an unsere Technik weitergegeben (Ticket {ticket}). Innerhalb von {hours} Stunden hörst du von uns.",
        ),
    },
    "en": {
        "thanks": ("You're welcome! Have a great day 😊", "Glad it worked out! Let us know if there's anything else."),
        "followup": (
            "Good question! It usually takes 1 to 2 working days. If it still doesn't work by then, just let me know.",
            "You don't need to do anything, we'll take care of the rest. You'll get a confirmation by email.",
            "Yes, you'll be compensated for the days without service. You'll see it on your next invoice.",
        ),
        "still_broken": (
            "Sorry it's still not working! I've booked an engineer for {weekday} {slot}.",
            "Annoying! I've passed your report on to our technical team (ticket {ticket}). You'll hear from us within {hours} hours.",
        ),
    },
}

_GREETINGS = {
    "nl": (("Hoi {first}, ", True), ("Hoi {first}! ", False), ("Hey {first}, ", True), ("Hallo {first}, ", True)),
    "de": (("Hallo {first}, ", True), ("Hi {first}! ", False), ("Hallo {first}! ", False)),
    "en": (("Hi {first}, ", True), ("Hey {first}! ", False), ("Hi {first}! ", False)),
}
_ANON_GREETING = {"nl": "Hoi! ", "de": "Hallo! ", "en": "Hi there! "}
_SIGNATURES = {
    "nl": ("Groetjes, {agent}", "Groet, {agent}", "Gr. {agent}", "^{agent}"),
    "de": ("Viele Grüße, {agent}", "LG {agent}", "Beste Grüße, {agent}"),
    "en": ("Cheers, {agent}", "Best, {agent}", "Kind regards, {agent}"),
}
_KEEP_CASE = frozenset({"I", "I'm", "I've", "I'll", "I'd", "Sie", "Ihr", "Ihre", "Ihnen", BRAND_NAME})
_PAD = {"nl": " Graag een reactie.", "de": " Bitte um Rückmeldung.", "en": " Please get back to me."}
_INFLUENCER_TAGS = {
    "nl": " (en ja, mijn volgers gaan dit ook horen)", "de": " (meine Follower erfahren davon)",
    "en": " (and yes, my followers will hear about this)",
}
_EMOJI = {
    "complaint": ("😡", "🙄", "😤", "👎"), "outage": ("😩", "😤", "🙄", "📵"), "compliment": ("😍", "👍", "🙏", "❤️"),
    "question": ("🤔", "🙂", "🙏"), "billing": ("😤", "💸", "🤨"), "delivery": ("📦", "😩", "🤨"),
    "account": ("😩", "🔒", "🙄"), "mortgage": ("🏡", "🙂"),
}

# --------------------------------------------------------------------------- names and authors

_FIRST = {
    "nl": ("Jan", "Sanne", "Daan", "Emma", "Lucas", "Julia", "Sem", "Tess", "Finn", "Sophie", "Levi", "Lotte",
           "Bram", "Eva", "Thijs", "Anouk", "Ruben", "Fleur", "Jesse", "Lisa", "Kevin", "Mariska", "Peter",
           "Ingrid", "Henk", "Annemiek", "Mohamed", "Fatima", "Yusuf", "Noor", "Stijn", "Iris", "Wouter",
           "Marloes", "Joost", "Ilse", "Bart", "Femke", "Koen", "Esther", "Ricardo", "Priya", "Dewi", "Gerrit",
           "Willemijn", "Niels", "Marieke", "Sven", "Linda", "Dennis", "Kim", "Mark", "Sandra", "Rik", "Nadia"),
    "de": ("Lukas", "Anna", "Leon", "Mia", "Jonas", "Lena", "Finn", "Hannah", "Felix", "Laura", "Paul", "Lea",
           "Maximilian", "Sophie", "Katharina", "Stefan", "Sabine", "Thomas", "Petra", "Jürgen", "Monika",
           "Mehmet", "Ayşe", "Uwe", "Birgit", "Niklas", "Jana", "Tobias", "Julia", "Markus", "Nicole"),
    "en": ("James", "Emily", "Oliver", "Olivia", "Jack", "Sophie", "Harry", "Chloe", "George", "Grace", "Daniel",
           "Hannah", "Michael", "Sarah", "David", "Jessica", "Ryan", "Megan", "Ethan", "Priya", "Arjun", "Aisha",
           "Chen", "Wei", "Lucas", "Maria", "Ana", "Pedro", "Tom", "Kate", "Liam", "Ella", "Rahul", "Sofia"),
}
_LAST = {
    "nl": ("de Vries", "Jansen", "de Jong", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
           "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit",
           "Dijkstra", "Smits", "de Graaf", "van der Meer", "Kok", "Jacobs", "Yilmaz", "El Idrissi", "Bouzid",
           "Kaya", "Hoekstra", "Verhoeven", "Kuipers", "Postma", "van Dijk", "Willems", "Koster", "Prins",
           "Huisman", "Timmermans", "Groen", "Sanders", "van Beek", "Maas", "Vermeulen", "Boukhari"),
    "de": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
           "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
           "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Öztürk", "Lehmann"),
    "en": ("Smith", "Jones", "Williams", "Brown", "Taylor", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
           "Roberts", "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes", "Edwards", "Green", "Hall",
           "Patel", "Khan", "Nguyen", "Garcia", "Silva", "O'Brien", "Murphy", "Kelly", "Sharma", "Kowalski"),
}
_OUTLETS = {
    "nl": ("Dagblad Noord", "RegioNieuws", "Techwereld", "De Consumentenkrant", "Stadsblad"),
    "de": ("Rheinische Rundschau", "Verbraucher Aktuell", "Technik Heute"),
    "en": ("Dutch Expat News", "Consumer Watch EU", "Tech Daily Europe"),
}
_BOT_NAMES = ("Crypto Kings 💰", "Free Gift Hub", "Win Big Today", "Followers Boost", "Easy Money Daily",
              "Promo Deals 4U")


@lru_cache(maxsize=4096)
def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


class _Author:
    __slots__ = ("idx", "platform", "lang", "author_id", "handle", "name", "first", "followers", "type", "wa_tag")

    def __init__(self, seed: int, idx: int) -> None:
        rng = random.Random(f"{seed}:author:{idx}")
        salts = _salts(seed)
        self.idx = idx
        platform = self.platform = PLATFORMS[_pick(_PLATFORM_CUM, rng.random())]
        lang = self.lang = LANGUAGES[_pick(_LANG_CUM, rng.random())]
        r = rng.random()
        public_platform = platform in ("x", "facebook", "instagram")
        if public_platform and r < 0.008:
            kind = "influencer"
        elif platform in ("x", "facebook") and r < 0.014:
            kind = "press"
        elif platform in ("x", "instagram") and r < 0.018:
            kind = "bot"
        elif r < 0.038:
            kind = "employee"
        else:
            kind = "customer"
        self.type = kind
        first = rng.choice(_FIRST[lang])
        last = rng.choice(_LAST[lang])
        self.first: str | None = first
        form = rng.random()
        if kind == "bot":
            name = rng.choice(_BOT_NAMES)
            self.first = None
        elif kind == "press":
            name = f"{first} {last} | {rng.choice(_OUTLETS[lang])}"
        elif form < 0.76:
            name = f"{first} {last}"
        elif form < 0.86:
            name = f"{first} {last.split()[-1][0]}."
        elif form < 0.91:
            name = f"{first[0]}. {last}"
            self.first = None
        elif form < 0.96:
            name = f"{first} {rng.choice(('🌸', '🌻', '⚽', '✨', '🇳🇱', '☕'))}"
        else:
            name = first.lower()
        self.name = name
        # A handle is a name part that never ends in a digit and then the author's own number on this
        # platform (`_handle_number`), so no two authors of a platform share a handle.
        f, l_ = _slug(first), _slug(last)
        if kind == "bot":
            base = _slug(name)
        elif platform == "x":
            base = rng.choice((f"{f}{l_}", f"{f[0]}{l_}", f"{f}_{l_}", f"{f}_", f"{f.capitalize()}{l_.capitalize()}",
                               f"{f}{l_}_", f))
        elif platform == "instagram":
            base = rng.choice((f"{f}.{l_}.", f"{f}_{l_}", f"{f}.", f"its.{f}.", f"{f}{l_}_", f"{f}.{l_}_"))
        else:
            base = rng.choice((f"{f}.{l_}.", f"{f}{l_}", f"{f}.{l_[:1]}.", f"{f}{l_}."))
        number = _handle_number(idx, salts["h" + platform])
        # ids: a bijection of idx per platform, so two authors never share an id
        if platform == "x":
            self.author_id = str(10**17 + (0x2545F4914F6CDD1D * idx + salts["ax"]) % (9 * 10**17))
            self.handle = "@" + _name_part(base, 15 - len(number)) + number
        elif platform == "instagram":
            self.author_id = str(10**16 + (0x2545F4914F6CDD1D * idx + salts["ai"]) % (9 * 10**16))
            self.handle = "@" + _name_part(base, 30 - len(number)) + number
        elif platform == "whatsapp":
            unique = f"{(48_271_937 * idx + salts['aw']) % 10**8:08d}"
            if lang == "nl" or (lang == "en" and rng.random() < 0.6):
                digits = "316" + unique
            elif lang == "de":
                digits = "49" + rng.choice(("151", "152", "157", "160", "170", "176")) + unique
            else:
                digits = "447" + rng.choice("45789") + unique
            self.author_id = digits
            self.handle = "+" + digits
        else:
            self.author_id = str(10**15 + (0x2545F4914F6CDD1D * idx + salts["af"]) % (9 * 10**15))
            self.handle = _name_part(base, 50) + number
        self.wa_tag = base64.b64encode(self.author_id.encode()).decode()[:16] if platform == "whatsapp" else ""
        if platform in ("whatsapp", "messenger"):
            followers = 0
        elif kind == "influencer":
            followers = int(math.exp(rng.uniform(math.log(50_000), math.log(2_000_000))))
        elif kind == "press":
            followers = int(math.exp(rng.uniform(math.log(10_000), math.log(500_000))))
        elif kind == "bot":
            followers = rng.randrange(0, 400)
        elif kind == "employee":
            followers = min(20_000, int(rng.lognormvariate(5.0, 1.0)))
        else:
            followers = min(30_000, int(rng.lognormvariate(4.3, 1.5)))
        self.followers = followers


@lru_cache(maxsize=64)
def _salts(seed: int) -> dict[str, int]:
    rng = random.Random(f"{seed}:salts")
    salts = {p: rng.getrandbits(61) for p in PLATFORMS}
    salts.update(ax=rng.getrandbits(60), ai=rng.getrandbits(57), aw=rng.getrandbits(27), af=rng.getrandbits(53),
                 post=rng.getrandbits(61))
    salts.update({"h" + p: rng.getrandbits(61) for p in PLATFORMS})  # handle numbers
    salts["back"] = rng.getrandbits(61)  # which authors come back with a new matter, and when
    return salts


def _name_part(base: str, room: int) -> str:
    """The start of a handle, cut to `room` characters and ending in no digit (the number follows it)."""
    return base[:max(0, room)].rstrip("0123456789")


_HANDLE_STEP = 0x2545F4914F6CDD1D  # odd and no multiple of 3 or 5: coprime to every 9 * 10**k


def _handle_number(idx: int, salt: int) -> str:
    """The number at the end of author `idx`'s handle: a different one for every idx.

    The first 90 authors get two digits, the next 900 three, and so on: within each
    length a bijection (step coprime to the count), so the number names the author
    and a handle whose name part ends in no digit names one author.
    """
    start, size = 0, 90
    while idx >= start + size:
        start, size = start + size, size * 10
    return str(size // 9 + (_HANDLE_STEP * (idx - start) + salt) % size)


@lru_cache(maxsize=16384)
def _author(seed: int, idx: int) -> _Author:
    return _Author(seed, idx)


# --------------------------------------------------------------------------- text building


def _clamp(text: str, lang: str, limit: int = MAX_TEXT, pad: bool = True) -> str:
    """Cut `text` at a word boundary to at most `limit` characters; pad it to `MIN_TEXT`."""
    if len(text) > limit:
        cut = text[: limit - 1]
        space = cut.rfind(" ")
        if space > limit * 0.6:
            cut = cut[:space]
        text = cut.rstrip(" ,;:-") + "…"
    if pad and len(text) < MIN_TEXT:
        text = (text + _PAD[lang])[:limit]
    return text


_NEIGHBOURS = {"a": "sq", "e": "wr", "i": "uo", "o": "ip", "n": "bm", "t": "ry", "r": "et", "s": "ad",
               "l": "k", "d": "sf", "k": "jl", "m": "n", "u": "yi", "g": "fh", "h": "gj"}


def _typo(rng: random.Random, text: str) -> str:
    for _ in range(6 if len(text) > 4 else 0):
        i = rng.randrange(1, len(text) - 2)
        if not (text[i].isalpha() and text[i + 1].isalpha() and text[i - 1].isalpha()):
            continue
        start = text.rfind(" ", 0, i) + 1
        if text[start] in "@#":
            continue
        op = rng.random()
        if op < 0.35:
            return text[:i] + text[i + 1] + text[i] + text[i + 2:]
        if op < 0.6:
            return text[:i] + text[i + 1:]
        if op < 0.8:
            return text[:i] + text[i] + text[i:]
        near = _NEIGHBOURS.get(text[i])
        if near:
            return text[:i] + rng.choice(near) + text[i + 1:]
    return text


def _customer_text(rng: random.Random, author: _Author, public_x: bool, template: str, topic: str | None,
                   fills: _Fills, t: int) -> str:
    lang = author.lang
    text = template.format_map(fills.at(t, brand=BRAND_HANDLE if public_x else BRAND_NAME))
    if topic is not None:
        if author.type == "influencer" and topic in ("complaint", "outage", "delivery") and rng.random() < 0.4:
            text += _INFLUENCER_TAGS[lang]
        elif rng.random() < 0.15 and topic in _EMOJI:
            text += " " + rng.choice(_EMOJI[topic])
    if author.type in ("customer", "influencer", "employee"):
        r = rng.random()
        if r < 0.10:
            text = _typo(rng, text)
        elif r < 0.15 and text[1:2].islower():
            text = text[0].lower() + text[1:]
        elif r < 0.18 and (text[-1].isalpha() or text[-1] in ".!"):
            text = text.rstrip(".!") + "!!"
    if public_x and BRAND_HANDLE not in text:
        text = f"{BRAND_HANDLE} {text}" if rng.random() < 0.7 else f"{text} {BRAND_HANDLE}"
    return _clamp(text, lang)


def _agent_text(rng: random.Random, author: _Author, agent: str, public_x: bool, template: str,
                fills: _Fills, t: int) -> str:
    lang = author.lang
    body = template.format_map(fills.at(t, brand=BRAND_NAME))
    if author.first and author.type != "press":
        greeting, lower = rng.choice(_GREETINGS[lang])
        greeting = greeting.format(first=author.first)
        if lower and body.split(" ", 1)[0].rstrip("!,.") not in _KEEP_CASE:
            body = body[0].lower() + body[1:]
    else:
        greeting = _ANON_GREETING[lang]
    first_name = AGENT_NAMES[agent].split()[0]
    if public_x:
        prefix, signature = author.handle + " ", " ^" + _INITIALS[agent]
    else:
        styles = _SIGNATURES[lang]
        prefix, signature = "", " " + styles[AGENTS.index(agent) % len(styles)].format(agent=first_name)
    room = MAX_TEXT - len(prefix) - len(greeting) - len(signature)
    return prefix + greeting + _clamp(body, lang, room, pad=False) + signature


# --------------------------------------------------------------------------- ids and urls


class _Thread:
    """Where a conversation lives: platform, visibility and, for public comments, the post."""

    __slots__ = ("platform", "public", "post", "shortcode")

    def __init__(self, seed: int, platform: str, public: bool, day: int, slot: int) -> None:
        self.platform = platform
        self.public = public
        self.post = self.shortcode = ""
        if public and platform == "facebook":
            self.post = str(10**15 + _mix61(day * 8 + slot, _salts(seed)["post"]) % (9 * 10**15))
        elif public and platform == "instagram":
            raw = _mix61(day * 8 + slot + 4, _salts(seed)["post"]).to_bytes(8, "big")
            self.shortcode = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()[:11]


def _make_id(seed: int, thread: _Thread, author: _Author, key: int, inbound: bool) -> tuple[str, str | None]:
    platform = thread.platform
    m = _mix61(key, _salts(seed)[platform])
    if platform == "x":
        eid = str(m)
        if not thread.public:
            return eid, None
        who = author.handle[1:] if inbound else BRAND_HANDLE[1:]
        return eid, f"https://x.com/{who}/status/{eid}"
    if platform == "facebook":
        if thread.public:
            return (f"{thread.post}_{m}",
                    f"https://www.facebook.com/{BRAND_NAME}/posts/{thread.post}?comment_id={m}")
        return "m_" + _b64(m, 5), None
    if platform == "instagram":
        if thread.public:
            return str(m), f"https://www.instagram.com/p/{thread.shortcode}/c/{m}/"
        return "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx" + _b64(m, 4), None
    if platform == "whatsapp":
        return f"wamid.HBgL{author.wa_tag}FQIAEhgU{m:016X}{_mix61(m, 1) & 0xFFFF:04X}", None
    return "m_" + _b64(m, 5), None


def _message(author: _Author, thread: _Thread, eid: str, url: str | None, t: int, text: str,
             direction: str, in_reply_to: str | None, agent: str | None) -> dict[str, Any]:
    platform = author.platform
    return {
        "platform": platform,
        "account": "demo-" + platform,
        "external_id": eid,
        "author_id": author.author_id,
        "author_handle": author.handle,
        "author_name": author.name,
        "author_followers": author.followers,
        "author_type": author.type,
        "text": text,
        "created_at": _iso(t),
        "direction": direction,
        "visibility": "public" if thread.public else "private",
        "in_reply_to": in_reply_to,
        "agent": agent,
        "url": url,
        "language": author.lang,
    }


def _draw_public(rng: random.Random, platform: str) -> bool:
    share = _PUBLIC_SHARE[platform]
    return share > 0 and rng.random() < share


def _opener(rng: random.Random, author: _Author, returning: bool) -> tuple[str, str]:
    """(topic, template) of a conversation's first message."""
    lang = author.lang
    kind = author.type
    if kind == "bot":
        return "bot", rng.choice(_OPENERS[lang]["bot"])
    if kind == "press":
        return "press", rng.choice(_OPENERS[lang]["press"])
    if kind == "employee" and rng.random() < 0.5:
        return "employee", rng.choice(_OPENERS[lang]["employee"])
    if returning and rng.random() < 0.35:
        return "returning", rng.choice(_OPENERS[lang]["returning"])
    topic = _TOPICS[_pick(_TOPIC_CUM, rng.random())]
    return topic, rng.choice(_OPENERS[lang][topic])


def _agent_for(rng: random.Random, t: int) -> str:
    hour = _local_hour(t)
    shift = _SHIFTS[0] if (hour >= 23 or hour < 7) else _SHIFTS[1] if hour < 15 else _SHIFTS[2]
    return rng.choice(shift)


def _reply_delay(rng: random.Random, t: int) -> int:
    """Seconds until an agent answers a customer message sent at `t`: minutes by day, hours by night."""
    hour = _local_hour(t)
    if hour >= 23 or hour < 7:
        if rng.random() < 0.3:  # the night shift picks it up
            return int(min(4 * 3600, 120 + rng.lognormvariate(math.log(2400), 0.8)))
        local = t + _hour_offset(t // 3600)
        morning = (local // 86400) * 86400 + 8 * 3600 + (86400 if hour >= 23 else 0)
        return int(max(300, morning - local) + rng.lognormvariate(math.log(1800), 0.9))
    busy = 1.0 + 0.6 * _HOUR_WEIGHTS[hour] / max(_HOUR_WEIGHTS)
    return int(min(6 * 3600, 60 + busy * rng.lognormvariate(math.log(600), 0.9)))


def _answer_delay(rng: random.Random) -> int:
    return int(min(2 * 86400, 30 + rng.lognormvariate(math.log(1200), 1.3)))


def _answer_kind(rng: random.Random, topic: str | None) -> str:
    if topic in _ACK_TOPICS:
        return "ack"
    if topic == "press":
        return "thanks"
    r = rng.random()
    return "thanks" if r < 0.42 else "followup" if r < 0.72 else "still_broken"


def _answer_template(rng: random.Random, lang: str, topic: str | None, kind: str) -> str:
    specific = _TOPIC_ANSWERS[lang].get(topic or "", {}).get(kind)
    if specific and rng.random() < 0.6:
        return rng.choice(specific)
    return rng.choice(_ANSWERS[lang][kind])


def _reply_markers() -> dict[str, tuple[tuple[str, str], ...]]:
    """Per language, (literal piece of a reply body, topic): to tell what a reply was about."""
    markers = {}
    for lang, topics in _REPLIES.items():
        found = []
        for topic, bodies in topics.items():
            if topic in ("redirect", "returning"):
                continue
            for body in bodies:
                piece = body[1:].split("{", 1)[0][:40]
                if len(piece) >= 12:
                    found.append((piece, topic))
        markers[lang] = tuple(found)
    return markers


_REPLY_MARKERS = _reply_markers()


def _guess_topic(lang: str, reply_text: str) -> str | None:
    for piece, topic in _REPLY_MARKERS[lang]:
        if piece in reply_text:
            return topic
    return None


# --------------------------------------------------------------------------- history


def generate_history(seed: int, end: datetime, days: float, conversations_per_day: int = 300) -> Iterator[dict]:
    """Yield `days` days of demo conversations ending at `end`, sorted by `created_at`.

    Conversations start in [end - days, end]; messages later than `end` are not
    made, so the newest conversations may still wait for an answer. Memory stays
    bounded: conversations are made hour by hour and a message is yielded as soon
    as no conversation still to come can have an earlier one.

    Args:
        seed: any integer; the same arguments always give the same messages.
        end: the newest possible message time (timezone-aware).
        days: how many days of history (may be fractional).
        conversations_per_day: average new conversations per day.

    Raises:
        ValueError: `end` has no timezone.
    """
    if end.tzinfo is None or end.utcoffset() is None:
        raise ValueError("end must be timezone-aware")
    end_ts = math.floor(end.timestamp())
    start_ts = math.ceil((end - timedelta(days=max(0.0, days))).timestamp())
    return _History(seed, conversations_per_day, start_ts, end_ts).run()


# Customers who come back with a new matter weeks later: a new case, so an agent sees their earlier ones.
_COMEBACK_SHARE = 0.3  # of new authors
_COMEBACK_AGAIN = 0.35  # of those who came back, come back once more
# A pending case closes 7 days after its last message and reopens within 7 days after that (the
# default threading rules): a message later than this starts a new case.
_NEW_CASE_GAP = 14 * 86_400 + 3_600


def _comeback_gap(bits: int) -> int:
    """Seconds from one matter to the next: 16 to 36 days."""
    return 16 * 86_400 + bits % (20 * 86_400)


class _History:
    def __init__(self, seed: int, per_day: int, start_ts: int, end_ts: int) -> None:
        self.seed = seed
        self.per_day = max(0, per_day)
        self.start_ts = start_ts
        self.end_ts = end_ts
        self.rng = random.Random(f"{seed}:history")
        self.heap: list[tuple[int, int, dict]] = []
        self.seq = 0  # tie-breaker and external-id key
        self.authors = 0
        self.last: tuple[int, str, str, str | None] | None = None  # the last message emitted: (t, direction, id, agent)
        self.p_regular = min(0.08, 100 / max(1, self.per_day))
        self.comebacks: list[tuple[int, int]] = []  # (when, author idx): back with a new matter, a new case
        self.last_seen: dict[int, int] = {}  # author idx → their latest message, for those who will come back

    def run(self) -> Iterator[dict]:
        heap = self.heap
        t = self.start_ts
        while t <= self.end_ts and self.per_day:
            hour_end = min((t // 3600 + 1) * 3600, self.end_ts + 1)
            local_hour = _local_hour(t)
            weekday = (_local_day(t) + 3) % 7  # 1970-01-01 was a Thursday
            expected = self.per_day * _HOUR_SHARE[local_hour] * _DAY_FACTOR[weekday] * (hour_end - t) / 3600
            count = int(expected)
            if self.rng.random() < expected - count:
                count += 1
            for start in sorted(self.rng.randrange(t, hour_end) for _ in range(count)):
                self._conversation(start)
            while heap and heap[0][0] < hour_end:
                yield heapq.heappop(heap)[2]
            t = hour_end
        while heap:
            yield heapq.heappop(heap)[2]

    def _pick_author(self, t: int) -> tuple[_Author, bool]:
        """Who starts a conversation at `t`, and whether it is about an earlier matter."""
        rng = self.rng
        comebacks = self.comebacks
        while comebacks and comebacks[0][0] <= t:
            _, idx = heapq.heappop(comebacks)
            last = self.last_seen[idx]
            if t - last < _NEW_CASE_GAP:  # they wrote again meanwhile: now their case would reopen, so later
                heapq.heappush(comebacks, (last + _NEW_CASE_GAP + rng.randrange(4 * 86_400), idx))
                continue
            if rng.random() < _COMEBACK_AGAIN:
                heapq.heappush(comebacks, (t + _comeback_gap(rng.getrandbits(32)), idx))
            else:
                del self.last_seen[idx]
            return _author(self.seed, idx), False
        n = self.authors
        if n >= 50 and rng.random() < 0.335:
            r = rng.random() * 0.335
            if r < self.p_regular:
                idx = rng.randrange(min(_REGULARS, n))
            elif r < 0.22:  # came back within a few days
                back = int(rng.expovariate(1 / max(100, 2 * self.per_day)))
                idx = n - 1 - back if back < n else rng.randrange(n)
            else:
                idx = rng.randrange(n)
            return _author(self.seed, idx), True
        self.authors += 1
        back = _mix61(n, _salts(self.seed)["back"])  # not from self.rng: a short history stays as it was
        if back & 0xFFFF < _COMEBACK_SHARE * 0x10000:
            heapq.heappush(comebacks, (t + _comeback_gap(back >> 16), n))
            self.last_seen[n] = t
        return _author(self.seed, n), False

    def _emit(self, t: int, author: _Author, thread: _Thread, text: str, direction: str,
              in_reply_to: str | None, agent: str | None) -> str | None:
        if t > self.end_ts:
            return None
        self.seq += 1
        eid, url = _make_id(self.seed, thread, author, self.seq, direction == "in")
        message = _message(author, thread, eid, url, t, text, direction, in_reply_to, agent)
        heapq.heappush(self.heap, (t, self.seq, message))
        if author.idx in self.last_seen and t > self.last_seen[author.idx]:
            self.last_seen[author.idx] = t
        self.last = (t, direction, eid, agent)
        return eid

    def _conversation(self, t: int) -> None:
        """One conversation; one the customer left waiting a day before `end` gets a last reply.

        A team answers its backlog: without this the demo's inbox would fill with
        customers waiting for days, which no working team shows.
        """
        self.last = None
        self._conversation_messages(t)
        if self.last is None:
            return
        t_last, direction, eid, agent = self.last
        if direction != "in" or self.end_ts - t_last < 86_400 or self.rng.random() < 0.02:
            return
        author, thread, fills = self.current
        public_x = thread.public and author.platform == "x"
        t_reply = t_last + _reply_delay(self.rng, t_last)
        agent = agent if agent and self.rng.random() < 0.7 else _agent_for(self.rng, t_reply)
        body = self.rng.choice(_SECOND_REPLIES[author.lang]["thanks"])
        self._emit(t_reply, author, thread, _agent_text(self.rng, author, agent, public_x, body, fills, t_reply),
                   "out", eid, agent)

    def _conversation_messages(self, t: int) -> None:
        rng = self.rng
        author, returning = self._pick_author(t)
        lang = author.lang
        public = _draw_public(rng, author.platform)
        public_x = public and author.platform == "x"
        thread = _Thread(self.seed, author.platform, public, _local_day(t), rng.randrange(3))
        topic, template = _opener(rng, author, returning)
        fills = _Fills(rng, lang, t)
        self.current = (author, thread, fills)
        last_in = self._emit(t, author, thread, _customer_text(rng, author, public_x, template, topic, fills, t),
                             "in", None, None)
        if last_in is None:
            return
        # more messages before anyone answered
        r = rng.random()
        extra = 0 if r < 0.70 else 1 if r < 0.92 else 2
        if topic in ("bot", "employee", "compliment"):
            extra = 0
        for _ in range(extra):
            t += rng.randrange(30, 900)
            details = _DETAILS[lang].get(topic)
            pool = details if details and rng.random() < 0.6 else _NUDGES[lang]
            text = _customer_text(rng, author, public_x, rng.choice(pool), None, fills, t)
            eid = self._emit(t, author, thread, text, "in", None, None)
            if eid is None:
                return
            last_in = eid
        # the first reply
        if topic == "bot" or rng.random() < 0.03:
            return  # spam is left alone; now and then a message slips through
        t += _reply_delay(rng, t)
        agent = _agent_for(rng, t)
        if public and (topic in _SENSITIVE or topic == "returning") and rng.random() < 0.45:
            body = rng.choice(_REPLIES[lang]["redirect"])
        else:
            body = rng.choice(_REPLIES[lang][topic])
        reply = self._emit(t, author, thread, _agent_text(rng, author, agent, public_x, body, fills, t),
                           "out", last_in, agent)
        if reply is None or rng.random() >= 0.6:
            return
        # the customer answers
        kind = _answer_kind(rng, topic)
        t += _answer_delay(rng)
        text = _customer_text(rng, author, public_x, _answer_template(rng, lang, topic, kind), None, fills, t)
        answer = self._emit(t, author, thread, text, "in", reply, None)
        if answer is None:
            return
        # Agents answer thanks with a short "you're welcome": the case goes pending and
        # closes by itself, as a team's inbox does (status changes are no messages).
        if kind == "ack":
            kind = "thanks"
        if rng.random() >= 0.85:
            return
        # a second reply, maybe by a colleague on the next shift
        t += _reply_delay(rng, t)
        if rng.random() < 0.3:
            agent = _agent_for(rng, t)
        text = _agent_text(rng, author, agent, public_x, rng.choice(_SECOND_REPLIES[lang][kind]), fills, t)
        reply = self._emit(t, author, thread, text, "out", answer, agent)
        if reply is None or rng.random() >= 0.4:
            return
        t += _answer_delay(rng)
        final = "angry" if kind == "still_broken" and rng.random() < 0.5 else "thanks"
        text = _customer_text(rng, author, public_x, _answer_template(rng, lang, topic, final), None, fills, t)
        self._emit(t, author, thread, text, "in", reply, None)


# --------------------------------------------------------------------------- live traffic


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class LiveTraffic:
    """New inbound messages for any time window, and customers' answers to our replies.

    Each whole minute (Unix minutes) is made on its own from
    `random.Random(f"{seed}:{minute}")`, so windows can be asked in any order and
    split anywhere: `between(a, c) == between(a, b) + between(b, c)`.

    About 30 % of the messages come from returning authors: the first
    `returning_pool` authors of a history generated with the same seed (its
    regulars, who also come back most within the history), so their message joins
    their existing case; the others come from brand-new authors. A history of
    `conversations_per_day` conversations has made about two thirds of that many
    authors per day, so keep `returning_pool` below what the history made (the
    default 200 needs about one day of the default 300 conversations a day).
    The rate is flat: `rate_per_minute` on average at any hour.
    """

    RETURNING_SHARE = 0.3
    ANSWER_SHARE = 0.6

    def __init__(self, seed: int, rate_per_minute: float = 3.0, *, returning_pool: int = _REGULARS) -> None:
        self.seed = seed
        self.rate_per_minute = max(0.0, float(rate_per_minute))
        self.returning_pool = max(1, min(int(returning_pool), _LIVE_AUTHOR_BASE))

    def between(self, start: datetime, end: datetime) -> list[dict]:
        """The new inbound messages with `start <= created_at < end`, oldest first.

        Raises:
            ValueError: `start` or `end` has no timezone.
        """
        for moment in (start, end):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError("start and end must be timezone-aware")
        s, e = start.timestamp(), end.timestamp()
        out: list[dict] = []
        if e <= s:
            return out
        for minute in range(math.floor(s / 60), math.ceil(e / 60)):
            out.extend(msg for t, msg in self._minute(minute) if s <= t < e)
        return out

    def _minute(self, minute: int) -> list[tuple[int, dict]]:
        rng = random.Random(f"{self.seed}:{minute}")
        count = min(1024, _poisson(rng, self.rate_per_minute))
        made = []
        for i in range(count):
            t = minute * 60 + rng.randrange(60)
            returning = rng.random() < self.RETURNING_SHARE
            if returning:
                idx = rng.randrange(self.returning_pool)
            else:
                idx = _LIVE_AUTHOR_BASE + (minute * 1024 + i) % _LIVE_AUTHOR_SPAN
            author = _author(self.seed, idx)
            public = _draw_public(rng, author.platform)
            thread = _Thread(self.seed, author.platform, public, _local_day(t), rng.randrange(3))
            topic, template = _opener(rng, author, returning)
            if returning and topic not in ("returning", "bot", "press", "employee") and rng.random() < 0.3:
                topic, template = "returning", rng.choice(_OPENERS[author.lang]["returning"])
            text = _customer_text(rng, author, public and author.platform == "x", template, topic,
                                  _Fills(rng, author.lang, t), t)
            eid, url = _make_id(self.seed, thread, author, _LIVE_KEY + minute * 1024 + i, True)
            made.append((t, i, _message(author, thread, eid, url, t, text, "in", None, None)))
        made.sort(key=lambda item: (item[0], item[1]))
        return [(t, msg) for t, _, msg in made]

    def customer_answer(self, reply: dict, at: datetime) -> dict | None:
        """The customer's answer to `reply` (a message we sent), created at `at`, or None.

        About 40 % of replies get no answer. Which replies do, and what the answer
        says (thanks, a follow-up question, or "still not working"), depends only
        on the seed and the reply's external_id.

        Raises:
            ValueError: `at` has no timezone.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at must be timezone-aware")
        if reply.get("direction") != "out" or not reply.get("external_id"):
            return None
        reply_id = str(reply["external_id"])
        rng = random.Random(f"{self.seed}:answer:{reply_id}")
        if rng.random() >= self.ANSWER_SHARE:
            return None
        language, named = reply.get("language"), reply.get("platform")
        lang = language if isinstance(language, str) and language in LANGUAGES else "nl"
        platform = named if isinstance(named, str) and named in PLATFORMS else "x"
        public = reply.get("visibility") == "public"
        author = _Author.__new__(_Author)
        author.idx = -1
        author.platform = platform
        author.lang = lang
        author.author_id = str(reply.get("author_id") or "")
        author.handle = reply.get("author_handle") or ""
        author.name = reply.get("author_name") or ""
        author.first = (author.name.split() or [None])[0]
        author.followers = reply.get("author_followers") or 0
        author.type = reply.get("author_type") or "customer"
        author.wa_tag = base64.b64encode(author.author_id.encode()).decode()[:16]
        thread = _Thread(self.seed, platform, public, 0, 0)
        if public and platform == "facebook" and "_" in reply_id:
            thread.post = reply_id.split("_", 1)[0]
        if public and platform == "instagram":
            url = reply.get("url") or ""
            if "/p/" in url:
                thread.shortcode = url.split("/p/", 1)[1].split("/", 1)[0]
        topic = _guess_topic(lang, str(reply.get("text") or ""))
        kind = _answer_kind(rng, topic)
        t = math.floor(at.timestamp())
        template = _answer_template(rng, lang, topic, kind)
        text = _customer_text(rng, author, public and platform == "x", template, None, _Fills(rng, lang, t), t)
        eid, url = _make_id(self.seed, thread, author, _ANSWER_KEY + rng.getrandbits(58), True)
        message = _message(author, thread, eid, url, t, text, "in", reply_id, None)
        message["account"] = reply.get("account") or message["account"]
        for field in ("author_handle", "author_name", "author_followers", "author_type"):
            message[field] = reply.get(field)
        message["visibility"] = "public" if public else "private"
        return message
