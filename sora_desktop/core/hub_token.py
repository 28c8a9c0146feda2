"""The hub access token (for gated models), kept out of settings.json.

It is stored in the system keyring (Keychain, Credential Manager, Secret Service) through
``keyring``. Where no keyring is available (a bare Linux session), it goes to huggingface_hub's
own token store (``~/.cache/huggingface/token``, readable by the owner only), which is where
``hf auth login`` puts it too. huggingface_hub sends that stored token by itself, so the
downloader asks ``load_token`` only to know whether one is set.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

SERVICE = "sora-desktop"
USERNAME = "huggingface-token"


class TokenStoreError(RuntimeError):
    """The token could not be stored or removed; ``str(exc)`` is a message for the user."""


def _keyring():
    """The keyring module when a real (not the 'fail') backend is available, else None."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring set-up is the same as none
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return None
    return keyring


def _check(token: str) -> str:
    token = token.strip()
    if not token or any(c.isspace() or ord(c) < 32 for c in token) or len(token) > 4096:
        raise ValueError("access token: must be one word without spaces, e.g. hf_…")
    return token


def where() -> str:
    """Where a saved token lives, in words (for the Settings dialog)."""
    return "the system keyring" if _keyring() is not None else "huggingface_hub's token file"


def save_token(token: str) -> str:
    """Store ``token``; returns where it went. ValueError for a malformed token."""
    token = _check(token)
    kr = _keyring()
    if kr is not None:
        try:
            kr.set_password(SERVICE, USERNAME, token)
            return where()
        except Exception as exc:  # noqa: BLE001 - keyring errors vary by backend
            log.warning("keyring refused the token (%s); using huggingface_hub's store", exc)
    try:
        from pathlib import Path

        from huggingface_hub import constants
        from huggingface_hub.utils._auth import _write_secret

        _write_secret(Path(constants.HF_TOKEN_PATH), token)
    except (ImportError, OSError) as exc:
        raise TokenStoreError(f"The access token could not be saved: {exc}") from exc
    return "huggingface_hub's token file"


def load_token() -> str | None:
    """The saved token (keyring first, then huggingface_hub's store), or None."""
    kr = _keyring()
    if kr is not None:
        try:
            token = kr.get_password(SERVICE, USERNAME)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not read the keyring: %s", exc)
            token = None
        if token:
            return token
    try:
        from huggingface_hub import get_token
    except ImportError:
        return None
    try:
        return get_token()
    except Exception:  # noqa: BLE001 - an unreadable token file is the same as none
        return None


def delete_token() -> None:
    """Forget the token Sora Desktop saved (from the keyring; without one, from huggingface_hub's
    token file, which is where ``save_token`` put it)."""
    kr = _keyring()
    if kr is not None:
        try:
            kr.delete_password(SERVICE, USERNAME)
        except Exception:  # noqa: BLE001 - nothing stored there
            pass
        return
    try:
        from pathlib import Path

        from huggingface_hub import constants

        Path(constants.HF_TOKEN_PATH).unlink(missing_ok=True)
    except (ImportError, OSError) as exc:
        raise TokenStoreError(f"The access token could not be removed: {exc}") from exc
