"""Provides the `webcare` command: the TUI by default, headless subcommands for scripts.

    webcare                       start the console
    webcare import FILE... | -    ingest JSON Lines messages
    webcare cases [--status S] [--author A] [--owner O] [--json]
    webcare case ID [--json]
    webcare demo [--seed N] [--days D]
    webcare sync --once
    webcare accounts add PLATFORM NAME [--set KEY=VALUE]... | list | remove NAME
    webcare rules check | test MESSAGE-JSON
    webcare report [--date D | --from D1 [--to D2]] [--by agent|platform|label] [--json|--csv]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from webcare_tui import __version__, accounts, report
from webcare_tui.bulk import import_jsonl
from webcare_tui.cases import CaseError
from webcare_tui.config import Config, ConfigError, load_config
from webcare_tui.credentials import CredentialsError
from webcare_tui.runtime import build_connectors, open_store
from webcare_tui.safe_text import clean
from webcare_tui.sentiment import sentiment_label
from webcare_tui.store import CaseFilter, SchemaTooNew, Store, StoreError
from webcare_tui.sync import SyncRunner


def _local(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch).astimezone().isoformat()


def _short(epoch: int | None) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M")


def _print_json(data: Any, out: TextIO) -> None:
    json.dump(data, out, ensure_ascii=False, indent=2)
    out.write("\n")


def cmd_import(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    def report(source: str, line: int, reason: str) -> None:
        print(f"{source}:{line}: rejected: {reason}", file=sys.stderr)

    sources: list[Path | str] = [source if source == "-" else Path(source) for source in args.files]
    for source in sources:
        if source != "-" and not Path(source).is_file():
            print(f"webcare: {source}: no such file", file=sys.stderr)
            return 2
    from webcare_tui.runtime import router_for

    said: set[str] = set()

    def waiting(text: str) -> None:  # once, not for every slice that waits
        if text not in said:
            said.add(text)
            print(f"webcare: {text}", file=sys.stderr)

    result = import_jsonl(store, sources, config.threading, on_reject=report, router=router_for(config, store),
                          on_wait=waiting)
    summary = {"new_messages": result.new_messages, "duplicates": result.duplicates,
               "rejected": result.rejected, "new_cases": result.new_cases}
    if args.json:
        _print_json(summary, out)
    else:
        print(f"{result.new_messages} new messages, {result.duplicates} duplicates, "
              f"{result.rejected} rejected, {result.new_cases} new cases", file=out)
    return 1 if result.rejected else 0


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
        author = clean(row["author_handle"] or row["author_name"] or row["author_id"], single_line=True)[:24]
        print(f"{row['id']:>7}  {row['status']:<9} {row['owner'] or '-':<8} {row['platform']:<10} {author:<24} "
              f"{row['message_count']:>4}  {_short(row['first_message_at']):<16}  {_short(row['last_message_at']):<16}  "
              f"{clean(','.join(row['labels']), single_line=True)}", file=out)
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
    author = clean(f"{case['author_handle'] or ''} {case['author_name'] or ''}".strip(), single_line=True)
    print(f"Case {case['id']} · {case['status']} · owner {case['owner'] or '-'} · {case['platform']} · {author}",
          file=out)
    if case["labels"]:
        print("Labels: " + clean(", ".join(case["labels"]), single_line=True), file=out)
    for message in messages:
        who = f"→ {message['agent'] or 'us'}" if message["direction"] == "out" else "←"
        print(f"\n{_short(message['created_at'])}  {who}  {message['visibility']}", file=out)
        print("  " + clean(message["text"]).replace("\n", "\n  "), file=out)
    return 0


def cmd_demo(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    from webcare_tui.connectors.demo_traffic import generate_history

    def lines() -> Iterator[dict]:
        yield from generate_history(args.seed, datetime.now().astimezone(), args.days, args.per_day)

    result = import_jsonl(store, [lines()], config.threading)
    print(f"demo: {result.new_messages} new messages, {result.duplicates} duplicates, "
          f"{result.new_cases} new cases", file=out)
    return 0


def cmd_sync(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    """One round both ways: fetch every account, then deliver what the outbox holds (for cron and scripts)."""
    from webcare_tui.outbox import OutboxWorker
    from webcare_tui.runtime import router_for

    connectors = build_connectors(config)

    async def round_trip():
        try:
            statuses = await SyncRunner(store, connectors, config.threading, router=router_for(config, store)).sync_once()
            worker = OutboxWorker(store, connectors)
            return statuses, [*await worker.recover(), *await worker.deliver_due()]
        finally:
            for connector in connectors.values():
                await connector.aclose()

    statuses, deliveries = asyncio.run(round_trip())
    failed = 0
    for status in statuses:
        line = f"{status.account}: {status.state}, {status.new_messages} new messages"
        if status.error:
            line += f" ({clean(status.error, single_line=True)})"
            failed += 1
        print(line, file=out)
    if deliveries:
        states = Counter(delivery.state for delivery in deliveries)
        print("outbox: " + ", ".join(f"{count} {state}" for state, count in sorted(states.items())), file=out)
        for delivery in deliveries:
            if delivery.error:
                print(f"  outbox {delivery.outbox_id}: {delivery.state}: {clean(delivery.error, single_line=True)}",
                      file=out)
    return 1 if failed else 0


def _macro_set(config: Config, folder: str | None):
    from webcare_tui.macros import load_macros
    from webcare_tui.runtime import macro_folders, team_agents

    folders = [Path(folder)] if folder else macro_folders(config)
    return load_macros(folders, agents=team_agents(config) or None, blocks=config.raw.get("blocks", {})), folders


def cmd_macros(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    macros, folders = _macro_set(config, getattr(args, "dir", None))
    if args.action == "check":
        for error in macros.errors:
            print(error, file=sys.stderr)
        print(f"{len(macros.macros)} macros valid, {len(macros.errors)} errors in {', '.join(map(str, folders))}",
              file=out)
        return 1 if macros.errors else 0
    for macro in sorted(macros.macros, key=lambda m: m.name.lower()):
        key = macro.key or "-"
        scope = "" if macro.scope == "any" else f" ({macro.scope})"
        print(f"{key:<8} {macro.name:<20} {macro.summary()}{scope}", file=out)
    for error in macros.errors:
        print(f"not loaded: {error}", file=sys.stderr)
    return 0


def cmd_macro_apply(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    from webcare_tui.approvals import approval_rule
    from webcare_tui.cases import CaseService
    from webcare_tui.macro_runner import MacroError, MacroRunner
    from webcare_tui.outbox import Outbox
    from webcare_tui.runtime import remote_actions_of

    macros, _ = _macro_set(config, None)
    macro = macros.by_name(args.name)
    if macro is None:
        known = ", ".join(sorted(m.name for m in macros.macros)) or "none"
        print(f"webcare: there is no macro {args.name!r} (known: {known})", file=sys.stderr)
        return 2
    cases = CaseService(store, config.threading, remote_actions=remote_actions_of(config))
    outbox = Outbox(store, config.threading, needs_approval=approval_rule(config.team))
    runner = MacroRunner(store, cases, outbox, config.agent, blocks=config.raw.get("blocks", {}), grace=0)
    try:
        if args.dry_run:
            for case_id in args.case:
                preview = runner.preview(macro, case_id, args.ask)
                print(f"case {case_id}: {preview.summary}", file=out)
                if preview.memo:
                    print(f"  memo:  {preview.memo}", file=out)
                if preview.reply:
                    print(f"  reply: {preview.reply}", file=out)
            return 0
        print(runner.apply(macro, args.case, ask=args.ask).summary, file=out)
    except (MacroError, StoreError) as error:
        print(f"webcare: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_rules(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    from webcare_tui.message_format import InvalidMessage, parse_message
    from webcare_tui.runtime import rule_book

    book = rule_book(config)
    for error in book.errors:
        print(error, file=sys.stderr)
    if args.action == "check":
        print(f"{len(book.rules)} rules valid, {len(book.errors)} errors in {config.path or 'no config file'}",
              file=out)
        return 1 if book.errors else 0
    if args.message == "-":
        source = sys.stdin.read()
    elif args.message.lstrip().startswith("{"):
        source = args.message
    else:
        source = Path(args.message).read_text(encoding="utf-8")
    try:
        message = parse_message(json.loads(source))
    except (ValueError, InvalidMessage) as error:
        print(f"webcare: not a message in the JSON Lines format: {error}", file=sys.stderr)
        return 2
    fired = book.firing(message, message.author_type or "customer", message.author_followers)
    if not fired:
        print("no rule fires", file=out)
    for rule in fired:
        does = [f"assign {rule.assign}" if rule.assign else "", f"assign team {rule.assign_team} (round-robin)"
                if rule.assign_team else "", " ".join(f"+{label}" for label in rule.labels),
                f"priority {rule.priority}" if rule.priority is not None else "", f"view {rule.view}" if rule.view else ""]
        print(f"{rule.name} ({rule.source}, set {rule.rule_set}): {', '.join(d for d in does if d)}", file=out)
    return 1 if book.errors else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webcare", description="A terminal console for webcare agents.")
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
    cases.add_argument("--limit", type=int, help="at most this many")
    cases.add_argument("--json", action="store_true")
    cases.set_defaults(handler=cmd_cases)

    case = commands.add_parser("case", help="show one case with all its messages")
    case.add_argument("id", type=int)
    case.add_argument("--json", action="store_true")
    case.set_defaults(handler=cmd_case)

    demo = commands.add_parser("demo", help="fill the store with realistic demo history")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--days", type=float, default=14)
    demo.add_argument("--per-day", type=int, default=300, help="conversations per day")
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
    macro.add_argument("--case", type=int, action="append", required=True, help="case id (repeat for more)")
    macro.add_argument("--ask", help="the answer to the macro's question, for {ask}")
    macro.add_argument("--dry-run", action="store_true", help="show what it would do, change nothing")
    macro.set_defaults(handler=cmd_macro_apply)

    sync = commands.add_parser("sync", help="fetch new messages from every configured account")
    sync.add_argument("--once", action="store_true", required=True, help="one round, then exit")
    sync.set_defaults(handler=cmd_sync)

    accounts.add_parser(commands)

    report.add_parser(commands)

    rules = commands.add_parser("rules", help="check the routing rules, or see which fire for a message")
    rules_actions = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    rules_actions.add_parser("check", help="validate the [[rule]] tables; exit 1 on any error")
    test = rules_actions.add_parser("test", help="which rules fire for one message (JSON, a file, or - for stdin)")
    test.add_argument("message", metavar="MESSAGE-JSON")
    rules.set_defaults(handler=cmd_rules)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
        store = open_store(args.db)
    except (ConfigError, SchemaTooNew, StoreError) as error:
        print(f"webcare: {error}", file=sys.stderr)
        return 2
    with store:
        try:
            if args.command is None:
                from webcare_tui.app import make_app

                make_app(config, store).run()
                return 0
            return args.handler(args, config, store, sys.stdout)
        except (StoreError, CaseError, CredentialsError, ConfigError, KeyError) as error:
            print(f"webcare: {str(error).strip(chr(39))}", file=sys.stderr)  # KeyError quotes its text
            return 2
