"""Proof of origin: a signed C2PA manifest in every exported MP4 (c2pa-python).

The manifest says a trained model made the clip: a ``c2pa.created`` action with the IPTC
digital source type ``trainedAlgorithmicMedia``, the model, the software (Sora Desktop and its
version) and, unless the user turned it off, the prompt. It is signed with the user's own
certificate + key (Settings) or with a per-install certificate made on first use: c2pa-rs
refuses a self-signed end-entity certificate, so the install gets a small local CA and an
end-entity signing certificate issued by it (ES256, key usage digitalSignature, extended key
usage emailProtection + documentSigning), both kept in ``<data>/provenance/`` with 0600
permissions. Signing writes a temporary file beside the export that replaces it only once it
is complete; a failure leaves the unsigned export in place and returns a warning.

WebM is not signed: the C2PA library has no WebM support (``SIGNABLE_FORMATS``)."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_desktop import __version__
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.export.metadata import SOFTWARE

log = logging.getLogger(__name__)

# the formats whose exports carry a manifest (c2pa-rs reads and writes no WebM, GIF is not video)
SIGNABLE_FORMATS = ("mp4",)
MIME = {"mp4": "video/mp4"}
SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ASSERTION_LABEL = "org.soradesktop.generation"
CERT_FOLDER = "provenance"
CA_CERT, CA_KEY = "local-ca.pem", "local-ca.key"
SIGN_CERT, SIGN_KEY = "signing.pem", "signing.key"
_CERT_YEARS = 10


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


def sign_export(
    path: str | os.PathLike,
    request: GenerationRequest | None,
    options: ProvenanceOptions | None = None,
) -> str | None:
    """Sign the export at ``path`` in place. Returns None when signed (or when its format
    cannot carry a manifest), else a one-line warning: the unsigned export is kept as it was."""
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in SIGNABLE_FORMATS:
        return None
    options = options or ProvenanceOptions()
    tmp: Path | None = None
    try:
        import c2pa

        cert, key = _signer_files(options)
        info = c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ES256, cert.read_bytes(), key.read_bytes(), None
        )
        definition = manifest_definition(request, options.include_prompt)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".c2pa", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(json.dumps(definition)) as b:
            with open(target, "rb") as src, open(tmp, "w+b") as dst:
                b.sign(signer, MIME[fmt], src, dst)
        os.chmod(tmp, os.stat(target).st_mode & 0o777)
        os.replace(tmp, target)
        tmp = None
        return None
    except Exception as exc:  # noqa: BLE001 - any failure leaves the export as it was
        log.warning("could not sign %s", target, exc_info=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{target.name} was exported but not signed (no proof-of-origin manifest): {reason}"
    finally:
        if tmp is not None:
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
