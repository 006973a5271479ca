"""The default key provider: the OS keychain through ``keyring``.

macOS Keychain, Windows Credential Locker, or the Linux Secret Service (GNOME Keyring, KWallet). The entry
holds the standard base64 of the 32-byte master key. A keychain that is missing, locked or failing raises
:class:`~vecvault.errors.KeyUnavailableError`; only a working keychain without the entry raises
:class:`~vecvault.errors.KeyNotFoundError`, so a broken keychain can never lead to a new key.
"""

from __future__ import annotations

import hmac
import json

import keyring
import keyring.backend
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import keyring.errors

from vecvault.errors import ConfigurationError, KeyNotFoundError, KeyUnavailableError
from vecvault.keys._codec import decode_key, encode_key, generate_key, redact
from vecvault.keys.base import MASTER_KEY_BYTES

__all__ = ["DEFAULT_ACCOUNT", "DEFAULT_SERVICE", "REGISTRY_SUFFIX", "KeyringKeyProvider"]

DEFAULT_SERVICE = "vecvault"
DEFAULT_ACCOUNT = "default"
# The entry beside a key that lists the vaults using it: account "<account>.vaults", a JSON object.
REGISTRY_SUFFIX = ".vaults"

ALTERNATIVES = (
    "Use another key provider instead: EnvKeyProvider (set VECVAULT_KEY to a base64 32-byte key), "
    "KeyFileProvider (a 0600 key file), PassphraseKeyProvider (a passphrase-wrapped key file, Argon2id) "
    "or StaticKeyProvider (key bytes passed in code); on the command line: --key-env, --key-file or "
    "--passphrase."
)


