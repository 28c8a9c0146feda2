"""Proof of origin: a signed C2PA manifest in every export whose format the C2PA library
(c2pa-python) can write one into: MP4, GIF and each frame of a PNG-frames folder with
c2pa-python 0.38 (``signable_formats``).

The manifest says a trained model made the clip: a ``c2pa.created`` action with the IPTC
digital source type ``trainedAlgorithmicMedia``, the model, the software (Sora Desktop and its
version) and, unless the user turned it off, the prompt. It is signed with the user's own
certificate + key (Settings) or with a per-install certificate made on first use: c2pa-rs
refuses a self-signed end-entity certificate, so the install gets a small local CA and an
end-entity signing certificate issued by it (ES256, key usage digitalSignature, extended key
usage emailProtection + documentSigning), both kept in ``<data>/provenance/`` with 0600
permissions. Signing writes a temporary file beside the export that replaces it only once it
is complete (a PNG-frames folder: every frame signed first, then all replaced); a failure
leaves the unsigned export in place and returns a warning.

Which formats are signed is read from the library, not written here: our export formats
(core/export_settings.py) whose media type ``c2pa.Builder.get_supported_mime_types()`` lists.
WebM is not signed today because c2pa-rs cannot write it; a c2pa that can signs it with no
change here. No claim thumbnail is embedded: validation does not need it, and it made
signing a 24-frame 512 px GIF ~100x slower (2.4 s) and a folder of PNG frames ~17x slower and
12x larger in added bytes (``bench/bench_provenance.py``)."""

from __future__ import annotations

import datetime as _dt
import functools
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_desktop import __version__
from sora_desktop.core.export_settings import EXPORT_FORMATS
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.export.metadata import SOFTWARE

log = logging.getLogger(__name__)

# each export format's media type (a fact about the format); the C2PA library is asked which
# of them it can write a manifest into (``signable_formats``)
FORMAT_MIME: dict[str, str] = {
    "mp4": "video/mp4",
    "webm": "video/webm",
    "gif": "image/gif",
    "png": "image/png",  # PNG frames: each frame of the folder is signed
}
assert set(FORMAT_MIME) == set(EXPORT_FORMATS)
# the library's settings for every signature: no claim thumbnail (see the module's note)
_SIGN_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}
SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ASSERTION_LABEL = "org.soradesktop.generation"
CERT_FOLDER = "provenance"
CA_CERT, CA_KEY = "local-ca.pem", "local-ca.key"
SIGN_CERT, SIGN_KEY = "signing.pem", "signing.key"
_CERT_YEARS = 10
# what a warning says when an export could not be signed (the export dialog recognises it)
NOT_SIGNED = "was exported but not signed (no proof-of-origin manifest)"


@functools.cache
def signable_formats() -> tuple[str, ...]:
    """Our export formats that the installed C2PA library can write a manifest into, in the
    order of ``EXPORT_FORMATS``; () when the library is missing or cannot say."""
    try:
        import c2pa

        supported = {str(m).lower() for m in c2pa.Builder.get_supported_mime_types()}
    except Exception:  # noqa: BLE001 - no library (or a broken one): nothing is signable
        log.warning("the C2PA library cannot be used; exports are not signed", exc_info=True)
        return ()
    return tuple(f for f in EXPORT_FORMATS if FORMAT_MIME[f] in supported)


def can_sign(fmt: str) -> bool:
    """Whether an export in ``fmt`` gets a proof-of-origin manifest."""
    return fmt in signable_formats()


def __getattr__(name: str) -> Any:  # SIGNABLE_FORMATS: read from the library when first asked
    if name == "SIGNABLE_FORMATS":
        return signable_formats()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ProvenanceError(Exception):
    """Signing or reading a manifest failed; the message is meant for the user."""


@dataclass(frozen=True)
class ProvenanceOptions:
    """How exports are signed: with the prompt or not, with whose certificate."""

    include_prompt: bool = True
    cert_path: str | None = None  # the user's certificate chain (PEM); None: per-install
    key_path: str | None = None  # its private key (PEM)
    data_dir: str | None = None  # where the per-install certificate lives (None: app data)

    @classmethod
    def from_settings(cls, settings: Any) -> ProvenanceOptions:
        return cls(
            include_prompt=bool(getattr(settings, "provenance_prompt", True)),
            cert_path=getattr(settings, "provenance_cert", None) or None,
            key_path=getattr(settings, "provenance_key", None) or None,
        )


