"""Configuration, from environment variables only, with safe local defaults."""
from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from scheduling import crypto
from scheduling.phones import parse_numbers

ROOT = Path(__file__).resolve().parents[1]
INSTANCE = ROOT / "instance"


LOCAL_AUTH_TOKEN = "linja-local-auth-token"
SMS_SIGNATURE_MAX = 30


class ConfigError(RuntimeError):
    pass


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE / 'linja.sqlite3'}"


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _countries(value: str) -> tuple[str, ...]:
    return tuple(code.strip().upper() for code in value.split(",") if code.strip())


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(f"TRUSTED_NETWORKS: {error}") from None


def _port(value: str) -> int:
    value = value.strip()
    if not value:
        return 5000
    if not value.isascii() or not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"PORT must be a port number (1-65535), not {value!r}")
    return int(value)


def local_base_url(host: str, port: int) -> str:
    """The address a browser on this machine reaches `flask serve` at: a server listening on
    every interface (0.0.0.0, ::) is reached at 127.0.0.1."""
    if host in {"0.0.0.0", "::", ""}:
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def from_env(environ: dict[str, str] | None = None) -> dict:
    env = os.environ if environ is None else environ
    is_production = env.get("LINJA_ENV", "development") == "production"
    config = {
        "LINJA_ENV": env.get("LINJA_ENV", "development"),
        "IS_PRODUCTION": is_production,
        "DATABASE_URL": env.get("DATABASE_URL") or default_database_url(),
        "SECRET_KEY": env.get("SECRET_KEY"),
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_FROM": env.get("TWILIO_FROM", ""),
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        "TWILIO_API_BASE": env.get("TWILIO_API_BASE", "https://api.twilio.com"),
        # Where `make run` (flask serve) listens; the Procfile's gunicorn reads PORT itself.
        "HOST": env.get("LINJA_HOST", "").strip() or "127.0.0.1",
        "PORT": _port(env.get("PORT", "")),
        "TZ_NAME": env.get("TZ_NAME", "Europe/Oslo"),
        "CENTRE_ADDRESS": env.get("CENTRE_ADDRESS", "Storgata 10, 0184 Oslo"),
        "SMS_IDLE_MINUTES": int(env.get("SMS_IDLE_MINUTES", "30")),
        "DEFAULT_PHONE_REGION": env.get("DEFAULT_PHONE_REGION", "NO"),
        "MIN_NOTICE_MINUTES": int(env.get("MIN_NOTICE_MINUTES", "120")),
        "BOOKING_HORIZON_DAYS": int(env.get("BOOKING_HORIZON_DAYS", "60")),
        "SLOT_STEP_MINUTES": int(env.get("SLOT_STEP_MINUTES", "30")),
        "WORKER_INTERVAL_SECONDS": float(env.get("WORKER_INTERVAL_SECONDS", "5")),
        "REMINDER_HOURS": env.get("REMINDER_HOURS", "24,2"),
        "QUIET_FROM": env.get("QUIET_FROM", "20:00"),
        "QUIET_UNTIL": env.get("QUIET_UNTIL", "08:00"),
        "SMS_PER_SECOND": float(env.get("SMS_PER_SECOND", "1")),
        "OUTBOX_LEASE_SECONDS": int(env.get("OUTBOX_LEASE_SECONDS", "60")),
        # The longest one request to Twilio may take; the lease must outlast it twice over.
        "TWILIO_TIMEOUT_SECONDS": float(env.get("TWILIO_TIMEOUT_SECONDS", "10")),
        "OUTBOX_MAX_ATTEMPTS": int(env.get("OUTBOX_MAX_ATTEMPTS", "5")),
        "SENDING_CONCURRENCY": int(env.get("SENDING_CONCURRENCY", "8")),
        "LINJA_CLOCK": env.get("LINJA_CLOCK", ""),
        "SIMULATOR_ENABLED": _bool(env.get("SIMULATOR_ENABLED")),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        # Words no caller text may contain, on top of hotline.discretion's own (comma-separated:
        # the centre's name, above all), and an optional short sign-off for confirmation texts.
        "SENSITIVE_WORDS": tuple(w.strip() for w in env.get("SENSITIVE_WORDS", "").split(",") if w.strip()),
        "SMS_SIGNATURE": " ".join(env.get("SMS_SIGNATURE", "").split()),
        # Languages whose Twilio voice is not to be used (a test call heard silence, or
        # Twilio withdrew it): they are spoken from recordings, as Somali is.
        "VOICES_OFF": tuple(c.strip().lower() for c in env.get("VOICES_OFF", "").split(",") if c.strip()),
        # A staff member who does nothing for this long is signed out.
        "STAFF_IDLE_MINUTES": int(env.get("STAFF_IDLE_MINUTES", "30")),
        # The centre's own networks: failed sign-ins from elsewhere never lock staff out
        # there (scheduling.brake). The addresses as Linja sees them, after PROXY_FIX_HOPS.
        "TRUSTED_NETWORKS": _networks(env.get("TRUSTED_NETWORKS", "")),
        "PROXY_FIX_HOPS": int(env.get("PROXY_FIX_HOPS", "1" if is_production else "0")),
        # A caller's number and history are erased this many days after her last
        # appointment or her last contact, whichever is later (scheduling.retention).
        "RETENTION_DAYS": int(env.get("RETENTION_DAYS", "180")),
        # Abuse limits (hotline.abuse): a number that floods the line gets at most this many
        # replies an hour, and the line as a whole this many a minute; past them, silence.
        # (A caller who struggles at every step of a booking and a move sends about 15.)
        "REPLIES_PER_NUMBER_PER_HOUR": int(env.get("REPLIES_PER_NUMBER_PER_HOUR", "20")),
        "REPLIES_PER_MINUTE": int(env.get("REPLIES_PER_MINUTE", "300")),
        # Calls answered from one number in an hour; further calls hear "busy" (and cost nothing).
        "CALLS_PER_NUMBER_PER_HOUR": int(env.get("CALLS_PER_NUMBER_PER_HOUR", "20")),
        # Linja texts and calls only numbers in these countries (ISO 3166 codes).
        "ALLOWED_COUNTRIES": _countries(env.get("ALLOWED_COUNTRIES", "NO,SE,DK,FI")),
        # The centre's own numbers besides TWILIO_FROM (a messaging service's, the studio's...):
        # Linja never answers, texts or calls them. Any format, comma-separated.
        "CENTRE_NUMBERS": env.get("CENTRE_NUMBERS", ""),
        # Twilio's webhook bodies are a few KiB at most (an SMS body is at most 1600 characters).
        "WEBHOOK_MAX_BYTES": int(env.get("WEBHOOK_MAX_BYTES", str(64 * 1024))),
    }
    # Locally the URL Twilio would call is where `make run` serves.
    public = env.get("PUBLIC_BASE_URL") or local_base_url(config["HOST"], config["PORT"])
    config["PUBLIC_BASE_URL"] = public.rstrip("/")
    if not config["SECRET_KEY"]:
        if is_production:
            raise ConfigError("SECRET_KEY must be set when LINJA_ENV=production")
        config["SECRET_KEY"] = _local_secret_key()
    if not config["TWILIO_AUTH_TOKEN"]:
        if is_production:
            raise ConfigError("TWILIO_AUTH_TOKEN must be set when LINJA_ENV=production")
        # Locally the simulator signs its requests with this token, as Twilio would.
        config["TWILIO_AUTH_TOKEN"] = LOCAL_AUTH_TOKEN
    # Keys of the phone numbers at rest (scheduling.crypto); made once into instance/ locally.
    try:
        keys = crypto.keys_from_env(env)
    except (crypto.MissingPhoneKeys, ValueError) as error:
        raise ConfigError(str(error)) from None
    config["PHONE_KEYS"] = ",".join(keys.fernet_keys)
    config["PHONE_HASH_KEY"] = keys.hash_key
    if not 0 < config["TWILIO_TIMEOUT_SECONDS"] <= config["OUTBOX_LEASE_SECONDS"] / 2:
        raise ConfigError(
            f"OUTBOX_LEASE_SECONDS ({config['OUTBOX_LEASE_SECONDS']}) must be at least twice "
            f"TWILIO_TIMEOUT_SECONDS ({config['TWILIO_TIMEOUT_SECONDS']:g}), which must be more than 0: "
            "a text must be sent or given up before another worker may take it over")
    try:
        config["CENTRE_NUMBERS"] = parse_numbers(config["CENTRE_NUMBERS"], config["DEFAULT_PHONE_REGION"])
    except ValueError as error:
        raise ConfigError(f"CENTRE_NUMBERS: {error}") from None
    for name in ("REPLIES_PER_NUMBER_PER_HOUR", "REPLIES_PER_MINUTE", "CALLS_PER_NUMBER_PER_HOUR"):
        if config[name] < 0:
            raise ConfigError(f"{name} must be 0 (no limit) or more")
    if config["RETENTION_DAYS"] < 1:
        raise ConfigError("RETENTION_DAYS must be at least 1")
    if {"nb", "en"} & set(config["VOICES_OFF"]):
        # hotline.voices.FALLBACK_VOICES: they speak for every language without a voice.
        raise ConfigError("VOICES_OFF cannot name nb or en: their voices speak for the languages that have none")
    _check_signature(config["SMS_SIGNATURE"], config["SENSITIVE_WORDS"])
    if is_production and not env.get("DATABASE_URL"):
        raise ConfigError("DATABASE_URL must be set when LINJA_ENV=production")
    return config


def _check_signature(signature: str, sensitive_words: tuple[str, ...]) -> None:
    """A sign-off shows on her locked screen: it must pass the same discretion check as
    every caller text, and stay short."""
    if not signature:
        return
    from hotline.discretion import sensitive_words_in

    if len(signature) > SMS_SIGNATURE_MAX:
        raise ConfigError(f"SMS_SIGNATURE is longer than {SMS_SIGNATURE_MAX} characters")
    found = sensitive_words_in(signature, sensitive_words)
    if found:
        raise ConfigError(f"SMS_SIGNATURE contains a sensitive word ({', '.join(found)}): texts must stay discreet")


def _local_secret_key() -> str:
    """A random key kept in instance/, so local sessions survive a restart."""
    path = INSTANCE / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        INSTANCE.mkdir(exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key
