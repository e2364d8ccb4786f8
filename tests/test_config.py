"""The config file: every mistake is one plain `file:line: key: message`, never a traceback.

The property test writes TOML documents with the known sections and keys holding values of
every type, and shows that each gives either a Config whose values every reader can use, or
a ConfigError naming the file and the line or key.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webcare_tui.alerts import AlertSettings
from webcare_tui.approvals import approval_rule, is_lead, leads
from webcare_tui.cli import main
from webcare_tui.config import MAX_DURATION, MAX_UNDO_GRACE, SECTIONS, ConfigError, load_config
from webcare_tui.kpi import settings_from_config
from webcare_tui.macros import load_macros
from webcare_tui.runtime import accounts, alert_settings, macro_folders, rule_book, team_agents

README = Path(__file__).parent.parent / "README.md"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# (file, the start of the message after "file:") — each gave a traceback or was accepted silently before
MISTAKES = [
    ('account = "x"', "1: account: give each account as its own [[account]] table"),
    ('[account]\nname = "x"\nplatform = "x"', "1: account: give each account as its own [[account]] table"),
    ('cases = "7d"', "1: cases: [cases] must be a table"),
    ('[cases]\nreopen = "7d"', "2: cases.reopen: unknown key"),
    ('[cases]\nreopen_window = "99999999999999999999d"', "2: cases.reopen_window: '99999999999999999999d' is not"),
    ('team = ["a"]', "1: team: [team] must be a table"),
    ('[team]\nagents = ["a"]', "2: team.agents: agents is a list of tables"),
    ('[team]\nagents = [\n  { id = "a" },\n  { name = "B" },\n]', "2: team.agents: agent 2 needs an id as text"),
    ('[team]\nagents = [\n  { id = "a" },\n  { id = "b", role = "boss" },\n]',
     "4: team.agents: agent 'b': role is \"lead\" or left out"),
    ('[team]\nagents = [{ id = "a", needs_approval = "yes" }]', "2: team.agents: agent 'a': needs_approval is true"),
    ('[team]\nagents = [{ id = "a", hours = 8 }]', "2: team.agents: agent 'a': hours is text"),
    ('[team]\nagents = [{ id = "a" }, { id = "a" }]', "2: team.agents: agent 'a': 'a' is in the team twice"),
    ("[agent]\nname = 5", "2: agent.name: name is text"),
    ("[agent]\nid = 5", "2: agent.id: id is text"),
    ('[agent]\nname = "Tim"\ninitials = 5', "3: agent.initials: initials are text"),
    ('keymap = "r"', "1: keymap: [keymap] must be a table"),
    ('[keymap]\n"case.reply" = 5', "2: keymap.case.reply: give the keys as text"),
    ('blocks = "x"', "1: blocks: [blocks] must be a table"),
    ("[blocks]\nstoring = 5", "2: blocks.storing: a text block is text"),
    ('[blocks]\nstoring = "Hoi {author.voornaam}"', "2: blocks.storing: unknown variable {author.voornaam}"),
    ("[macros]\ndir = 5", "2: macros.dir: dir is a folder"),
    ('[macros]\ndir = "/tmp/\\u001b]0;x\\u0007"', "2: macros.dir: '/tmp/\\x1b]0;x\\x07' has control or invisible"),
    ('[macros]\nundo_grace = "ten"', "2: macros.undo_grace: undo_grace is a number of seconds from 0 to 3600"),
    ("[macros]\nundo_grace = -10", "2: macros.undo_grace: undo_grace is a number of seconds from 0 to 3600"),
    ("[macros]\nundo_grace = 10.5", "2: macros.undo_grace: undo_grace is a number of seconds"),
    ('[macros]\ndirectory = "x"', "2: macros.directory: unknown key"),
    ('[[account]]\nname = "klm"\nplatform = "x"\n\n[[account]]\nname = "klm"\nplatform = "mastodon"',
     "6: account.name: there is already an account 'klm' (line 1)"),
    ('[[account]]\nname = 5\nplatform = "x"', "2: account.name: every [[account]] needs a name and a platform"),
    ('[[view]]\nquery = "label:storing"\nkey = "6"', "1: view: every [[view]] needs a name as text"),
    ('[[view]]\nname = "Storingen"', "1: view: every [[view]] needs a query as text"),
    ('[[view]]\nname = "Storingen"\nquery = "x"\nkey = 6', "4: view.key: key is text"),
    ('view = "x"', "1: view: give each view as its own [[view]] table"),
    ("rule = 5", "1: rule: give each rule as its own [[rule]] table"),
    ('rule = ["x"]', "1: rule: give each rule as its own [[rule]] table"),
    ("rules = 5", "1: rules: [rules] must be a table"),
    ("alerts = 5", "1: alerts: [alerts] must be a table"),
    ("[alerts]\nspike_days = 100000", "2: alerts.spike_days: spike_days is from 1 to 365"),
    ("[alerts]\nspike_min = inf", "2: alerts.spike_min: inf is not a number this setting can use"),
    ("kpi = 5", "1: kpi: [kpi] must be a table"),
    ("[kpi]\ndeadline = nan", "2: kpi.deadline: nan is not a number"),
    ("demo = 5", "1: demo: [demo] must be a table"),
    ('demo = { seed = "x" }', "1: demo.seed: seed is a whole number"),
    ("[demo]\nseed = 99999999999999999999", "2: demo.seed: 99999999999999999999 is too large a number"),
    ("[[account]]\nname = \"a\"\nplatform = \"x\"\nuser_id = 99999999999999999999", "4: account.user_id: "),
    ('["\\u001b]0;title\\u0007"]\nx = 1', " '\\x1b]0;title\\x07': a key with control or invisible characters"),
    ('[agent]\n"na\\u202eme" = "x"', "1: 'agent.na\\u202eme': a key with control or invisible characters"),
]


@pytest.mark.parametrize(("text", "message"), MISTAKES, ids=[text.split("\n")[-1][:30] for text, _ in MISTAKES])
def test_each_mistake_is_one_plain_line_naming_file_line_and_key(tmp_path, capsys, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}:{message}")
    assert str(raised.value).isprintable()
    # the command line says it in that one line and exits 2
    assert main(["--config", str(path), "--db", str(tmp_path / "db"), "cases"]) == 2
    assert capsys.readouterr().err == f"webcare: {raised.value}\n"


def test_a_byte_order_mark_is_no_mistake(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'\xef\xbb\xbf[agent]\nid = "tim"\n')
    assert load_config(path).agent.id == "tim"


def test_nesting_thousands_deep_is_a_plain_error(tmp_path):
    path = write(tmp_path, "[demo]\nseed = " + "[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match="nested too deep"):
        load_config(path)
    path = write(tmp_path, "[demo]\nseed = " + "[" * 40 + "]" * 40)
    with pytest.raises(ConfigError, match=r":2: demo.seed: nested deeper than 16 levels"):
        load_config(path)


def readme_config() -> str:
    """Every ```toml block of the README's configuration, routing and alerts sections, as one file."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    config = [block for block in blocks if "[[macro]]" not in block]
    merged = "\n".join(config)
    # the routing section repeats [team]; keep its agents (with hours) and drop the first one
    return merged.replace('[team]\nagents = [{ id = "jeroen", name = "Jeroen" }, { id = "sanne", name = "Sanne" }]\n', "")


def test_the_readme_config_loads_and_every_reader_takes_it(tmp_path):
    (tmp_path / "team-macros").mkdir()
    text = readme_config().replace("~/team/webcare-macros", str(tmp_path / "team-macros"))
    config = load_config(write(tmp_path, text))
    assert config.undo_grace == 10
    assert config.agent.initials == "TR"
    assert [view["name"] for view in config.raw["view"]] == ["Storingen"]
    assert alert_settings(config).spike_keywords == ("storing", "Störung", "outage")
    assert rule_book(config).errors == []
    assert settings_from_config(config.raw).heatmap_weeks == 4


def test_undo_grace_is_seconds_from_0_to_an_hour(tmp_path):
    for seconds in (0, 10, MAX_UNDO_GRACE):
        config = load_config(write(tmp_path, f"[macros]\nundo_grace = {seconds}\n"))
        assert config.undo_grace == seconds == int(config.raw["macros"]["undo_grace"])
    assert load_config(write(tmp_path, "[agent]\nid = \"tim\"\n")).undo_grace == 10
    with pytest.raises(ConfigError, match=r"config.toml:2: macros.undo_grace: .* not 3601"):
        load_config(write(tmp_path, f"[macros]\nundo_grace = {MAX_UNDO_GRACE + 1}\n"))


def test_a_macros_dir_that_is_not_there_is_said_and_the_rest_loads(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # the agent's own macros folder
    own = tmp_path / "xdg" / "webcare-tui" / "macros"
    own.mkdir(parents=True)
    (own / "mine.toml").write_text('[[macro]]\nname = "Mijn"\nlabels_add = ["Vraag"]\n')
    missing = tmp_path / "nowhere"
    path = write(tmp_path, f"[macros]\ndir = {json.dumps(str(missing))}\n")
    macros = load_macros(macro_folders(load_config(path)))
    assert [macro.name for macro in macros.macros] == ["Mijn"]
    assert macros.errors == [f"{missing}: there is no such folder; no macros were read from it"]
    said = f"webcare: {path}:2: macros.dir: {missing}: there is no such folder; no macros were read from it\n"
    assert main(["--config", str(path), "--db", str(tmp_path / "db"), "macros", "check"]) == 1
    out, err = capsys.readouterr()
    assert err == said and out == f"1 macros valid, 0 errors in {own}\n"  # the own folder, not the missing one
    assert main(["--config", str(path), "--db", str(tmp_path / "db"), "macros", "list"]) == 1
    out, err = capsys.readouterr()
    assert err == said and "Mijn" in out
    own.joinpath("mine.toml").unlink()
    own.rmdir()
    assert main(["--config", str(path), "--db", str(tmp_path / "db"), "macros", "check"]) == 1
    assert capsys.readouterr() == ("", said)  # no "0 macros valid" for a folder that is not there
    (tmp_path / "a-file").write_text("")
    path = write(tmp_path, f"[macros]\ndir = {json.dumps(str(tmp_path / 'a-file'))}\n")
    assert load_macros(macro_folders(load_config(path))).errors == [
        f"{tmp_path / 'a-file'}: not a folder; no macros were read from it"]


def test_a_home_that_cannot_be_found_is_a_missing_folder(tmp_path):
    path = write(tmp_path, '[macros]\ndir = "~nobody-has-this-name/macros"\n')
    errors = load_macros(macro_folders(load_config(path))).errors
    assert errors == ["~nobody-has-this-name/macros: there is no such folder; no macros were read from it"]


SIGNED = """\
[agent]
id = "tim"
name = "Tim Ruiter"
signature = { x = " ^TR", default = "Groetjes, Tim" }

[agent.signatures]
nl = "Groetjes, Tim"
en = "Kind regards, Tim"
DE = "Viele Grüße, Tim"
x = { en = " ^TR" }

[agent.signatures.facebook]
en = "Cheers, Tim"
"""


@pytest.mark.parametrize("platform, language, signature", [
    ("x", "en", " ^TR"),  # platform and language
    ("facebook", "en", "\n\nCheers, Tim"),
    ("x", "de", "\n\nViele Grüße, Tim"),  # language (codes in any case)
    ("whatsapp", "de-AT", "\n\nViele Grüße, Tim"),
    ("x", None, " ^TR"),  # platform
    ("x", "fr", " ^TR"),
    ("facebook", "fr", "\n\nGroetjes, Tim"),  # default: on its own line, though written without a blank line
])
def test_signatures_per_language_as_well_as_per_platform(tmp_path, platform, language, signature):
    agent = load_config(write(tmp_path, SIGNED)).agent
    assert agent.signature_for(platform, language) == signature
    assert agent.signature == {"x": " ^TR", "default": "\n\nGroetjes, Tim"}  # as the outbox appends them


def test_without_a_config_file_tim_signs_in_the_customers_language(tmp_path):
    agent = load_config(tmp_path / "none.toml").agent
    assert agent.signature_for("facebook", "en") == "\n\nKind regards, Tim"
    assert agent.signature_for("whatsapp", "de") == "\n\nViele Grüße, Tim"
    assert agent.signature_for("messenger", "nl") == "\n\nGroetjes, Tim"
    assert agent.signature_for("instagram", "fr") == "\n\nGroetjes, Tim"
    assert {agent.signature_for("x", language) for language in ("nl", "en", "de", "fr", None)} == {" ^TR"}
    assert load_config(write(tmp_path, '[agent]\nid = "sanne"\n')).agent.signatures == {}  # not Tim's


@pytest.mark.parametrize("lines, said", [
    ('[agent.signatures]\nenglish = "Kind regards"', "6: agent.signatures.english: 'english' is not a language code"
                                                    " such as nl, en or de; a signature for a platform goes in"
                                                    " [agent] signature"),
    ('[agent.signatures]\nen = 3', "6: agent.signatures.en: a signature is text (per language) or a table of texts"),
    ('[agent.signatures]\nen = ["Kind", "regards"]', "6: agent.signatures.en: a signature is text"),
    ('[agent.signatures]\nx = { english = " ^TR" }', "6: agent.signatures.x.english: 'english' is not a language"),
    ('[agent.signatures.x]\nen = true', "6: agent.signatures.x.en: a signature is text, e.g. en = \" ^TR\""),
    ('[agent.signatures]\nen = "Tim\\u001b[31m"', "6: agent.signatures.en: 'Tim\\x1b[31m' has control characters"),
    ('signatures = "Kind regards"', "4: agent.signatures: signatures is a table"),
    ('signature = { x = "\\u0007^TR" }', "4: agent.signature: '\\x07^TR' has control characters"),
])
def test_a_broken_signature_is_a_plain_error(tmp_path, lines, said):
    path = write(tmp_path, f'[agent]\nid = "tim"\nname = "Tim"\n{lines}\n'.replace("\n[agent.", "\n\n[agent.", 1))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).startswith(f"{path}:{said}"), str(error.value)


# -- any document: a Config every reader can use, or one plain error ----------------------------------------

# every section and key the program reads, each with values that are right (to get past it) ...
VALID = {
    "agent": {"id": "tim", "name": "Tim Ruiter", "initials": "TR", "signature": {"x": " ^TR", "default": "Tim"},
              "signatures": {"en": "Kind regards, Tim", "x": {"de": " ^TR"}}},
    "team": {"agents": [{"id": "jeroen", "name": "Jeroen", "team": "hypotheken", "hours": "mon-fri 08:30-17:00"},
                        {"id": "sanne", "role": "lead"}, {"id": "noah", "needs_approval": True}]},
    "cases": {"reopen_window": "7d", "auto_close_after": 3600},
    "kpi": {"timezone": "Europe/Amsterdam", "deadline": "30m", "deadlines": {"x": "1h"},
            "targets": {"service_level": 0.9, "avg_response": "20m", "open_max": 25},
            "agent_targets": {"tim": {"avg_response": "15m"}}, "working_hours": "mon-fri 08:30-17:00",
            "hide_agent_comparison": False, "heatmap_weeks": 4},
    "account": {"name": "klm-x", "platform": "x", "base_url": "https://social.example"},
    "view": {"name": "Storingen", "query": "label:storing !assigned", "key": "6"},
    "keymap": {"case.reply": "r", "macro.picker": "ctrl+m,f5"},
    "macros": {"dir": "/nonexistent/webcare-macros", "undo_grace": 10},
    "rules": {"brand_names": ["Bol"], "brand_handles": ["@bol"], "sets": {"triage": "first"}},
    "rule": {"name": "Hypotheken", "set": "triage", "words": ["hypotheek"], "assign": "jeroen",
             "assign_team": "hypotheken", "labels": ["Hypotheken"], "priority": 3, "view": "Pers",
             "followers_min": 100, "platform": "x"},
    "alerts": {"deadline_within": "10m", "audience_followers": 10_000, "negative_below": -0.05, "spike_factor": 3,
               "spike_min": 5, "spike_keywords": ["storing"], "spike_days": 28, "bell": True},
    "demo": {"seed": 7},
    "blocks": {"storing": "Hoi {author.first_name}, er is een storing."},
}
ARRAYS = {"account", "view", "rule"}
# ... and values of every other type and range
PLAUSIBLE = ["tim", "7d", "30m", "0s", "lead", "r", "x", "Mars/Olympus", "mon-fri 25:00-26:00", "{nope}", "first",
             "", "   ", "hypotheken"]
text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)
scalar = st.one_of(
    st.sampled_from(PLAUSIBLE), text, st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64), st.integers(min_value=-3, max_value=100),
    st.floats(allow_nan=True, allow_infinity=True),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(["id", "name", "hours", "role", "x", "tim", "service_level"]), text),
                        inner, max_size=3),
    ),
    max_leaves=6,
)


def toml(item) -> str:
    """An inline TOML value (tomllib reads it back as `item`)."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float):
        return "nan" if math.isnan(item) else ("inf" if item > 0 else "-inf") if math.isinf(item) else repr(item)
    if isinstance(item, int):
        return str(item)
    if isinstance(item, str):
        return json.dumps(item, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(item, list):
        return "[" + ", ".join(toml(x) for x in item) + "]"
    return "{" + ", ".join(f"{toml(k)} = {toml(v)}" for k, v in item.items()) + "}"


@st.composite
def documents(draw) -> str:
    """A config file: some sections, each a table (or an array of them) of known keys, mostly right."""
    top, tables = [], []
    sections = draw(st.lists(st.sampled_from(sorted(VALID)), max_size=7, unique=True))
    if draw(st.integers(0, 19)) == 7:  # (hypothesis draws 0 more often than 1 in 20)
        sections.append("colour")  # a section nobody knows
    for section in sections:
        if draw(st.integers(0, 9)) == 7:  # the whole section as some other value
            top.append(f"{section} = {toml(draw(value))}")
            continue
        known = VALID.get(section, {"x": 1})
        for number in range(draw(st.integers(1, 2)) if section in ARRAYS else 1):
            keys = [key for key in sorted(known) if draw(st.integers(0, 3)) != 3]
            if draw(st.integers(0, 9)) == 7:  # a key nobody knows
                keys.append(draw(text))
            lines = [f"[[{section}]]" if section in ARRAYS else f"[{section}]"]
            for key in keys:
                right = known.get(key)
                item = right if right is not None and draw(st.integers(0, 3)) != 3 else draw(value)
                if key == "name" and number and draw(st.booleans()):
                    item = f"{item} {number}"  # two [[account]] of the same name are a mistake; not always
                lines.append(f"{toml(key)} = {toml(item)}")
            tables.append("\n".join(lines))
    return "\n".join(top) + "\n\n" + "\n\n".join(tables) + "\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_any_document_gives_a_usable_config_or_one_plain_error(document):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_text(document, encoding="utf-8")
        try:
            config = load_config(path)
        except ConfigError as error:
            message = str(error)
            assert message.startswith(f"{path}"), message
            said = message.removeprefix(str(path))
            assert re.match(r":\d+: ", said) or any(re.search(rf"\b{name}\b", said) for name in SECTIONS), message
            assert message.isprintable() and "Traceback" not in message
            return
    # every reader of the config takes what load_config let through
    assert 0 <= config.undo_grace <= MAX_UNDO_GRACE
    assert 0 <= int(config.raw.get("macros", {}).get("undo_grace", 10)) <= MAX_UNDO_GRACE  # as app.py reads it
    assert 0 <= config.threading.reopen_window <= MAX_DURATION and 0 <= config.threading.auto_close_after <= MAX_DURATION
    assert isinstance(config.demo_seed, int) and -(2**63) <= config.demo_seed < 2**63
    assert all(isinstance(keys, str) and keys.strip() for keys in config.keymap.values())
    assert all(isinstance(block, str) for block in config.raw.get("blocks", {}).values())
    for view in config.raw.get("view", []):
        assert isinstance(view["name"], str) and isinstance(view["query"], str) and isinstance(view.get("key", ""), str)
    names = [account.name for account in accounts(config)]
    assert len(names) == len(set(names)) and all(isinstance(a.platform, str) for a in accounts(config))
    team = [str(agent.get("id")) for agent in config.team if agent.get("id")]  # as app.py reads it
    assert len(team) == len(config.team)
    approval_rule(config.team)(config.agent.id), is_lead(config.team, config.agent.id), leads(config.team)
    assert isinstance(config.agent.name, str) and isinstance(config.agent.initials, str)
    for platform, language in (("x", "de"), ("facebook", "en"), ("whatsapp", None)):
        assert isinstance(config.agent.signature_for(platform, language), str)
    team_agents(config)
    load_macros(macro_folders(config), agents=team_agents(config) or None, blocks=config.raw.get("blocks", {}))
    rule_book(config)  # collects its problems, never raises
    settings = alert_settings(config)
    assert isinstance(settings, AlertSettings) and 1 <= settings.spike_days <= 365
    settings_from_config(config.raw, str(path))