@dataclass(frozen=True)
class ProvenanceSummary:
    """What ``read_provenance`` found in a file."""

    valid: bool  # the manifest is intact and its signature checks (trust aside)
    state: str  # c2pa's validation state ("Valid", "Trusted", "Invalid")
    problems: tuple[str, ...]  # failure codes, e.g. "assertion.bmffHash.mismatch"
    action: str | None
    source_type: str | None
    model: str | None
    software: str | None
    prompt: str | None
    seed: int | None
    signer: str | None

    def lines(self) -> list[str]:
        """A plain summary, one fact a line (the CLI prints it)."""
        verdict = "valid" if self.valid else "INVALID (" + ", ".join(self.problems) + ")"
        out = [
            f"manifest: {verdict}",
            f"action: {self.action or '-'}",
            f"source: {self.source_type or '-'}",
            f"model: {self.model or '-'}",
            f"software: {self.software or '-'}",
        ]
        out.append(
            f"prompt: {self.prompt}" if self.prompt is not None else "prompt: (not included)"
        )
        if self.seed is not None:
            out.append(f"seed: {self.seed}")
        out.append(f"signed by: {self.signer or '-'}")
        return out


# ---------------------------------------------------------------------------------------------
#                                    certificates
# ---------------------------------------------------------------------------------------------


def _default_data_dir() -> Path:
    from sora_desktop.core.settings import default_paths

    return default_paths().data


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file readable by its owner only (0600 from the start)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_certificate(data_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """The per-install signing certificate chain and key, made on first use and reused after:
    ``(<data>/provenance/signing.pem, <data>/provenance/signing.key)``."""
    folder = Path(data_dir) if data_dir is not None else _default_data_dir()
    folder = folder / CERT_FOLDER
    cert, key = folder / SIGN_CERT, folder / SIGN_KEY
    if cert.is_file() and key.is_file():
        return cert, key
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=5)
    until = now + _dt.timedelta(days=365 * _CERT_YEARS)
    host = os.uname().nodename if hasattr(os, "uname") else "this computer"

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{SOFTWARE} (local install)"),
            ]
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"{SOFTWARE} local CA ({host})")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    ee_key = ec.generate_private_key(ec.SECP256R1())
    ee_cert = (
        x509.CertificateBuilder()
        .subject_name(name(f"{SOFTWARE} exports ({host})"))
        .issuer_name(ca_name)
        .public_key(ee_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.EMAIL_PROTECTION, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def pem_key(k: ec.EllipticCurvePrivateKey) -> bytes:
        return k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    pem = serialization.Encoding.PEM
    _write_private(folder / CA_KEY, pem_key(ca_key))
    _write_private(folder / CA_CERT, ca_cert.public_bytes(pem))
    _write_private(key, pem_key(ee_key))
    # the chain c2pa wants: the end-entity certificate first, then its issuer
    _write_private(cert, ee_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    log.info("made the per-install signing certificate in %s", folder)
    return cert, key


def _signer_files(options: ProvenanceOptions) -> tuple[Path, Path]:
    if options.cert_path or options.key_path:
        if not (options.cert_path and options.key_path):
            raise ProvenanceError("your own certificate needs both a certificate and a key file")
        cert, key = Path(options.cert_path), Path(options.key_path)
        for p in (cert, key):
            if not p.is_file():
                raise ProvenanceError(f"the signing file {p} does not exist (Settings)")
        return cert, key
    return install_certificate(options.data_dir)


# ---------------------------------------------------------------------------------------------
#                                      signing
# ---------------------------------------------------------------------------------------------


def manifest_definition(request: GenerationRequest | None, include_prompt: bool) -> dict:
    """The manifest written into an export (without the signature)."""
    software = f"{SOFTWARE} {__version__}"
    params: dict[str, Any] = {}
    generation: dict[str, Any] = {"software": software}
    if request is not None:
        params["model"] = request.model_id
        generation.update(model=request.model_id, seed=request.seed)
        if include_prompt:
            params["prompt"] = request.prompt
            generation["prompt"] = request.prompt
    action = {
        "action": "c2pa.created",
        "digitalSourceType": SOURCE_TYPE,
        "softwareAgent": {"name": SOFTWARE, "version": __version__},
    }
    if params:
        action["parameters"] = params
    return {
        "claim_generator_info": [{"name": SOFTWARE, "version": __version__}],
        "title": "Sora Desktop export",
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [action]}},
            {"label": ASSERTION_LABEL, "data": generation},
        ],
    }


def export_format(path: str | os.PathLike) -> str | None:
    """The export format of the file or PNG-frames folder at ``path`` (None: not ours)."""
    from sora_desktop.core.export_settings import SUFFIX_FORMATS

    p = Path(path)
    if p.is_dir():
        return "png"
    return SUFFIX_FORMATS.get(p.suffix.lower())


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The PNG frames of a PNG-frames export, in order."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() == ".png" and p.is_file())


