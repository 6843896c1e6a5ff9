"""`omnidesk-relay`: serve, and administer agents and channels from the host's shell."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from relay.settings import Settings, SettingsError, load_settings
from relay.store import agents as agent_store
from relay.store import channels as channel_store
from relay.store.database import Database
from relay.store.migrate import migrate


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"omnidesk-relay: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _open_db(settings: Settings) -> Database:
    db = Database(settings.relay_database_url)
    migrate(db.engine)
    return db


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from relay.app import create_app
    from relay.logs import setup_logging

    settings = _settings()
    setup_logging(settings.log_json or args.log_json)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=args.access_log,
        timeout_graceful_shutdown=3,
    )
    return 0


def cmd_agents(args: argparse.Namespace) -> int:
    db = _open_db(_settings())
    try:
        if args.action == "add":
            try:
                token = db.write_sync(agent_store.add_agent(args.name))
            except agent_store.AgentExists:
                print(f"agent {args.name!r} already exists", file=sys.stderr)
                return 1
            print(f"agent {args.name!r} created; its token (shown once):")
            print(token)
        elif args.action == "list":
            for agent in db.read_sync(agent_store.list_agents):
                state = (
                    f"revoked {agent['revoked_at']:%Y-%m-%d}" if agent["revoked_at"] else "active"
                )
                print(f"{agent['name']}\t{state}")
        elif args.action == "revoke":
            if not db.write_sync(agent_store.revoke_agent(args.name)):
                print(f"no active agent {args.name!r}", file=sys.stderr)
                return 1
            print(f"agent {args.name!r} revoked")
        return 0
    finally:
        db.close()


def cmd_channels(args: argparse.Namespace) -> int:
    db = _open_db(_settings())
    try:
        if args.action == "list":
            for ch in db.read_sync(channel_store.list_channels):
                token = "own token" if ch["has_token"] else "default token"
                print(f"{ch['id']}\t{ch['name']}\t{token}")
            return 0
        if args.action == "name":
            done = db.write_sync(channel_store.rename_channel(args.channel, args.name))
        else:
            token = args.token or sys.stdin.readline().strip()
            done = db.write_sync(channel_store.set_channel_token(args.channel, token or None))
        if not done:
            print(
                f"no channel {args.channel!r} (channels appear with their first webhook)",
                file=sys.stderr,
            )
            return 1
        print("done")
        return 0
    finally:
        db.close()


def cmd_bot_demo(args: argparse.Namespace) -> int:
    from relay.bot.demo import run_demo_bot

    return run_demo_bot(args.amqp_url)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omnidesk-relay", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve webhooks and the agent API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    serve.add_argument("--access-log", action="store_true", help="log every HTTP request")
    serve.set_defaults(func=cmd_serve)

    agents = sub.add_parser("agents", help="create, list and revoke agents")
    agent_actions = agents.add_subparsers(dest="action", required=True)
    agent_actions.add_parser("add", help="create an agent and print its token").add_argument("name")
    agent_actions.add_parser("list", help="list agents")
    agent_actions.add_parser("revoke", help="revoke an agent's token").add_argument("name")
    agents.set_defaults(func=cmd_agents)

    channels = sub.add_parser("channels", help="list channels, name them, set their tokens")
    channel_actions = channels.add_subparsers(dest="action", required=True)
    channel_actions.add_parser("list", help="list channels")
    name = channel_actions.add_parser("name", help="give a channel a name agents see")
    name.add_argument("channel", help="e.g. whatsapp:109876543210987")
    name.add_argument("name")
    token = channel_actions.add_parser(
        "set-token", help="give a channel its own access token (read from stdin if not given)"
    )
    token.add_argument("channel")
    token.add_argument(
        "token", nargs="?", help="prefer stdin: a token on the command line stays in shell history"
    )
    channels.set_defaults(func=cmd_channels)

    bot = sub.add_parser("bot-demo", help="run the reference bot (speaks docs/bot-protocol.md)")
    bot.add_argument(
        "--amqp-url", default=None, help="default: OMNIDESK_AMQP_URL or guest@localhost"
    )
    bot.set_defaults(func=cmd_bot_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
