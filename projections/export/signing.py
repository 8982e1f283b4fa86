"""The bridge's export key: Ed25519 signatures over an export's manifest.

The private key signs every export `livebridge export` writes; an auditor holds the public
key and runs `livebridge verify DIR --key PUBLIC.pem`. Keys are PEM files (PKCS#8 private,
SubjectPublicKeyInfo public) made by `livebridge export-key new --out DIR`.

The private key never lives in the repository nor in `livebridge.toml` (which may be
committed): the `[export]` table of the configuration names a file or an environment
variable that holds the PEM::

    [export]
    signing_key_file = "/etc/livebridge/export-signing-key.pem"
    # or: signing_key_env = "LIVEBRIDGE_EXPORT_SIGNING_KEY"

What is signed: the SHA-256 of each manifest field's canonical JSON, by field name, with
the signer's public key and its id. So a check that holds the right key names each field
changed after signing, and a manifest rewritten and re-signed under another key is told
apart from one whose signature was damaged.

Errors::

    ValueError
    └── ExportKeyError   no key configured, the file or variable is missing, not an Ed25519 key
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from projections.export.chain import Manifest
from projections.export.chain import Signature
from projections.export.chain import canonical
from projections.export.chain import manifest_fields

ALGORITHM = "ed25519"
PRIVATE_FILE = "export-signing-key.pem"
PUBLIC_FILE = "export-public-key.pem"


class ExportKeyError(ValueError):
    """The export key cannot be had: the message says which setting to fix."""


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw(public)).hexdigest()


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _digest(value: object) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def _payload(signature: Signature) -> bytes:
    return canonical(
        {
            "algorithm": signature.algorithm,
            "public_key": signature.public_key,
            "key_id": signature.key_id,
            "fields": signature.fields,
        }
    )


def sign(manifest: Manifest, key: Ed25519PrivateKey) -> Manifest:
    """The manifest with its signature over every other field."""
    public = key.public_key()
    unsigned = Signature(
        algorithm=ALGORITHM,
        public_key=base64.b64encode(_raw(public)).decode("ascii"),
        key_id=key_id(public),
        fields={name: _digest(value) for name, value in manifest_fields(manifest).items()},
        value="",
    )
    value = base64.b64encode(key.sign(_payload(unsigned))).decode("ascii")
    return msgspec.structs.replace(
        manifest, signature=msgspec.structs.replace(unsigned, value=value)
    )


class Origin(enum.Enum):
    """What the signature proves about where an export came from."""

    PROVEN = "signed with the given key"
    NOT_CHECKED = "signed, but no --key was given to check the signer against"
    LEGACY = "unsigned (legacy) export"
    UNSIGNED = "unsigned"
    WRONG_KEY = "signed with another key"
    BAD_SIGNATURE = "bad signature"


@dataclass(frozen=True, slots=True)
class OriginCheck:
    origin: Origin
    detail: str
    changed: tuple[str, ...] = ()
    """Manifest fields whose value is not the one signed (only when the signature holds)."""


def check_signature(manifest: Manifest, trusted: Ed25519PublicKey | None) -> OriginCheck:
    """Who signed the manifest, and which fields changed since (against `trusted` if given)."""
    signature = manifest.signature
    if signature is None:
        return OriginCheck(
            Origin.UNSIGNED,
            "unsigned: the manifest carries no signature, so nothing shows that livebridge "
            "wrote it (livebridge export always signs)",
        )
    if signature.algorithm != ALGORITHM:
        return OriginCheck(
            Origin.BAD_SIGNATURE,
            f"bad signature: algorithm {signature.algorithm!r}, expected {ALGORITHM!r}",
        )
    try:
        claimed = Ed25519PublicKey.from_public_bytes(base64.b64decode(signature.public_key))
        value = base64.b64decode(signature.value, validate=True)
    except (ValueError, binascii.Error):
        return OriginCheck(
            Origin.BAD_SIGNATURE, "bad signature: the signature block is not well formed"
        )
    if key_id(claimed) != signature.key_id:
        return OriginCheck(
            Origin.BAD_SIGNATURE,
            "bad signature: the key id does not belong to the public key in the signature",
        )
    if trusted is not None and _raw(trusted) != _raw(claimed):
        return OriginCheck(
            Origin.WRONG_KEY,
            f"wrong key: the manifest is signed with key {signature.key_id}, not with the "
            f"given key {key_id(trusted)}",
        )
    try:
        (trusted or claimed).verify(value, _payload(signature))
    except InvalidSignature:
        return OriginCheck(
            Origin.BAD_SIGNATURE,
            f"bad signature: the signature block was altered after key {signature.key_id} "
            "signed it",
        )
    fields = manifest_fields(manifest)
    changed = tuple(
        sorted(
            name
            for name in fields.keys() | signature.fields.keys()
            if name not in fields
            or name not in signature.fields
            or _digest(fields[name]) != signature.fields[name]
        )
    )
    if trusted is None:
        return OriginCheck(
            Origin.NOT_CHECKED,
            f"origin not checked: signed with key {signature.key_id}; pass --key with the "
            "bridge's public key to prove the export is its own",
            changed,
        )
    return OriginCheck(Origin.PROVEN, f"signed with key {signature.key_id}", changed)


# -- keys --------------------------------------------------------------------------------


def generate(directory: Path) -> tuple[Path, Path, str]:
    """A new key pair in `directory`: (private key file, public key file, key id).

    The private key file is created readable by its owner only; existing files are never
    overwritten.
    """
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / PRIVATE_FILE, directory / PUBLIC_FILE
    for path in (private_path, public_path):
        if path.exists():
            raise ExportKeyError(f"{path} exists; a key is never overwritten")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(private_pem)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path, key_id(key.public_key())


def private_key_from_pem(data: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ExportKeyError(f"{where}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ExportKeyError(f"{where}: not an Ed25519 key (make one: livebridge export-key new)")
    return key


def public_key_file(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExportKeyError(f"public key {path} unreadable ({exc.strerror})") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise ExportKeyError(f"public key {path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ExportKeyError(f"public key {path}: not an Ed25519 key")
    return key


def signing_key(env: Mapping[str, str]) -> Ed25519PrivateKey:
    """The bridge's export key, found through the `[export]` table of the configuration."""
    config = Path(env.get("LIVEBRIDGE_CONFIG", "livebridge.toml"))
    hint = (
        f'add to {config}: [export] signing_key_file = "..." (or signing_key_env = '
        '"VARIABLE"); make a key pair with: livebridge export-key new --out DIR'
    )
    try:
        document = tomllib.loads(config.read_text())
    except FileNotFoundError:
        raise ExportKeyError(f"no export signing key: {config} not found; {hint}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ExportKeyError(f"{config}: unreadable ({exc})") from None
    section = document.get("export")
    if not isinstance(section, dict):
        raise ExportKeyError(f"no export signing key configured; {hint}")
    if "signing_key" in section:
        raise ExportKeyError(
            f"{config}: keys never go in the configuration file; use signing_key_file or "
            "signing_key_env"
        )
    name, file = section.get("signing_key_env"), section.get("signing_key_file")
    if isinstance(name, str) and name:
        value = env.get(name)
        if not value:
            raise ExportKeyError(
                f"environment variable {name} (signing_key_env in {config}) is not set"
            )
        return private_key_from_pem(value.encode(), f"environment variable {name}")
    if isinstance(file, str) and file:
        path = config.parent / Path(file).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ExportKeyError(
                f"signing_key_file {path} (in {config}) unreadable ({exc.strerror})"
            ) from None
        return private_key_from_pem(data, f"signing_key_file {path}")
    raise ExportKeyError(f"no export signing key configured; {hint}")