def sign_export(
    path: str | os.PathLike,
    request: GenerationRequest | None,
    options: ProvenanceOptions | None = None,
) -> str | None:
    """Sign the export at ``path`` in place (a PNG-frames folder: every frame). Returns None
    when signed (or when its format cannot carry a manifest: ``can_sign``), else a one-line
    warning: the unsigned export is kept as it was."""
    target = Path(path)
    fmt = export_format(target)
    if fmt is None or not can_sign(fmt):
        return None
    files = frame_files(target) if fmt == "png" else [target]
    options = options or ProvenanceOptions()
    temps: list[Path] = []
    try:
        import c2pa

        cert, key = _signer_files(options)
        info = c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ES256, cert.read_bytes(), key.read_bytes(), None
        )
        definition = json.dumps(manifest_definition(request, options.include_prompt))
        with c2pa.Signer.from_info(info) as signer, c2pa.Context.from_dict(_SIGN_SETTINGS) as ctx:
            for file in files:  # each signed into a temporary file beside it
                fd, name = tempfile.mkstemp(
                    prefix=f".{file.name}.", suffix=".c2pa", dir=file.parent
                )
                os.close(fd)
                temps.append(Path(name))
                with c2pa.Builder(definition, ctx) as builder:
                    with open(file, "rb") as src, open(temps[-1], "w+b") as dst:
                        builder.sign(signer, FORMAT_MIME[fmt], src, dst)
                os.chmod(temps[-1], os.stat(file).st_mode & 0o777)
        for file, tmp in zip(files, temps, strict=True):  # all signed: now they replace
            os.replace(tmp, file)
        temps = []
        return None
    except Exception as exc:  # noqa: BLE001 - any failure leaves the export as it was
        log.warning("could not sign %s", target, exc_info=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{target.name} {NOT_SIGNED}: {reason}"
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
#                                      reading
# ---------------------------------------------------------------------------------------------

# failures that only say the signer is not on a public trust list: expected for a local install
_TRUST_CODES = {"signingCredential.untrusted"}


def read_provenance(path: str | os.PathLike) -> ProvenanceSummary | None:
    """The manifest in ``path`` (None: the file has none). ``ProvenanceError`` when the file
    cannot be read at all."""
    p = Path(path)
    if not p.is_file():
        raise ProvenanceError(f"{p} is not a file")
    try:
        import c2pa

        reader = c2pa.Reader.try_create(str(p))
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
    except ImportError as exc:
        raise ProvenanceError("the C2PA library (c2pa-python) is not installed") from exc
    except Exception as exc:  # noqa: BLE001 - c2pa's errors are its own classes
        unsupported = getattr(getattr(c2pa, "C2paError", None), "NotSupported", ())
        if isinstance(exc, unsupported):  # e.g. WebM: the library cannot read it at all
            raise ProvenanceError(
                f"{p.name} is a kind of file that can't carry proof of origin (C2PA), "
                "so there is nothing to check"
            ) from exc
        raise ProvenanceError(f"cannot read the manifest of {p.name}: {exc}") from exc
    manifest = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    problems = _failure_codes(store)
    action = source = software = model = prompt = seed = None
    for assertion in manifest.get("assertions", []):
        label, data = assertion.get("label", ""), assertion.get("data", {})
        if label.startswith("c2pa.actions"):
            for act in data.get("actions", []):
                if act.get("action") == "c2pa.created":
                    action, source = act["action"], act.get("digitalSourceType")
                    agent = act.get("softwareAgent") or {}
                    if isinstance(agent, dict) and agent.get("name"):
                        software = f"{agent['name']} {agent.get('version', '')}".strip()
        elif label == ASSERTION_LABEL:
            model, prompt, seed = data.get("model"), data.get("prompt"), data.get("seed")
            software = software or data.get("software")
    signer = (manifest.get("signature_info") or {}).get("common_name") or (
        manifest.get("signature_info") or {}
    ).get("issuer")
    return ProvenanceSummary(
        valid=not problems,
        state=str(store.get("validation_state", "")),
        problems=tuple(problems),
        action=action,
        source_type=source,
        model=model,
        software=software,
        prompt=prompt,
        seed=seed,
        signer=signer,
    )


def _failure_codes(store: dict) -> list[str]:
    codes: list[str] = []
    results = store.get("validation_results") or {}
    active = results.get("activeManifest") or {}
    failures = list(active.get("failure", []))
    for ingredient in results.get("ingredientDeltas", []) or []:
        failures += (ingredient.get("validationDeltas") or {}).get("failure", [])
    if not results:
        failures = list(store.get("validation_status") or [])
    for item in failures:
        code = item.get("code", "")
        if code and code not in _TRUST_CODES:
            codes.append(code)
    return codes