def _backend_name(backend: keyring.backend.KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_unusable(backend: keyring.backend.KeyringBackend) -> bool:
    """True for backends that store nothing: the failing one, the null one, or an empty chain."""
    if isinstance(backend, (keyring.backends.fail.Keyring, keyring.backends.null.Keyring)):
        return True
    if isinstance(backend, keyring.backends.chainer.ChainerBackend):
        return not any(not _is_unusable(b) for b in backend.backends)
    return False


class KeyringKeyProvider:
    """Keeps the master key in the OS keychain under ``(service, account)``.

    Instantiate:
        .. code-block:: python

            from vecvault.keys import KeyringKeyProvider

            provider = KeyringKeyProvider()  # service "vecvault", account "default"
            provider = KeyringKeyProvider("vecvault", "notes-vault")

    Args:
        service: the keychain service name.
        account: the account (user name) of the entry; one entry per vault is a good habit.
        keyring_backend: a specific ``keyring`` backend instance; by default the one ``keyring`` selects
            (``keyring.get_keyring()``) at the time of each call.
    """

    def __init__(
        self,
        service: str = DEFAULT_SERVICE,
        account: str = DEFAULT_ACCOUNT,
        *,
        keyring_backend: keyring.backend.KeyringBackend | None = None,
    ) -> None:
        if not service or not account:
            raise ConfigurationError("KeyringKeyProvider needs a non-empty service and account name.")
        if keyring_backend is not None and not isinstance(keyring_backend, keyring.backend.KeyringBackend):
            raise ConfigurationError(
                "keyring_backend must be a keyring.backend.KeyringBackend instance, "
                f"not {type(keyring_backend).__name__}."
            )
        self._service = service
        self._account = account
        self._backend = keyring_backend

    @property
    def service(self) -> str:
        """The keychain service name."""
        return self._service

    @property
    def account(self) -> str:
        """The keychain account name."""
        return self._account

    @property
    def description(self) -> str:
        """Where the key lives: keychain service and account (never the key)."""
        where = f"OS keychain entry service={self._service!r} account={self._account!r}"
        if self._backend is not None:
            where += f" ({_backend_name(self._backend)})"
        return where

    def __repr__(self) -> str:
        backend = "" if self._backend is None else f", keyring_backend={_backend_name(self._backend)}"
        return f"KeyringKeyProvider(service={self._service!r}, account={self._account!r}{backend})"

    # ------------------------------------------------------------------ backend access

    @property
    def _entry(self) -> str:
        return f"service {self._service!r}, account {self._account!r}"

    def _get_backend(self) -> keyring.backend.KeyringBackend:
        if self._backend is not None:
            backend = self._backend
        else:
            try:
                backend = keyring.get_keyring()
            except Exception as exc:
                raise self._unavailable(exc, "select a keychain backend") from exc
        if _is_unusable(backend):
            raise KeyUnavailableError(
                f"No usable OS keychain: keyring selected {_backend_name(backend)}, which stores nothing. "
                "Install or start a keychain (on Linux a Secret Service such as GNOME Keyring or KWallet "
                "running in a D-Bus session), or configure one for keyring "
                "(https://pypi.org/project/keyring). " + ALTERNATIVES
            )
        return backend

    def _unavailable(self, exc: BaseException, action: str, *secrets: bytes | str) -> KeyUnavailableError:
        """Translate a backend failure into an actionable, secret-free KeyUnavailableError."""
        reason = redact(str(exc), *secrets) or type(exc).__name__
        if isinstance(exc, keyring.errors.NoKeyringError):
            return KeyUnavailableError(f"No usable OS keychain to {action} ({self._entry}): {reason}. " + ALTERNATIVES)
        if isinstance(exc, keyring.errors.KeyringLocked) or "locked" in reason.lower():
            return KeyUnavailableError(
                f"The OS keychain is locked, so vecvault cannot {action} ({self._entry}): {reason}. "
                "Unlock it and retry: log in to the desktop session or unlock the keyring in your "
                "keychain manager (Seahorse, KWalletManager, Keychain Access); in a headless session start "
                'it unlocked, e.g. `printf %s "$PASSWORD" | gnome-keyring-daemon --unlock '
                "--components=secrets`. No new key was created. " + ALTERNATIVES
            )
        if isinstance(exc, keyring.errors.InitError):
            return KeyUnavailableError(
                f"The OS keychain could not be initialised to {action} ({self._entry}): {reason}. "
                "Check that the keychain service is running and reachable (on Linux: a Secret Service on "
                "the D-Bus session bus, DBUS_SESSION_BUS_ADDRESS set) and that it has a default collection "
                "it can open without a prompt; in a headless session create and unlock it with "
                '`printf %s "$PASSWORD" | gnome-keyring-daemon --unlock --components=secrets`. '
                "No new key was created. " + ALTERNATIVES
            )
        return KeyUnavailableError(
            f"The OS keychain failed to {action} ({self._entry}): {type(exc).__name__}: {reason}. "
            "Check the keychain and retry. No new key was created. " + ALTERNATIVES
        )

    def _read_entry(self, backend: keyring.backend.KeyringBackend) -> str | None:
        try:
            return backend.get_password(self._service, self._account)
        except Exception as exc:
            raise self._unavailable(exc, "read the master key") from exc

    # ------------------------------------------------------------------ KeyProvider

    def load_key(self) -> bytes:
        """Return the master key stored in the keychain.

        Raises:
            KeyNotFoundError: the keychain works but holds no entry for this service and account.
            KeyUnavailableError: no usable keychain, a locked keychain, any keychain failure, or an entry
                that does not hold a base64 32-byte key.
        """
        backend = self._get_backend()
        stored = self._read_entry(backend)
        if stored is None:
            raise KeyNotFoundError(
                f"No master key in the OS keychain for {self._entry}. An existing vault will NOT get a new "
                "key: its data can only be opened with the key it was created with. Restore the entry "
                "(for example from a backup with `keyring set "
                f"{self._service} {self._account}`, pasting the base64 key), point vecvault at the right "
                "service/account, or use the provider that holds the key (EnvKeyProvider/VECVAULT_KEY, "
                "KeyFileProvider, PassphraseKeyProvider, StaticKeyProvider; --key-env, --key-file, "
                "--passphrase)."
            )
        key = decode_key(stored)
        del stored
        if key is None:
            raise KeyUnavailableError(
                f"The OS keychain entry for {self._entry} does not hold a vecvault master key (expected "
                f"base64 of exactly {MASTER_KEY_BYTES} bytes). Another program may use this entry: choose "
                "another service/account, or restore the entry from your key backup."
            )
        return key

    def create_key(self) -> bytes:
        """Generate a random master key, store it in the keychain and return it.

        The key starts an empty list of the vaults using it (:meth:`registered_vaults`); the vault being
        created registers itself next.

        Raises:
            KeyUnavailableError: an entry already exists (it is never overwritten), or the keychain cannot
                store the key.
        """
        key = self.store_key(generate_key(), overwrite=False)
        self._write_registry(set())
        return key

    # ------------------------------------------------------------------ which vaults use this key

    @property
    def _registry_account(self) -> str:
        return self._account + REGISTRY_SUFFIX

    def registered_vaults(self) -> frozenset[str] | None:
        """The ids (hex) of the vaults created under this entry's key; None when unknown.

        Unknown means the key was stored by an earlier vecvault, or by hand, before the list existed: any
        number of vaults may use it.
        """
        backend = self._get_backend()
        try:
            stored = backend.get_password(self._service, self._registry_account)
        except Exception as exc:
            raise self._unavailable(exc, "read the list of vaults using the master key") from exc
        if stored is None:
            return None
        try:
            value = json.loads(stored)
            vaults = value["vaults"]
        except (ValueError, TypeError, KeyError):
            return None  # a damaged list is treated as unknown: every caller then errs on the safe side
        if not isinstance(vaults, list) or not all(isinstance(v, str) for v in vaults):
            return None
        return frozenset(vaults)

    def register_vault(self, vault_id: str) -> None:
        """Add a vault to this key's list (kept unknown if it is unknown)."""
        known = self.registered_vaults()
        if known is not None and vault_id not in known:
            self._write_registry({*known, vault_id})

    def unregister_vault(self, vault_id: str) -> None:
        """Remove a vault from this key's list (after it moved to another key)."""
        known = self.registered_vaults()
        if known is not None and vault_id in known:
            self._write_registry(set(known) - {vault_id})

    def _write_registry(self, vaults: set[str]) -> None:
        backend = self._get_backend()
        try:
            backend.set_password(self._service, self._registry_account, json.dumps({"vaults": sorted(vaults)}))
        except Exception as exc:
            raise self._unavailable(exc, "record which vaults use the master key") from exc

    def store_key(self, key: bytes, *, overwrite: bool = False) -> bytes:
        """Store ``key`` in the keychain, then read it back to prove the keychain kept it.

        Args:
            key: exactly 32 bytes.
            overwrite: replace an existing entry (master-key rotation). Without it an existing entry is
                never touched.

        Returns:
            ``key``.

        Raises:
            ConfigurationError: ``key`` is not 32 bytes.
            KeyUnavailableError: an entry exists and ``overwrite`` is false, or the keychain failed.
        """
        if not isinstance(key, bytes) or len(key) != MASTER_KEY_BYTES:
            raise ConfigurationError(f"A master key must be exactly {MASTER_KEY_BYTES} bytes.")
        backend = self._get_backend()
        if not overwrite and self._read_entry(backend) is not None:
            raise KeyUnavailableError(
                f"The OS keychain already holds a key for {self._entry}; vecvault never overwrites a key. "
                "Load it instead, or pick another account for a new vault."
            )
        encoded = encode_key(key)
        try:
            backend.set_password(self._service, self._account, encoded)
        except Exception as exc:
            # ``from None``: a backend's own traceback could quote the value it was given.
            raise self._unavailable(exc, "store the master key", key, encoded) from None
        stored = self._read_entry(backend)
        stored_key = decode_key(stored) if stored is not None else None
        if stored_key is None or not hmac.compare_digest(stored_key, key):
            raise KeyUnavailableError(
                f"The OS keychain ({_backend_name(backend)}) did not keep the key stored for {self._entry}: "
                "reading it back gave a different value. Do not use this keychain for vecvault. " + ALTERNATIVES
            )
        return key

    def delete_key(self) -> None:
        """Delete the keychain entry. Every vault sealed under this key becomes unreadable.

        Raises:
            KeyNotFoundError: there is no entry to delete.
            KeyUnavailableError: the keychain failed.
        """
        backend = self._get_backend()
        if self._read_entry(backend) is None:
            raise KeyNotFoundError(f"No master key in the OS keychain for {self._entry}; nothing to delete.")
        try:
            backend.delete_password(self._service, self._account)
            if backend.get_password(self._service, self._registry_account) is not None:
                backend.delete_password(self._service, self._registry_account)
        except Exception as exc:
            raise self._unavailable(exc, "delete the master key") from exc
