"""Command-line entry points: `flask db-upgrade`, `flask demo-data`, `flask create-staff`,
`flask serve` (what `make run` starts) and `flask worker` (the Procfile's worker)."""
from __future__ import annotations

import getpass
import logging
import os
from pathlib import Path

import click
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from werkzeug.serving import make_server

from hotline import studio
from scheduling import demo
from scheduling.db import transaction
from scheduling.models import Staff, StaffRole
from scheduling.phones import parse_phone
from scheduling.worker import build_scheduler, run_until_stopped
from staff.passwords import hash_password
from web.config import local_base_url
from web.jsonlog import quiet_alembic_plugins
from web.worker import make_worker

ROOT = Path(__file__).resolve().parents[1]


def alembic_config(database_url: str) -> AlembicConfig:
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade_database(database_url: str) -> None:
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "head")


def _sessions():
    return current_app.extensions["linja.sessions"]


def _now():
    return current_app.extensions["linja.clock"].now()


def _load_demo_if_empty() -> None:
    with transaction(_sessions()) as session:
        if demo.is_loaded(session):
            click.echo("Demo data already loaded.")
            return
        created = demo.load_demo_data(session, _now(), hash_password, current_app.extensions["linja.rules"])
        # The demo admin's studio PIN: a new one each time, shown once here (never a fixed one).
        admin = session.scalars(select(Staff).where(Staff.role == StaffRole.admin).order_by(Staff.id)).first()
        pin = studio.new_pin(session, admin, current_app.config["SECRET_KEY"]) if admin else None
        admin_name = admin.name if admin else ""
    click.echo("Demo staff created (every demo password is the same):")
    for name, email, role in created:
        click.echo(f"  {role.value:<13} {name:<18} {email}")
    click.echo(f"  password: {demo.DEMO_PASSWORD}")
    if pin:
        click.echo(f"  studio PIN of {admin_name}: {pin} (call the studio from the phone simulator, "
                   "key the PIN, then #)")


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("twilio").setLevel(logging.WARNING)  # eleven lines of request headers a text
    quiet_alembic_plugins()


