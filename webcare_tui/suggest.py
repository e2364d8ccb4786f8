"""Provides `suggest`: answers for a case from the team's own history, offline and explainable.

For the case's open run (the customer's messages since our last reply; earlier ones add a little
context) it ranks

- **replies**: what we answered to customer messages like these. Similar messages are found
  through the store's full-text index and ranked by BM25; a reply votes with the similarity of
  the question it answered (or, for half as much, of its own words) and its age, and the votes of
  near-identical replies (the same words once names, sign-offs and numbers are set aside, or the
  same links in other words) add up: an answer the team gave often and lately comes first. Then
  the account's usual answers (its most sent recent replies) fill the places left, and add a
  little to those that matched. Replies in the case's own account come before any other's.
- **macros**: by how often each was applied to those similar cases (their `macro` events), with
  the macro's own fit (its texts and labels against the open run's words) breaking ties.

Every suggestion says why: the source case, agent and date, and the words it matched on. A reply
comes as a template (`webcare_tui.templates`): the original customer's @handle and name are
`{author.handle}` / `{author.first_name}` (`{author.name}`) and the original agent's sign-off is
`{agent.signature}`, so inserting it addresses this customer and signs as this agent; links and
codes stay.

Customer text is never query syntax: its words (letters and digits only) are each searched as a
quoted FTS5 string (`store.suggest.fts_term`), never as SQL. Plain Python, no Textual: the console
(a panel on the case screen, computed in the background) and `webcare suggest` share this path.
The settings below were chosen on real conversations (bench/suggest.py, which also shows what
each part adds), none of them for that data.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, Protocol, TypeVar

from webcare_tui.config import Agent, Config
from webcare_tui.macros import Macro
from webcare_tui.message_format import shown_time
from webcare_tui.safe_text import clean
from webcare_tui.store.errors import StoreError
from webcare_tui.templates import TemplateError, case_values, customer_language, first_name, render

# -- settings (see bench/suggest.py) ---------------------------------------------------------------

LIMIT = 5  # suggestions of each kind, by default
MAX_TERMS = 24  # distinct words searched per case: the open run's first, then earlier customer words
CONTEXT_TERMS = 8  # of which from earlier customer messages at most
PER_TERM = 200  # newest messages read per word: bounds the cost of a word the whole store uses
CANDIDATES = 150  # messages ranked by BM25 after the first, cheaper pass
REPLIES = 60  # replies to those that vote, at most (the best matches')
REPLY_TEXT = 0.5  # a reply whose own words match votes this much of what its question would
USUAL = 0.03  # every recent reply of the account votes this much: the team's usual answers (shown
# after those that matched, and adding to them)
USUAL_REPLIES = 200  # the account's newest replies that vote so …
USUAL_WINDOW = 20_000  # … among the store's newest messages (bounds the cost for a quiet account)
CONTEXT_WEIGHT = 0.35  # an earlier customer message's words, against the open run's (1.0)
CONTEXT_MESSAGES = 8  # earlier customer messages of the case that add context
K1, B = 1.2, 0.75  # BM25
MIN_SIMILARITY = 0.15  # of the best match: weaker matches do not vote
SHARPEN = 2.0  # a vote is similarity ** SHARPEN: a close match counts far more than a loose one
OTHER_VOTES = 0.6  # how much a group's further votes add to its best one (how often it was used)
HALF_LIFE = 180 * 86_400  # a reply's vote halves with this age …
RECENCY_FLOOR = 0.3  # … down to this share of it
SIMILAR_TEXT = 0.6  # word overlap (Jaccard) above which two replies are one answer
SAME_LINKS_TEXT = 0.1  # … or above this when they send the same links
OTHER_LANGUAGE = 0.5  # a reply to a question in another language than the customer's votes this share

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+")
_WORD = re.compile(r"[^\W_]+")
_DIGITS = re.compile(r"\d+")
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")  # combining marks
_LINK_END = ".,;:!?)]}'\"’”»"
# sentinels for placeholders while braces are escaped (private-use characters; any in a text go first)
_HANDLE, _NAME, _FULL_NAME, _SIGNATURE = "\ue000", "\ue001", "\ue002", "\ue003"
_SENTINELS = re.compile("[\ue000-\ue003]")
# a sign-off after a mark: " ^TR", " *SR", " -Shannon", " ~Tom"
_MARKED_SIGNOFF = re.compile(r"(?:(?<=\s)|^)[\^*~\-–—]\s?[A-Z][\w.]{0,24}\s*$")
_NAMED_SIGNOFF = (r"(?:^|(?<=[^\w\s,;:]\s)|(?<=\n))(?:[^\W\d_][\w’'.]*,?\s+(?:[\w’']+[.,]?\s+){{0,2}})?"
                  r"{name}[.!]?\s*$")


class SuggestStore(Protocol):
    """What suggestions read: `Store` with `SuggestQueries` mixed in."""

    def snapshot(self) -> AbstractContextManager[None]: ...
    def suggest_subject(self, case_id: int, recent: int = 60) -> dict[str, Any] | None: ...
    def newest_message_id(self) -> int: ...
    def term_hits(self, tokens: Sequence[str], per_term: int) -> list[list[int]]: ...
    def answered_inbound(self, ids: Sequence[int], exclude_case: int) -> list[dict[str, Any]]: ...
    def replies_by_id(self, ids: Sequence[int]) -> list[dict[str, Any]]: ...
    def recent_replies(self, account: str, limit: int, exclude_case: int, window: int) -> list[dict[str, Any]]: ...
    def macros_applied(self, case_ids: Sequence[int]) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class ReplySuggestion:
    """A past reply of ours, as a template to insert (see `text`), and why it is suggested."""

    text: str  # a template: {author.handle}, {author.first_name}, {author.name}, {agent.signature}
    source_case: int
    source_message: int
    agent: str | None
    at: int  # when it was sent
    account: str
    score: float
    uses: int  # near-identical replies the team sent (this one included)
    matched: tuple[str, ...]  # words of this case's open run its question shared, rarest first
    same_account: bool

    @property
    def why(self) -> str:
        """One line: "case 123 · jeroen · 2025-11-20 · sent 4× · matched: pakket, kwijt"."""
        parts = [f"case {self.source_case}", self.agent or "us", shown_time(self.at, "%Y-%m-%d")]
        if self.uses > 1:
            parts.append(f"sent {self.uses}×")
        if not self.same_account:
            parts.append(f"from {self.account}")
        if self.matched:
            parts.append("matched: " + ", ".join(self.matched))
        return " · ".join(parts)

    def render(self, values: Mapping[str, str]) -> str:
        """The reply for a case and agent (`templates.case_values`).

        Raises:
            TemplateError: a value it needs is missing (a customer without a name or handle).
        """
        return render(self.text, values)


@dataclass(frozen=True)
class MacroSuggestion:
    """A macro the team applied to cases like this one, or whose own words fit it."""

    macro: Macro
    score: float
    cases: int  # similar cases it was applied to
    last_case: int | None  # the most recent of them
    last_agent: str | None
    last_at: int | None
    matched: tuple[str, ...]  # words of the open run in the macro's texts or labels

    @property
    def name(self) -> str:
        return self.macro.name

    @property
    def why(self) -> str:
        parts = []
        if self.cases and self.last_at is not None:
            parts.append(f"applied to {self.cases} similar case{'s' if self.cases != 1 else ''}"
                         f" (latest: case {self.last_case}, {self.last_agent or 'us'}, {shown_time(self.last_at, '%Y-%m-%d')})")
        if self.matched:
            parts.append("fits: " + ", ".join(self.matched))
        return " · ".join(parts)


@dataclass(frozen=True)
class Suggestions:
    """Both lists for one case, best first; the words that were searched; and the case's customer,
    platform and language, for filling the templates in (`values`)."""

    case_id: int
    words: tuple[str, ...] = ()
    replies: tuple[ReplySuggestion, ...] = ()
    macros: tuple[MacroSuggestion, ...] = ()
    platform: str = ""
    author_handle: str | None = None
    author_name: str | None = None
    language: str | None = None  # the customer's, as their latest message has it

    def values(self, agent: Agent) -> dict[str, str]:
        """The templates' values for this case's customer and `agent` (signed for the platform and
        the customer's language): what `ReplySuggestion.render` takes."""
        case = {"id": self.case_id, "platform": self.platform, "author_handle": self.author_handle,
                "author_name": self.author_name}
        return case_values(case, agent.name, agent.initials, agent.signature_for(self.platform, self.language))

    def to_json(self, agent: Agent | None = None) -> dict[str, Any]:
        """`{"case", "replies": [{"text", "source_case", "agent", "at", "score", …}], "macros": [{"name",
        "score", "why"}]}`; with `agent` a reply's text is filled in for this case's customer and that
        agent (its template stays in "template")."""
        values = self.values(agent) if agent is not None else None
        replies = []
        for reply in self.replies:
            text = reply.text
            if values is not None:
                with suppress(TemplateError):  # a customer without handle or name: the template as it is
                    text = reply.render(values)
            replies.append({"text": text, "template": reply.text, "source_case": reply.source_case,
                            "agent": reply.agent, "at": _iso(reply.at), "score": round(reply.score, 4),
                            "uses": reply.uses, "matched": list(reply.matched), "why": reply.why})
        return {"case": self.case_id, "replies": replies,
                "macros": [{"name": m.name, "score": round(m.score, 4), "why": m.why} for m in self.macros]}


_T = TypeVar("_T")


def _kept(size: int) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Keep a function's latest `size` results (dropping the oldest first). For the large ones, keys and
    values are strings, numbers, tuples of them and plain dicts of those: Python's garbage collector
    leaves such objects alone, while functools.lru_cache's nodes and frozensets it walks through
    whenever it looks at the oldest objects (50-100 ms pauses with full caches, measured here)."""
    def wrap(function: Callable[..., _T]) -> Callable[..., _T]:
        found: dict[tuple[Any, ...], _T] = {}

        def kept(*args: Any) -> _T:
            value = found.get(args)
            if value is None:
                if len(found) >= size:
                    with suppress(StopIteration, KeyError, RuntimeError):  # another thread dropped it first
                        del found[next(iter(found))]
                value = found[args] = function(*args)
            return value

        return kept
    return wrap


# -- words ------------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without diacritics, as the index's tokenizer (unicode61 remove_diacritics 2) sees it."""
    if text.isascii():
        return text.lower()
    return _MARKS.sub("", unicodedata.normalize("NFKD", text)).lower()


def words(text: str) -> list[str]:
    """The words of a text as the index holds them, links and @-mentions left out."""
    return _WORD.findall(fold(_MENTION.sub(" ", _URL.sub(" ", text))))


def _searchable(word: str) -> bool:
    """Whether a word says something about the question: not one letter, not an order or customer
    number (five digits or more), not a run of characters no other message will hold."""
    return len(word) > 1 and not (word.isdigit() and len(word) >= 5) and len(word) <= 40


def links(text: str) -> list[str]:
    """The links in a text, as written (trailing punctuation off)."""
    return [url.rstrip(_LINK_END) for url in _URL.findall(text)]


def link_key(url: str) -> str:
    """A link without scheme, `www.`, an archive's prefix, fragment or trailing slash: the page it names."""
    url = re.sub(r"^(?:https?://)?web\.archive\.org/web/\d+[a-z_]*/", "", url.strip(), flags=re.IGNORECASE)
    url = re.sub(r"^(?:https?://)?(?:www\.)?", "", url, flags=re.IGNORECASE).split("#")[0]
    return url.rstrip("/").lower()


# -- templates --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignOffs:
    """How the team's agents sign, to recognise a reply's sign-off: names from the config's team and
    the signed-in agent's own signatures; any agent's id stands for a first name too."""

    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # agent id → names it signs with
    signatures: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # agent id → every signature it has

    @classmethod
    def from_config(cls, config: Config | None) -> SignOffs:
        if config is None:
            return cls()
        names: dict[str, tuple[str, ...]] = {}
        for agent in (*config.team, {"id": config.agent.id, "name": config.agent.name}):
            if isinstance(agent, Mapping) and agent.get("id"):
                name = str(agent.get("name") or "").strip()
                names[str(agent["id"])] = tuple(n for n in (name, first_name(name)) if n)
        texts = [*config.agent.signature.values()]
        for value in config.agent.signatures.values():  # per language, or per platform and language
            texts += value.values() if isinstance(value, Mapping) else [value]
        return cls(names, {config.agent.id: tuple(text for text in texts if isinstance(text, str))})

    def words_of(self, agent: str | None) -> tuple[str, ...]:
        """The words of an agent's id and names (left out of a reply's shape)."""
        if not agent:
            return ()
        return _agent_words(agent, self.names.get(agent, ()))

    def of(self, agent: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The agent's known signatures and the names it may sign with, longest first."""
        if not agent:
            return (), ()
        exact = {text.strip() for text in self.signatures.get(agent, ()) if text.strip()}
        names = {*self.names.get(agent, ()), first_name(agent.replace("_", " ").replace(".", " ")).title()}
        return (tuple(sorted(exact, key=len, reverse=True)),
                tuple(sorted((n for n in names if len(n) > 1), key=len, reverse=True)))


@_kept(256)
def _agent_words(agent: str, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(words(" ".join((agent.replace("_", " "), *names))))))


def _signoff_start(text: str, exact: tuple[str, ...], names: tuple[str, ...]) -> int | None:
    """Where the sign-off at the end of `text` starts, if it has one: one of the agent's `exact`
    signatures, a short greeting with one of its `names` ("Groet, Jeroen", "LG Jeroen"), or a mark
    and initials or a name (" ^JS", " *SR", " -Shannon")."""
    body = text.rstrip()
    for signature in exact:
        if body.endswith(signature):
            return len(body) - len(signature)
    tail = max(0, len(body) - 60)  # a sign-off is short: look at the end only
    for name in names:
        match = re.compile(_NAMED_SIGNOFF.format(name=re.escape(name))).search(body, tail)
        if match:
            return match.start()
    match = _MARKED_SIGNOFF.search(body, max(0, len(body) - 30))
    return match.start() if match else None


def as_template(text: str, *, handle: str | None, name: str | None, agent: str | None,
                signoffs: SignOffs = SignOffs()) -> str:
    """A reply we sent to one customer as a template for any: their handle and name become
    `{author.handle}` / `{author.first_name}` (`{author.name}` for the whole name), the agent's
    sign-off `{agent.signature}`, and braces are escaped. Links and codes stay as they are."""
    text = _SENTINELS.sub("", text)
    start = _signoff_start(text, *signoffs.of(agent))
    if start is not None and start > 0:
        text = text[:start].rstrip() + " " + _SIGNATURE  # `render` places the signature (own line, or " ^TR")
    if handle and handle.strip().lstrip("@"):  # an @-mention of them (their name without @ is a name)
        bare = handle.strip().lstrip("@")
        text = re.sub(rf"(?<![\w@])@{re.escape(bare)}(?![\w@])",
                      _HANDLE if handle.strip().startswith("@") else "@" + _HANDLE, text, flags=re.IGNORECASE)
    full = " ".join((name or "").split())
    first = first_name(full)
    if full and " " in full:
        text = re.sub(rf"(?<!\w){re.escape(full)}(?!\w)", _FULL_NAME, text)
    if len(first) > 1 and any(char.isalpha() for char in first):
        text = re.sub(rf"(?<!\w){re.escape(first)}(?!\w)", _NAME, text)
    text = text.replace("{", "{{").replace("}", "}}")
    return (text.replace(_HANDLE, "{author.handle}").replace(_FULL_NAME, "{author.name}")
            .replace(_NAME, "{author.first_name}").replace(_SIGNATURE, "{agent.signature}"))


@_kept(8192)
def _features(text: str, people: tuple[str, ...], exact: tuple[str, ...],
              names: tuple[str, ...]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """A reply's shape, to group near-identical ones: its words without links, mentions, sign-off (see
    `_signoff_start`) and the names in `people` (customer, agent), numbers as 0 (`Ticket #123` and
    `#456` say the same); those words; and the pages it links to. Cheaper than `as_template` (which
    only the suggestions shown need), and kept for the next case: the account's usual replies recur."""
    start = _signoff_start(text, exact, names)
    body = text[:start] if start else text
    shape = _DIGITS.sub("0", " ".join(word for word in words(body) if word not in people))
    return shape, tuple(sorted(set(shape.split()))), tuple(sorted({link_key(url) for url in links(text)}))


@_kept(8192)
def _people(handle: str | None, name: str | None, agent_words: tuple[str, ...]) -> tuple[str, ...]:
    """The words of a customer's handle and name, and of the agent's names."""
    return tuple(sorted({*_WORD.findall(fold(" ".join(filter(None, (handle, name))))), *agent_words}))


@_kept(16384)
def _term_counts(text: str) -> tuple[int, dict[str, int]]:
    """How many words a text has and how often each (read only), kept for the next case: the same
    messages match many cases."""
    found = words(text)
    return len(found), dict(Counter(found))


# -- ranking ----------------------------------------------------------------------------------------


@dataclass
class _Query:
    weights: dict[str, float]  # folded word → its weight in the question
    shown: dict[str, str]  # folded word → as the customer wrote it
    now: int
    language: str | None  # the customer's


def _question(subject: dict[str, Any]) -> _Query | None:
    """The open run's words (weight 1) and the case's earlier customer words (less)."""
    messages = subject["messages"]  # newest first
    position = 0
    while position < len(messages) and messages[position]["direction"] == "out":
        position += 1  # the case waits on the customer: suggest for the run we answered last
    run: list[str] = []
    while position < len(messages) and messages[position]["direction"] == "in":
        run.append(messages[position]["text"])
        position += 1
    earlier = [m["text"] for m in messages[position:] if m["direction"] == "in"][:CONTEXT_MESSAGES]
    if not run:
        return None
    own = set(words(" ".join(filter(None, (subject.get("author_handle"), subject.get("author_name"))))))
    weights: dict[str, float] = {}
    shown: dict[str, str] = {}
    for texts, weight, most in ((reversed(run), 1.0, MAX_TERMS), (earlier, CONTEXT_WEIGHT, CONTEXT_TERMS)):
        added = 0
        for text in texts:
            for surface in _WORD.findall(_MENTION.sub(" ", _URL.sub(" ", text))):
                for part in _WORD.findall(fold(surface)):  # a ligature or a mark may split one word in two
                    if part in weights or not _searchable(part) or part in own:
                        continue
                    if added >= most or len(weights) >= MAX_TERMS:
                        break
                    weights[part] = weight
                    shown[part] = surface if fold(surface) == part else part
                    added += 1
    language = customer_language(reversed(messages))
    return _Query(weights, shown, messages[0]["created_at"], language) if weights else None


def _idf(hits: list[int], total: int) -> float:
    """BM25's idf of a word from its newest hits: all of them when fewer than asked for, else the
    number they make at that density over the whole store."""
    if len(hits) < PER_TERM:
        df = float(len(hits))
    else:
        df = min(float(total), PER_TERM * total / max(1, hits[0] - hits[-1] + 1))
    return math.log(1.0 + (total - df + 0.5) / (df + 0.5))


def _language_fit(language: str | None, wanted: str | None) -> float:
    """1 for a reply to a customer who wrote the language this customer writes (or either unknown),
    else OTHER_LANGUAGE."""
    return 1.0 if not language or not wanted or language == wanted else OTHER_LANGUAGE


def _recency(at: int, now: int) -> float:
    age = max(0, now - at)
    return RECENCY_FLOOR + (1.0 - RECENCY_FLOOR) * 0.5 ** (age / HALF_LIFE)


@dataclass
class _Match:
    """A message like the open run, and how alike (its BM25 score over the best one's)."""

    row: dict[str, Any]  # a customer message (`answered_inbound`) or one of our replies (`replies_by_id`)
    similarity: float
    matched: list[str]  # the open run's words it holds, rarest first


def _similar(store: SuggestStore, case_id: int, query: _Query) -> tuple[list[_Match], list[_Match], dict[str, float]]:
    """Customer messages of other cases that share the open run's words, and replies of ours that
    do, ranked together by BM25, each list best first; and each word's idf."""
    terms = list(query.weights)
    total = max(1, store.newest_message_id())
    hits = store.term_hits(terms, PER_TERM)
    idf = {term: _idf(ids, total) for term, ids in zip(terms, hits)}
    rough: dict[int, float] = {}  # first pass: the weights of the words a message holds
    add = rough.get
    for term, ids in zip(terms, hits):
        weight = query.weights[term] * idf[term]
        for message_id in ids:
            rough[message_id] = add(message_id, 0.0) + weight
    best = [message_id for message_id, _ in heapq.nlargest(CANDIDATES, rough.items(), key=itemgetter(1))]
    inbound = store.answered_inbound(best, case_id)
    ours = [row for row in store.replies_by_id(best) if row["case_id"] != case_id] if REPLY_TEXT else []
    rows = inbound + ours
    if not rows:
        return [], [], idf
    counted = [_term_counts(row["text"]) for row in rows]
    average = max(1.0, sum(length for length, _ in counted) / len(counted))
    scored = []
    weights = query.weights
    for length, counts in counted:
        norm = K1 * (1 - B + B * length / average)
        score, matched = 0.0, []
        for term in sorted(weights.keys() & counts.keys()):
            tf = counts[term]
            score += weights[term] * idf[term] * tf * (K1 + 1) / (tf + norm)
            matched.append(term)
        scored.append((score, matched))
    top = max(score for score, _ in scored) or 1.0
    found: tuple[list[_Match], list[_Match]] = ([], [])
    for index, (row, (score, matched)) in enumerate(zip(rows, scored)):
        if score > 0 and score / top >= MIN_SIMILARITY:
            matched.sort(key=lambda t: -idf[t] * query.weights[t])
            found[index >= len(inbound)].append(_Match(row, score / top, matched))
    for matches in found:
        matches.sort(key=lambda m: (-m.similarity, -m.row["id"]))
    return found[0], found[1], idf


@dataclass
class _Group:
    """Near-identical replies: one suggestion, whose votes add up: the best one and a share
    (OTHER_VOTES) of the others, so an answer sent often comes before one sent once."""

    shape: frozenset[str]  # its first reply's
    votes: int = 0
    best_vote: float = 0.0
    total: float = 0.0
    best: tuple[dict[str, Any], _Match | None] | None = None  # the reply shown (see `add`)

    def add(self, vote: float, row: dict[str, Any], match: _Match | None) -> None:
        """One reply's vote; the reply shown is the best-voted one that matched words, if any did."""
        self.votes += 1
        self.total += vote
        self.best_vote = max(self.best_vote, vote)
        if self.best is None or (match is not None and self.best[1] is None):
            self.best = (row, match)

    def score(self) -> float:
        return self.best_vote + OTHER_VOTES * (self.total - self.best_vote)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared) if a or b else 1.0


class _Grouping:
    """Finds the group of a reply among those so far without comparing it with each: two sets of
    words with a Jaccard overlap of at least t share a word among the first |s| - ceil(t|s|) + 1 of
    each, in any one order of all words (prefix filtering); longer words first (they are the rarer)
    keeps the lists of groups behind each word short."""

    def __init__(self) -> None:
        self.by_shape: dict[str, _Group] = {}
        self.by_prefix: dict[str, list[_Group]] = defaultdict(list)
        self.by_links: dict[frozenset[str], list[_Group]] = defaultdict(list)
        self.groups: list[_Group] = []

    @staticmethod
    def _prefix(shape: frozenset[str]) -> list[str]:
        ordered = sorted(shape, key=lambda word: (-len(word), word))
        return ordered[:len(ordered) - math.ceil(SIMILAR_TEXT * len(ordered) - 1e-9) + 1]

    def group(self, shape: str, shape_words: frozenset[str], link_set: frozenset[str]) -> _Group:
        found = self.by_shape.get(shape)
        if found is None and link_set:
            found = next((g for g in self.by_links[link_set] if _jaccard(g.shape, shape_words) >= SAME_LINKS_TEXT), None)
        if found is None:
            seen: set[int] = set()
            for word in self._prefix(shape_words):
                for candidate in self.by_prefix.get(word, ()):
                    if id(candidate) not in seen:
                        seen.add(id(candidate))
                        if _jaccard(candidate.shape, shape_words) >= SIMILAR_TEXT:
                            found = candidate
                            break
                if found is not None:
                    break
        if found is None:
            found = _Group(shape_words)
            self.groups.append(found)
            for word in self._prefix(shape_words):
                self.by_prefix[word].append(found)
            if link_set:
                self.by_links[link_set].append(found)
        self.by_shape[shape] = found
        return found


def _voters(store: SuggestStore, subject: dict[str, Any], query: _Query, questions: list[_Match],
            answers: list[_Match]) -> dict[int, tuple[float, dict[str, Any], _Match | None]]:
    """Each reply of ours that votes, by id: its vote, row and the match that earned it. A reply votes
    for the question it answered (that question's similarity), for its own words (less), and, in the
    case's account, for being sent at all (a little: the team's usual answers)."""
    voters: dict[int, tuple[float, dict[str, Any], _Match | None]] = {}

    def vote(row: dict[str, Any], weight: float, match: _Match | None) -> None:
        weight *= _recency(row["created_at"], query.now)
        before = voters.get(row["id"])
        if before is None or weight > before[0]:  # its best vote counts; the words it matched stay
            voters[row["id"]] = (weight, row, match or (before[2] if before else None))

    asked: dict[int, _Match] = {}
    for match in questions:  # best first: a reply answers its question's best-matching message
        reply_id = match.row["reply_id"]
        if reply_id is not None and reply_id not in asked:
            asked[reply_id] = match
            if len(asked) >= REPLIES:
                break
    for row in store.replies_by_id(list(asked)):
        question = asked[row["id"]]
        vote(row, question.similarity ** SHARPEN * _language_fit(question.row["language"], query.language), question)
    for match in answers[:REPLIES]:
        vote(match.row, REPLY_TEXT * match.similarity ** SHARPEN, match)
    if USUAL:
        for row in store.recent_replies(subject["account"], USUAL_REPLIES, subject["id"], USUAL_WINDOW):
            if _language_fit(row["language"], query.language) == 1.0:  # a usual answer in another language is none
                vote(row, USUAL, None)
    return voters


def _replies(store: SuggestStore, subject: dict[str, Any], query: _Query, questions: list[_Match],
             answers: list[_Match], signoffs: SignOffs, limit: int) -> list[ReplySuggestion]:
    voters = _voters(store, subject, query, questions, answers)
    rows = sorted(voters.values(), key=lambda voter: (-voter[0], -voter[1]["id"]))
    shapes = []
    for _, row, _ in rows:
        shape, shape_words, link_keys = _features(
            row["text"], _people(row["author_handle"], row["author_name"], signoffs.words_of(row["agent"])),
            *signoffs.of(row["agent"]))
        shapes.append((shape, frozenset(shape_words), frozenset(link_keys)))  # sets for this case only (see _kept)
    groupings = {True: _Grouping(), False: _Grouping()}
    for (weight, row, match), (shape, word_set, link_set) in zip(rows, shapes):
        group = groupings[row["account"] == subject["account"]].group(shape, word_set, link_set)
        group.add(weight, row, match)  # rows come best-voted first
    ranked: list[ReplySuggestion] = []
    for same in (True, False):  # the case's own account first, then the others
        # answers to messages like this one first, then the account's usual answers (a reply sent
        # often, however general, never outranks one that matched)
        found = sorted(groupings[same].groups, key=lambda g: (g.best is None or g.best[1] is None, -g.score()))
        for group in found[:limit - len(ranked)]:
            assert group.best is not None
            row, match = group.best
            template = as_template(row["text"], handle=row["author_handle"], name=row["author_name"],
                                   agent=row["agent"], signoffs=signoffs)
            ranked.append(ReplySuggestion(
                text=template, source_case=row["case_id"], source_message=row["id"], agent=row["agent"],
                at=row["created_at"], account=row["account"], score=group.score(), uses=group.votes,
                matched=_shown_words(query, match.matched if match else []), same_account=same))
    return ranked


def _shown_words(query: _Query, matched: list[str]) -> tuple[str, ...]:
    """The words a match is explained by: its five rarest, function words left out where others matched."""
    telling = [word for word in matched if len(word) > 2 and word not in _FUNCTION_WORDS] or matched
    return tuple(query.shown.get(word, word) for word in telling[:5])


# Words that say nothing about what a macro is for, or why a message matched (en, nl, de).
_FUNCTION_WORDS = frozenset("""
the and for are was were you your yours our ours has have had not but can could will would with this that
these those there here what when where which who why how from into about just also than then them they its
het een de en van voor met niet maar ook dan dat die dit deze daar hier wat wie waar hoe bij naar over nog
wel zijn was waren heb hebt heeft kan kun kunt wil wilt jij jou jouw mijn ons onze zij hun haar hem zou
der die das und oder nicht aber auch dann dass ist sind war bin bist hat habe haben kann kannst ich du sie
wir ihr mein dein unser euer ein eine einen dem den des mit von vor bei nach noch schon wie was wer wo
""".split())


@_kept(512)
def _macro_words(macro: Macro) -> frozenset[str]:
    """The words a macro fits a case by: those of its name, description, texts and labels, less
    function words and words of one or two letters."""
    texts = (macro.name, macro.description, macro.reply or "", macro.memo or "", macro.reply_block or "",
             *macro.labels_add)
    return frozenset(word for word in words(" ".join(texts)) if len(word) > 2 and word not in _FUNCTION_WORDS)


def _macros(store: SuggestStore, query: _Query, matches: list[_Match], idf: Mapping[str, float],
            macros: Sequence[Macro], limit: int) -> list[MacroSuggestion]:
    if not macros:
        return []
    similar: dict[int, float] = {}
    for match in matches:
        case_id = match.row["case_id"]
        similar[case_id] = max(similar.get(case_id, 0.0), match.similarity)
    by_name = {macro.name.lower(): macro for macro in macros}
    applied: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)  # macro → case → its latest use
    for row in store.macros_applied(list(similar)):
        if row["name"].lower() in by_name:
            applied[row["name"].lower()][row["case_id"]] = row
    whole = sum(query.weights[t] * idf.get(t, 0.0) for t in query.weights) or 1.0
    found = []
    for key, macro in by_name.items():
        uses = applied.get(key, {})
        weight = sum(similar[case] ** SHARPEN * _recency(row["at"], query.now) for case, row in uses.items())
        own_words = _macro_words(macro)
        fitting = [t for t in query.weights if t in own_words]
        fit = sum(query.weights[t] * idf.get(t, 0.0) for t in fitting) / whole
        if not uses and not fitting:
            continue
        latest = max(uses.values(), key=lambda row: (row["at"], row["case_id"])) if uses else None
        fitting.sort(key=lambda t: -idf.get(t, 0.0))
        found.append(MacroSuggestion(
            macro=macro, score=weight + fit / 1000, cases=len(uses),  # fit (at most 1) only breaks ties
            last_case=latest["case_id"] if latest else None, last_agent=latest["actor"] if latest else None,
            last_at=latest["at"] if latest else None, matched=_shown_words(query, fitting)))
    found.sort(key=lambda s: (-s.score, s.name.lower()))
    return found[:limit]


