"""Provides the `webcare` command: the TUI by default, headless subcommands for scripts.

    webcare                       start the console
    webcare import FILE... | -    ingest JSON Lines messages
    webcare cases [--status S] [--author A] [--owner O] [--json]
    webcare case ID [--json]
    webcare suggest CASE_ID... [--limit N] [--json]
    webcare demo [--seed N] [--days D]
    webcare sync --once
    webcare accounts add PLATFORM NAME [--set KEY=VALUE]... | list | remove NAME
    webcare rules check | test MESSAGE-JSON
    webcare report [--date D | --from D1 [--to D2]] [--by agent|platform|label] [--json|--csv]
    webcare wall [--host H] [--port P] | --set-password | --set-meta-webhook
    webcare watch [--set-secret NAME]

What the store holds came from customers and platforms: every text printed for people goes through
`safe_text.clean` (handles with `handle=True`), and `--json` through `safe_text.safe_json`. An expected
failure (a damaged or full store, a missing file, a bad argument) is one plain line on stderr and
exit code 2; its traceback goes to the log file. Only a bug shows a traceback (exit code 70).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import math
import os
import sys
import traceback
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, TextIO

from webcare_tui import __version__, accounts, report, wall, watch
from webcare_tui.bulk import import_jsonl
from webcare_tui.cases import CaseError
from webcare_tui.config import Config, ConfigError, db_path, load_config
from webcare_tui.connectors.demo import HISTORY_DAYS
from webcare_tui.credentials import CredentialsError
from webcare_tui.message_format import MAX_INTEGER, shown_time
from webcare_tui.runtime import build_connectors, open_store
from webcare_tui.safe_text import clean, safe_json, shown_author
from webcare_tui.sentiment import sentiment_label
from webcare_tui.store import CaseFilter, SchemaTooNew, Store, StoreError, StoreFailure, store_trouble
from webcare_tui.sync import SyncRunner


def _local(epoch: int | None) -> str | None:
    """ISO 8601 in the local zone; None for no time, or one that no calendar here can show (a store
    written before times were checked may hold year 1 or 9999)."""
    try:
        return None if epoch is None else datetime.fromtimestamp(epoch).astimezone().isoformat()
    except (OverflowError, ValueError, OSError):
        return None


def _short(epoch: int | None) -> str:
    return "-" if epoch is None else shown_time(epoch)  # "@<epoch>" out of range, rather than a crash




def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, or a plain error that says so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{clean(text, single_line=True)!r} is not a whole number "
                                             f"from {low} to {high}")
        return value

    parse.__name__ = "whole number"
    return parse


def number(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number from `low` to `high` (not inf or nan), or a plain error."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"{clean(text, single_line=True)!r} is not a number "
                                             f"from {low:g} to {high:g}")
        return value

    parse.__name__ = "number"
    return parse


case_id = whole_number(1, MAX_INTEGER)


def _print_json(data: Any, out: TextIO) -> None:
    out.write(safe_json(data) + "\n")


def _line(text: Any) -> str:
    return clean(str(text), single_line=True)


def cmd_import(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    def report(source: str, line: int, reason: str) -> None:  # the file's words: data, never terminal codes
        print(clean(f"{source}:{line}: rejected: {reason}", single_line=True), file=sys.stderr)

    sources: list[Path | str] = [source if source == "-" else Path(source) for source in args.files]
    for source in sources:  # a file, or what reads as one: /dev/stdin, /dev/null, a pipe as from <(…)
        problem = None if source == "-" else _unreadable(Path(source))
        if problem:
            print(clean(f"webcare: {source}: {problem}", single_line=True), file=sys.stderr)
            return 2
    from webcare_tui.runtime import router_for

    yield_the_cpu()
    said: set[str] = set()

    def waiting(text: str) -> None:  # once, not for every slice that waits
        if text not in said:
            said.add(text)
            print(clean(f"webcare: {text}", single_line=True), file=sys.stderr)

    result = import_jsonl(store, sources, config.threading, on_reject=report, router=router_for(config, store),
                          on_wait=waiting)
    summary = {"new_messages": result.new_messages, "duplicates": result.duplicates,
               "rejected": result.rejected, "new_cases": result.new_cases}
    if args.json:
        _print_json(summary, out)
    else:
        print(f"{counted(result.new_messages, 'new message')}, {counted(result.duplicates, 'duplicate')}, "
              f"{result.rejected} rejected, {counted(result.new_cases, 'new case')}", file=out)
    return 1 if result.rejected else 0


IMPORT_NICENESS = 10  # Linux gives a process at 0 about nine times the CPU of one at 10 when both want it


def yield_the_cpu() -> None:
    """An import is background work: it (and its threading process, which inherits this) runs at a
    lower CPU priority, so the consoles beside it keep their keys fast; alone, it runs as fast."""
    if hasattr(os, "nice"):
        os.nice(IMPORT_NICENESS)


def _unreadable(path: Path) -> str | None:
    """Why `path` cannot be imported from, or None when it can be read (a file, a device, a pipe)."""
    if path.is_dir():
        return "is a folder, not a file"
    if not path.exists():
        return "no such file"
    if not os.access(path, os.R_OK):
        return "cannot be read (permission denied)"
    return None


def _case_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "status": row["status"], "owner": row["owner"], "priority": row["priority"],
        "platform": row["platform"], "account": row["account"],
        "author": {"id": row["author_id"], "handle": row["author_handle"], "name": row["author_name"]},
        "labels": row["labels"], "message_count": row["message_count"],
        "first_message_at": _local(row["first_message_at"]), "last_message_at": _local(row["last_message_at"]),
    }


def cmd_cases(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    rows = store.list_cases(CaseFilter(status=args.status, owner=args.owner, author=args.author, limit=args.limit))
    if args.json:
        _print_json([_case_json(row) for row in rows], out)
        return 0
    print(f"{'ID':>7}  {'STATUS':<9} {'OWNER':<8} {'PLATFORM':<10} {'AUTHOR':<24} {'MSGS':>4}  "
          f"{'FIRST':<16}  {'LAST':<16}  LABELS", file=out)
    for row in rows:
        author = shown_author(row["author_handle"], row["author_name"], str(row["author_id"]))[:24]
        print(f"{row['id']:>7}  {_line(row['status']):<9} {_line(row['owner'] or '-'):<8} "
              f"{_line(row['platform']):<10} {author:<24} "
              f"{row['message_count']:>4}  {_short(row['first_message_at']):<16}  {_short(row['last_message_at']):<16}  "
              f"{clean(','.join(row['labels']), single_line=True)}", file=out)
    return 0


def cmd_suggest(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    from webcare_tui.suggest import format_suggestions, suggest_many

    macros, _, _ = _macro_set(config, None)
    results = suggest_many(store, args.ids, macros=macros.macros, limit=args.limit, config=config)
    if args.json:
        _print_json(results, out)
    else:
        print(format_suggestions(results), file=out)
    return 0


def cmd_case(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    case = store.get_case(args.id)
    messages = store.case_messages(args.id)
    if args.json:
        data = _case_json({**case, "author_id": case["platform_author_id"], "first_message_at": case["created_at"]})
        data["author"]["followers"] = case["author_followers"]
        data["author"]["type"] = case["author_type"]
        data["closed_at"] = _local(case["closed_at"])
        data["messages"] = [{**message, "created_at": _local(message["created_at"]),
                             "sentiment_label": sentiment_label(message["sentiment"])
                             if message["sentiment"] is not None else None} for message in messages]
        data["memos"] = [{**memo, "created_at": _local(memo["created_at"])} for memo in store.case_memos(args.id)]
        data["events"] = [{**event, "at": _local(event["at"])} for event in store.case_events(args.id)]
        _print_json(data, out)
        return 0
    author = " ".join(part for part in (shown_author(case["author_handle"], None), shown_author(None, case["author_name"])) if part)
    print(f"Case {case['id']} · {_line(case['status'])} · owner {_line(case['owner'] or '-')} · "
          f"{_line(case['platform'])} · {author}", file=out)
    if case["labels"]:
        print("Labels: " + clean(", ".join(case["labels"]), single_line=True), file=out)
    for message in messages:
        who = f"→ {_line(message['agent'] or 'us')}" if message["direction"] == "out" else "←"
        print(f"\n{_short(message['created_at'])}  {who}  {_line(message['visibility'])}", file=out)
        print("  " + clean(message["text"]).replace("\n", "\n  "), file=out)
    return 0


DEMO_MAX_DAYS = 3650  # ten years back: the store takes nothing before 2000
DEMO_MAX_PER_DAY = 100_000


def cmd_demo(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    from webcare_tui.connectors.demo_traffic import generate_history

    def lines() -> Iterator[dict]:
        yield from generate_history(args.seed, datetime.now().astimezone(), args.days, args.per_day)

    result = import_jsonl(store, [lines()], config.threading)
    print(f"demo: {counted(result.new_messages, 'new message')}, {counted(result.duplicates, 'duplicate')}, "
          f"{counted(result.new_cases, 'new case')}", file=out)
    return 0


def cmd_sync(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    """One round both ways: fetch every account, then deliver what the outbox holds (for cron and scripts)."""
    from webcare_tui.outbox import OutboxWorker
    from webcare_tui.runtime import router_for

    connectors = args.connectors = build_connectors(config)  # for the log's redaction, should it fail

    async def round_trip():
        try:
            statuses = await SyncRunner(store, connectors, config.threading, router=router_for(config, store)).sync_once()
            worker = OutboxWorker(store, connectors)
            await worker.prepare()  # what each platform promises (a Mastodon server keeping Idempotency-Key)
            return statuses, [*await worker.recover(), *await worker.deliver_due()]
        finally:
            for connector in connectors.values():
                await connector.aclose()

    statuses, deliveries = asyncio.run(round_trip())
    failed = 0
    for status in statuses:
        line = f"{_line(status.account)}: {_line(status.state)}, {counted(status.new_messages, 'new message')}"
        if status.error:
            line += f" ({clean(status.error, single_line=True)})"
            failed += 1
        print(line, file=out)
    if deliveries:
        states = Counter(delivery.state for delivery in deliveries)
        print("outbox: " + ", ".join(f"{count} {state}" for state, count in sorted(states.items())), file=out)
        for delivery in deliveries:
            if delivery.error:
                print(f"  outbox {delivery.outbox_id}: {_line(delivery.state)}: {_line(delivery.error)}",
                      file=out)
    return 1 if failed else 0


def _folder_problem(folder: Path) -> str | None:
    """Why macros cannot be read from `folder`, or None when it is a folder."""
    try:
        if folder.is_dir():
            return None
        return "not a folder" if folder.exists() else "there is no such folder"
    except (OSError, ValueError) as error:  # a name too long for the file system
        return f"cannot read it ({error})"


def _macro_set(config: Config, folder: str | None):
    """The macros of `folder` (given on the command line) or else of the configured folders (the examples
    that come with webcare-tui when none is configured), the folders read, and one plain problem for each
    folder that is not there.
    """
    from webcare_tui.config import locator
    from webcare_tui.macros import load_macros
    from webcare_tui.runtime import macro_folders, team_agents

    folders = [Path(folder)] if folder else macro_folders(config)
    problems, readable = [], []
    for candidate in folders:
        problem = _folder_problem(candidate)
        if problem is None:
            readable.append(candidate)
        elif folder:
            problems.append(f"{candidate}: {problem}; give a folder of macro files (*.toml)")
        else:  # only the team's [macros] dir can be missing: the own folder and the examples count when there
            where = locator(config, "macros")("dir")
            problems.append(f"{where}: {candidate}: {problem}; no macros were read from it")
    macros = load_macros(readable, agents=team_agents(config) or None, blocks=config.raw.get("blocks", {}))
    return macros, readable, problems


def _no_macro_folder(config: Config) -> str:
    import platformdirs

    from webcare_tui.config import APP

    own = Path(platformdirs.user_config_dir(APP)) / "macros"
    return (f"no macros: no [macros] dir in {config.path or 'a config file'}, no folder {own}, and this"
            " installation of webcare-tui has no example macros")


def cmd_macros(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    """`macros check [DIR]` and `macros list`; a folder that is not there is an error (exit 1), never
    "0 macros valid"."""
    macros, folders, problems = _macro_set(config, getattr(args, "dir", None))
    for problem in problems:
        print(f"webcare: {_line(problem)}", file=sys.stderr)
    if not folders:
        if not problems:
            print(f"webcare: {_line(_no_macro_folder(config))}", file=sys.stderr)
        return 1
    if args.action == "check":
        for error in macros.errors:
            print(clean(str(error)), file=sys.stderr)
        print(f"{len(macros.macros)} macros valid, {len(macros.errors)} errors in "
              f"{_line(', '.join(map(str, folders)))}", file=out)
        return 1 if macros.errors or problems else 0
    for macro in sorted(macros.macros, key=lambda m: m.name.lower()):
        key = _line(macro.key or "-")
        scope = "" if macro.scope == "any" else f" ({_line(macro.scope)})"
        print(f"{key:<8} {_line(macro.name):<20} {_line(macro.summary())}{scope}", file=out)
    for error in macros.errors:
        print(f"not loaded: {clean(str(error))}", file=sys.stderr)
    return 1 if problems else 0


def cmd_macro_apply(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    from webcare_tui.approvals import approval_rule
    from webcare_tui.cases import CaseService
    from webcare_tui.macro_runner import MacroError, MacroRunner
    from webcare_tui.outbox import Outbox
    from webcare_tui.runtime import remote_actions_of

    macros, _, problems = _macro_set(config, None)
    macro = macros.by_name(args.name)
    if macro is None:
        for problem in problems:  # perhaps it is in the folder that is not there
            print(f"webcare: {_line(problem)}", file=sys.stderr)
        known = ", ".join(sorted(_line(m.name) for m in macros.macros)) or "none"
        print(f"webcare: there is no macro {_line(args.name)!r} (known: {known})", file=sys.stderr)
        return 2
    cases = CaseService(store, config.threading, remote_actions=remote_actions_of(config))
    outbox = Outbox(store, config.threading, needs_approval=approval_rule(config.team))
    runner = MacroRunner(store, cases, outbox, config.agent, blocks=config.raw.get("blocks", {}), grace=0)
    try:
        if args.dry_run:
            for case_id in args.case:
                preview = runner.preview(macro, case_id, args.ask)
                print(f"case {case_id}: {_line(preview.summary)}", file=out)
                if preview.memo:
                    print("  memo:  " + clean(preview.memo).replace("\n", "\n         "), file=out)
                if preview.reply:
                    print("  reply: " + clean(preview.reply).replace("\n", "\n         "), file=out)
            return 0
        print(_line(runner.apply(macro, args.case, ask=args.ask).summary), file=out)
    except (MacroError, StoreError) as error:
        print(f"webcare: {_line(error)}", file=sys.stderr)
        return 1
    return 0


def cmd_rules(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    from webcare_tui.message_format import InvalidMessage, parse_line
    from webcare_tui.runtime import rule_book

    book = rule_book(config)
    for error in book.errors:
        print(clean(str(error)), file=sys.stderr)
    if args.action == "check":
        print(f"{len(book.rules)} rules valid, {len(book.errors)} errors in {_line(config.path or 'no config file')}",
              file=out)
        return 1 if book.errors else 0
    if args.message == "-":
        source = sys.stdin.read()
    elif args.message.lstrip().startswith("{"):
        source = args.message
    else:
        source = Path(args.message).read_text(encoding="utf-8")
    try:
        message = parse_line(source)  # as the importer judges a line: nesting and sizes bounded
    except InvalidMessage as error:
        print(f"webcare: not a message in the JSON Lines format: {_line(error)}", file=sys.stderr)
        return 2
    fired = book.firing(message, message.author_type or "customer", message.author_followers)
    if not fired:
        print("no rule fires", file=out)
    for rule in fired:
        does = [f"assign {rule.assign}" if rule.assign else "", f"assign team {rule.assign_team} (round-robin)"
                if rule.assign_team else "", " ".join(f"+{label}" for label in rule.labels),
                f"priority {rule.priority}" if rule.priority is not None else "", f"view {rule.view}" if rule.view else ""]
        print(_line(f"{rule.name} ({rule.source}, set {rule.rule_set}): {', '.join(d for d in does if d)}"), file=out)
    return 1 if book.errors else 0


def counted(number: int, thing: str) -> str:
    """`1 new message`, `2 new messages`."""
    return f"{number} {thing}{'' if number == 1 else 's'}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="webcare", description="A terminal console for webcare agents. "
        "`webcare` with no command opens the console; the commands below work without it.")
    parser.add_argument("--version", action="version", version=f"webcare-tui {__version__}")
    parser.add_argument("--db", help="the store file (default: WEBCARE_DB or the user data dir)")
    parser.add_argument("--config", type=Path, help="the config file (default: WEBCARE_CONFIG or the user config dir)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    imp = commands.add_parser("import", help="ingest messages from JSON Lines files ('-' reads stdin)")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument("--json", action="store_true", help="print the counts as JSON")
    imp.set_defaults(handler=cmd_import)

    cases = commands.add_parser("cases", help="list cases, most recently active first")
    cases.add_argument("--status", choices=["new", "open", "pending", "awaiting_approval", "closed"])
    cases.add_argument("--author", help="handle (@name), name or platform id")
    cases.add_argument("--owner", help="agent id")
    cases.add_argument("--limit", type=whole_number(1, MAX_INTEGER), help="at most this many")
    cases.add_argument("--json", action="store_true")
    cases.set_defaults(handler=cmd_cases)

    case = commands.add_parser("case", help="show one case with all its messages")
    case.add_argument("id", type=case_id)
    case.add_argument("--json", action="store_true")
    case.set_defaults(handler=cmd_case)

    suggest = commands.add_parser("suggest", help="suggested replies and macros for cases, from the team's own history")
    suggest.add_argument("ids", nargs="+", type=case_id, metavar="CASE_ID")
    suggest.add_argument("--limit", type=whole_number(1, 50), default=5, help="suggestions of each kind (default 5)")
    suggest.add_argument("--json", action="store_true")
    suggest.set_defaults(handler=cmd_suggest)

    demo = commands.add_parser("demo", help="fill the store with realistic demo history")
    demo.add_argument("--seed", type=whole_number(0, MAX_INTEGER), default=7)
    demo.add_argument("--days", type=number(0, DEMO_MAX_DAYS), default=HISTORY_DAYS)
    demo.add_argument("--per-day", type=whole_number(0, DEMO_MAX_PER_DAY), default=300, help="conversations per day")
    demo.set_defaults(handler=cmd_demo)

    macros = commands.add_parser("macros", help="check or list the macros")
    macros_actions = macros.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = macros_actions.add_parser("check", help="validate macro files; exit 1 on any error")
    check.add_argument("dir", nargs="?", help="a folder of macro files (default: the configured ones)")
    macros_actions.add_parser("list", help="name, key and actions of every macro")
    macros.set_defaults(handler=cmd_macros)

    macro = commands.add_parser("macro", help="apply a macro from a script")
    macro.add_argument("verb", choices=["apply"])
    macro.add_argument("name")
    macro.add_argument("--case", type=case_id, action="append", required=True, help="case id (repeat for more)")
    macro.add_argument("--ask", help="the answer to the macro's question, for {ask}")
    macro.add_argument("--dry-run", action="store_true", help="show what it would do, change nothing")
    macro.set_defaults(handler=cmd_macro_apply)

    sync = commands.add_parser("sync", help="fetch new messages from every configured account")
    sync.add_argument("--once", action="store_true", required=True, help="one round, then exit")
    sync.set_defaults(handler=cmd_sync)

    accounts.add_parser(commands)

    report.add_parser(commands)
    wall.add_parser(commands)
    watch.add_parser(commands)

    rules = commands.add_parser("rules", help="check the routing rules, or see which fire for a message")
    rules_actions = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    rules_actions.add_parser("check", help="validate the [[rule]] tables; exit 1 on any error")
    test = rules_actions.add_parser("test", help="which rules fire for one message (JSON, a file, or - for stdin)")
    test.add_argument("message", metavar="MESSAGE-JSON")
    rules.set_defaults(handler=cmd_rules)
    return parser


BUG = 70  # exit code of a failure nobody expected (EX_SOFTWARE)


def main(argv: list[str] | None = None) -> int:
    """Run `webcare`; every expected failure is one plain line on stderr and exit code 2.

    The one top-level handler: SQLite's errors become the store's plain words (`store_trouble`)
    naming the store file, a file that cannot be read or written is named with the reason, and the
    traceback of either goes to the log file. Anything else is a bug: its traceback is printed
    (cleaned: an exception may quote a customer's text) as well as logged, exit code 70.
    """
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `webcare cases | head`: the reader has all it wanted
        _quiet_stdout()
        return 0
    except Exception as error:
        redact = _redactor(args)
        plain = _expected(error, args)
        logged = _log_traceback(args, redact)
        if plain is None:
            print(redact(clean(traceback.format_exc())), file=sys.stderr, end="")
            where = f"; the traceback is also in {logged}" if logged else ""
            print(f"webcare: this is a bug in webcare-tui{where}", file=sys.stderr)
            return BUG
        where = f" (details in {logged})" if logged else ""
        print(f"webcare: {redact(_line(plain))}{where}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        store = open_store(args.db)
    except (ConfigError, SchemaTooNew, StoreError) as error:
        print(f"webcare: {_line(error)}", file=sys.stderr)
        return 2
    with store:
        try:
            if args.command is None:
                from webcare_tui.app import make_app

                app = make_app(config, store)
                app.run()
                return app.return_code or 0  # 1 when the app ended on an error it showed
            return args.handler(args, config, store, sys.stdout)
        except (StoreError, CaseError, CredentialsError, ConfigError, KeyError) as error:
            print(f"webcare: {_line(str(error).strip(chr(39)))}", file=sys.stderr)  # KeyError quotes its text
            return 2


def _expected(error: BaseException, args: argparse.Namespace) -> str | None:
    """An expected failure in plain words, naming the file; None for a bug."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        where = error.filename or db_path(args.db)
        return f"{where}: the disk is full; free some space"
    if isinstance(error, StoreFailure):  # SQLite's own errors
        return f"{db_path(args.db)}: {store_trouble(error)}"
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}"
    return None


def _redactor(args: argparse.Namespace) -> Callable[[str], str]:
    """Takes the secrets of the connectors the command built out of a text (a URL in an exception
    may carry a token: Telegram's do)."""
    connectors = getattr(args, "connectors", None) or {}

    def redact(text: str) -> str:
        for connector in connectors.values():
            text = connector.redact(text)
        return text

    return redact


def _log_traceback(args: argparse.Namespace, redact: Callable[[str], str]) -> Path | None:
    """The failure's traceback into the log file, secrets taken out."""
    from webcare_tui.supervisor import log, start_log

    try:
        path = start_log(redact)
        if path is not None:
            log.exception("webcare %s failed", args.command or "console")
    except Exception:  # the log is a help, never a second failure
        logging.getLogger(__name__).debug("no log", exc_info=True)
        return None
    return path


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so Python's flush at exit does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