def init_app(app: Flask) -> None:
    @app.cli.command("db-upgrade")
    def db_upgrade():
        """Apply every migration (alembic upgrade head)."""
        upgrade_database(current_app.config["DATABASE_URL"])
        click.echo("Database is at the latest migration.")

    @app.cli.command("dialogue-table")
    def dialogue_table():
        """Write docs/dialogue.md from the dialogue table both lines run."""
        from hotline import dialogue_doc

        click.echo(f"Wrote {dialogue_doc.write()}")

    @app.cli.command("demo-data")
    def demo_data():
        """Load demo staff, services and hours into an empty database."""
        _load_demo_if_empty()

    @app.cli.command("create-staff")
    @click.option("--name", required=True)
    @click.option("--email", required=True)
    @click.option("--role", type=click.Choice([r.value for r in StaffRole]), default="admin")
    @click.option("--phone", default=None, help="Phone for call transfers, any format.")
    def create_staff(name, email, role, phone):
        """Create a staff member (the first admin, typically); asks for the password."""
        phone_e164 = None
        if phone:
            parsed = parse_phone(phone, current_app.config["DEFAULT_PHONE_REGION"])
            if not parsed.is_valid:
                raise click.BadParameter(parsed.message, param_hint="--phone")
            phone_e164 = parsed.e164
        password = getpass.getpass("Password: ")
        if len(password) < 10:
            raise click.BadParameter("use at least 10 characters", param_hint="password")
        if password != getpass.getpass("Again: "):
            raise click.BadParameter("the two passwords differ", param_hint="password")
        with transaction(_sessions()) as session:
            session.add(Staff(
                name=name, email=email.strip().lower(), role=StaffRole(role), phone_e164=phone_e164,
                password_hash=hash_password(password), is_active=True, created_at=_now(),
            ))
        click.echo(f"Created {role} {name} <{email}>.")

    @app.cli.command("rotate-phone-keys")
    def rotate_phone_keys():
        """Encrypt every stored phone number again with the first key of PHONE_KEYS."""
        from scheduling.crypto import rotate_keys
        from scheduling.models import Client

        with transaction(_sessions()) as session:
            count = rotate_keys(session, [Client.__table__.c.phone_e164, Staff.__table__.c.phone_e164])
        click.echo(f"Encrypted {count} phone numbers again with the first key of PHONE_KEYS; "
                   "the keys after it can now be removed.")

    @app.cli.command("serve")
    @click.option("--host", default=None, help="Default: $LINJA_HOST, or 127.0.0.1.")
    @click.option("--port", default=None, type=click.IntRange(1, 65535), help="Default: $PORT, or 5000.")
    def serve(host, port):
        """Migrate, load demo data the first time, and serve with the worker in-process."""
        host = host or current_app.config["HOST"]
        port = port or current_app.config["PORT"]
        base = local_base_url(host, port)
        if not os.environ.get("PUBLIC_BASE_URL"):
            # Status callbacks, calendar links and signatures name where this server listens.
            current_app.config["PUBLIC_BASE_URL"] = base
        # Listening comes first: a port another program holds (macOS's AirPlay Receiver
        # holds 5000) is said before anything is migrated, loaded or sent.
        try:
            server = make_server(host, port, current_app._get_current_object(), threaded=True)
        except SystemExit:  # Werkzeug has said why (in use, no such address)
            click.echo(f"Linja cannot listen on {host}:{port}. PORT=5003 make run serves on another port "
                       "(LINJA_HOST chooses the address).", err=True)
            raise
        upgrade_database(current_app.config["DATABASE_URL"])
        _load_demo_if_empty()
        worker = make_worker(current_app)
        scheduler = build_scheduler(worker, interval_seconds=current_app.config["WORKER_INTERVAL_SECONDS"])
        scheduler.start()
        click.echo("")
        click.echo(f"Linja is running on {base}")
        click.echo(f"  Staff sign-in:  {base}/staff/login")
        if "linja.simulator" in current_app.extensions:
            click.echo(f"  Phone simulator: {base}/simulator/")
        click.echo(f"  Health:         {base}/healthz")
        click.echo("Press Ctrl+C to stop.")
        try:
            server.serve_forever()  # Ctrl+C ends it
        finally:
            worker.stop()  # sends on the wire finish; claimed texts are given back
            scheduler.shutdown(wait=True)

    @app.cli.command("send-due")
    def send_due():
        """Send every text that is due now, then stop."""
        _log_to_stderr()
        worker = make_worker(current_app)
        worker.tick_budget_seconds = float("inf")
        worker.tick()

    phone = AppGroup("phone", help="A basic phone in the terminal, talking to Linja as Twilio would.")
    app.cli.add_command(phone)

    @phone.command("sms")
    @click.argument("number")
    @click.argument("text", nargs=-1)
    @click.option("--url", default=None, help="A running Linja (default: this app, in-process).")
    def phone_sms(number, text, url):
        """Text Linja from NUMBER and print the answer, e.g. flask phone sms +4791234567 hei"""
        from hotline.phone import HttpTransport, SimulatedPhone, WebhookRefused, WsgiTransport

        parsed = parse_phone(number, current_app.config["DEFAULT_PHONE_REGION"])
        if not parsed.is_valid:
            raise click.BadParameter(parsed.message, param_hint="NUMBER")
        transport = HttpTransport(url) if url else WsgiTransport(current_app._get_current_object())
        device = SimulatedPhone(transport, parsed.e164, url or current_app.config["PUBLIC_BASE_URL"],
                                current_app.config["TWILIO_AUTH_TOKEN"])
        try:
            replies = device.text(" ".join(text))
        except WebhookRefused as error:
            raise click.ClickException(str(error)) from None
        for reply in replies:
            click.echo(reply)
            click.echo("")

    @phone.command("call")
    @click.argument("number")
    @click.option("--url", default=None, help="A running Linja (default: this app, in-process).")
    @click.option("--answered", is_flag=True, help="Let the staff member answer a transfer.")
    def phone_call(number, url, answered):
        """Call Linja from NUMBER ("anonymous" for a hidden number) and answer with the keypad."""
        from hotline.phone import HttpTransport, SimulatedPhone, VoiceCall, WebhookRefused, WsgiTransport

        if number.strip().lower() != "anonymous":
            parsed = parse_phone(number, current_app.config["DEFAULT_PHONE_REGION"])
            if not parsed.is_valid:
                raise click.BadParameter(parsed.message, param_hint="NUMBER")
            number = parsed.e164
        transport = HttpTransport(url) if url else WsgiTransport(current_app._get_current_object())
        device = SimulatedPhone(transport, number, url or current_app.config["PUBLIC_BASE_URL"],
                                current_app.config["TWILIO_AUTH_TOKEN"])
        voice_call = VoiceCall(device, dial_outcome="completed" if answered else "no-answer")

        def show(heard):
            for item in heard:
                if item.kind == "say":
                    click.echo(f"  [{item.language or '?'}] {item.text}")
                elif item.kind == "play":
                    click.echo(f"  ▶ {item.text}")
                elif item.kind == "dial":
                    click.echo(f"  ☎ ringing {item.text} ...")
                elif item.kind == "record":
                    click.echo("  ● beep: recording")
                elif item.kind == "hangup":
                    click.echo("  (the line hangs up)")

        try:
            show(voice_call.start())
            while not voice_call.ended:
                if voice_call.waiting_for == "message":
                    keys = click.prompt("speak, then Enter to finish your message (q to hang up)",
                                        default="", show_default=False)
                    if keys.strip().lower() == "q":
                        voice_call.hang_up()
                        break
                    show(voice_call.leave_message())
                    continue
                keys = click.prompt("keys (Enter: stay silent, q: hang up)", default="", show_default=False)
                keys = keys.strip()
                if keys.lower() == "q":
                    voice_call.hang_up()
                    break
                show(voice_call.press(keys) if keys else voice_call.silence())
        except WebhookRefused as error:
            raise click.ClickException(str(error)) from None
        click.echo("Call ended.")

    prompts_group = AppGroup("prompts", help="The voice line's prompts and recordings.")
    app.cli.add_command(prompts_group)

    @prompts_group.command("missing")
    def prompts_missing():
        """Per language: the prompts (and pieces of dates) with neither a recording nor a voice."""
        from sqlalchemy import select

        from hotline import ivr, voices
        from scheduling.models import Language, PromptRecording, Service

        with _sessions()() as session:
            languages = session.scalars(
                select(Language).where(Language.is_enabled.is_(True)).order_by(Language.menu_order)).all()
            slugs = session.scalars(select(Service.slug).where(Service.is_active.is_(True))).all()
            for language in languages:
                if voices.voice(language.code) is not None:
                    click.echo(f"{language.code}: nothing missing (spoken by {voices.voice(language.code)[0]})")
                    continue
                versions = dict(session.execute(
                    select(PromptRecording.prompt_key, PromptRecording.text_version)
                    .where(PromptRecording.language_code == language.code)).all())
                # A recording of an older wording is not played: it is missing until recorded again.
                missing = [key for key in voices.pieces_to_record(language.code, slugs)
                           if key not in versions or not voices.is_current(key, versions[key])]
                if not missing:
                    click.echo(f"{language.code}: nothing missing (all recorded)")
                    continue
                # What a call needs before it can go on in this language comes first (*).
                needed = set(voices.pieces_to_record(language.code, slugs, ivr.prompts_heard()))
                missing.sort(key=lambda key: key not in needed)
                before = sum(1 for key in missing if key in needed)
                click.echo(f"{language.code}: {len(missing)} recordings missing ({language.name_native}, no voice); "
                           f"{before} of them (*) before a call can go on in it")
                for key in missing:
                    stale = " (recorded for an older wording)" if key in versions else ""
                    mark = "*" if key in needed else " "
                    click.echo(f" {mark}{key:<28} {voices.script(key, language.code)}{stale}")
                    sentence = voices.in_sentence(key, language.code)
                    if sentence:
                        click.echo(f"  {'':<28} in: {sentence}")

    @app.cli.command("worker")
    def worker():
        """Run the worker process (the Procfile's `worker`): wakes every few seconds; SIGTERM
        or Ctrl+C stops it cleanly."""
        _log_to_stderr()
        run_until_stopped(make_worker(current_app), interval_seconds=current_app.config["WORKER_INTERVAL_SECONDS"],
                          on_start=lambda: click.echo("Linja worker started.", err=True))
        click.echo("Linja worker stopped.", err=True)