def suggest(store: SuggestStore, case_id: int, *, macros: Sequence[Macro] = (), limit: int = LIMIT,
            config: Config | None = None) -> Suggestions:
    """Replies and macros for one case, best first (at most `limit` of each).

    Args:
        macros: the macros that can be applied (`MacroSet.macros`); only these are suggested.
        config: for the team's names and the agent's signatures, to find sign-offs in replies.

    Raises:
        StoreError: there is no such case.
    """
    with store.snapshot():
        subject = store.suggest_subject(case_id)
        if subject is None:
            raise StoreError(f"there is no case {case_id}")
        case = {"case_id": subject["id"], "platform": subject["platform"], "author_handle": subject["author_handle"],
                "author_name": subject["author_name"],
                "language": customer_language(reversed(subject["messages"]))}
        query = _question(subject)
        if query is None:
            return Suggestions(**case)
        questions, answers, idf = _similar(store, subject["id"], query)
        signoffs = SignOffs.from_config(config)
        replies = _replies(store, subject, query, questions, answers, signoffs, limit)
        ranked_macros = _macros(store, query, questions, idf, macros, limit)
    return Suggestions(words=tuple(query.shown[t] for t in query.weights), replies=tuple(replies),
                       macros=tuple(ranked_macros), **case)


# -- headless ---------------------------------------------------------------------------------------


def suggest_many(store: SuggestStore, case_ids: Iterable[int], *, macros: Sequence[Macro] = (),
                 limit: int = LIMIT, config: Config | None = None) -> list[dict[str, Any]]:
    """`webcare suggest CASE_ID…`: per case `{"case", "replies": [{"text", "source_case", "agent", "at",
    "score"…}], "macros": [{"name", "score", "why"}]}`, best first; with `config` a reply's text is
    filled in for the case's customer and the signed-in agent.

    Raises:
        StoreError: one of the cases does not exist.
    """
    return [suggest(store, case_id, macros=macros, limit=limit, config=config)
            .to_json(config.agent if config is not None else None) for case_id in case_ids]


def format_suggestions(results: Sequence[Mapping[str, Any]]) -> str:
    """`suggest_many`'s results for people: per case its replies and macros, each with why. Texts
    from customers and the history pass through `safe_text.clean`."""
    lines: list[str] = []
    for result in results:
        lines.append(f"Case {result['case']}")
        if not result["replies"] and not result["macros"]:
            lines.append("  nothing like it in the history")
        for number, reply in enumerate(result["replies"], 1):
            lines.append(f"  {number}. {clean(reply['text'], single_line=True)}")
            lines.append(f"     {clean(reply['why'], single_line=True)} · score {reply['score']:.2f}")
        for macro in result["macros"]:
            lines.append(f"  macro {clean(macro['name'], single_line=True)}: {clean(macro['why'], single_line=True)}"
                         f" · score {macro['score']:.2f}")
    return "\n".join(lines)


def _iso(epoch: int) -> str | None:
    try:
        return datetime.fromtimestamp(epoch).astimezone().isoformat()
    except (OverflowError, ValueError, OSError):
        return None
