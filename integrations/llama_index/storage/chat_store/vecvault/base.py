"""LlamaIndex chat stores on a sealed key-value namespace of a vault: one sealed entry per chat key.

- :class:`VecVaultChatStore` is a ``BaseChatStore`` (``SimpleChatStore``'s interface), for
  ``ChatMemoryBuffer.from_defaults(chat_store=..., chat_store_key=...)``.
- :class:`VecVaultDBChatStore` is an ``AsyncDBChatStore`` (``SQLAlchemyChatStore``'s interface: active and
  archived messages), for ``Memory.from_defaults(session_id=..., chat_store=...)``: the agent's short-term
  chat then lives sealed in the same vault as its ``VectorMemoryBlock``'s vectors.

Both store each chat key (a user or session id, sealed too) as one entry whose value is the key's messages
(``ChatMessage.model_dump(mode="json")``, with a status), read and rewritten whole in one transaction per
change (:class:`vecvault.integration.MessageLog`). Deleting a key removes its ciphertext from the files.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.storage.chat_store.base import BaseChatStore
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus

from vecvault import ConfigurationError, IntegrityError, Vault
from vecvault.integration import MessageLog, VaultOwner
from vecvault.keys.base import KeyProvider

__all__ = ["DEFAULT_CHAT_STORE_NAMESPACE", "DEFAULT_MEMORY_NAMESPACE", "VecVaultChatStore", "VecVaultDBChatStore"]

DEFAULT_CHAT_STORE_NAMESPACE = "llama_index/chat_store"
DEFAULT_MEMORY_NAMESPACE = "llama_index/memory"

_Entry = dict[str, Any]


def _entry(message: object, status: MessageStatus, index: int = 0) -> _Entry:
    if not isinstance(message, ChatMessage):
        raise ConfigurationError(
            f"messages[{index}] is a {type(message).__name__}, not a LlamaIndex ChatMessage; wrap it: "
            "ChatMessage(role=..., content=...)."
        )
    return {"status": status.value, "message": message.model_dump(mode="json")}


def _message(entry: _Entry) -> ChatMessage:
    try:
        return ChatMessage.model_validate(entry["message"])
    except ValueError:
        raise IntegrityError("A stored chat message is not one LlamaIndex wrote; run `vecvault verify`.") from None


def _log(vault: Vault, namespace: str) -> MessageLog:
    return MessageLog(vault.kv(namespace))


class VecVaultChatStore(VaultOwner, BaseChatStore):
    """LlamaIndex ``BaseChatStore`` sealed in a vecvault vault (chat keys sealed too).

    ```python
    import os
    from llama_index.core.llms import ChatMessage
    from llama_index.core.memory import ChatMemoryBuffer
    from vecvault import Vault
    from llama_index.storage.chat_store.vecvault import VecVaultChatStore

    with Vault.open("chat-store-example.db", key=os.urandom(32)) as vault:
        chat_store = VecVaultChatStore(vault=vault)
        memory = ChatMemoryBuffer.from_defaults(chat_store=chat_store, chat_store_key="user-1")
        memory.put(ChatMessage(role="user", content="my private question"))
        assert chat_store.get_messages("user-1")[0].content == "my private question"
    ```

    ``VecVaultChatStore.from_params(path=..., key=...)`` opens (and owns: ``close()``) a vault.
    """

    namespace: str = Field(default=DEFAULT_CHAT_STORE_NAMESPACE, description="The vault's key-value namespace.")

    _vault: Vault = PrivateAttr()
    _owns_vault: bool = PrivateAttr(default=False)
    _log: MessageLog = PrivateAttr()

    def __init__(
        self,
        *,
        vault: Vault | None = None,
        path: str | os.PathLike[str] | None = None,
        key: KeyProvider | bytes | None = None,
        namespace: str = DEFAULT_CHAT_STORE_NAMESPACE,
        **open_options: Any,
    ) -> None:
        """Use an open vault (``vault=``, never closed here) or open one (``path=``, ``key=``: :meth:`close`)."""
        super().__init__(namespace=namespace)  # type: ignore[call-arg]
        self._attach("VecVaultChatStore", vault, path, key, open_options.pop("file_encryption", None), open_options)
        try:
            self._log = _log(self._vault, namespace)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_params(
        cls,
        path: str | os.PathLike[str],
        key: KeyProvider | bytes | None = None,
        namespace: str = DEFAULT_CHAT_STORE_NAMESPACE,
        **open_options: Any,
    ) -> VecVaultChatStore:
        """Open (or create) a vault at ``path``; :meth:`close` closes it."""
        return cls(path=path, key=key, namespace=namespace, **open_options)

    @classmethod
    def class_name(cls) -> str:
        """The LlamaIndex component name."""
        return "VecVaultChatStore"

    def set_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Replace a key's messages."""
        entries = [_entry(m, MessageStatus.ACTIVE, i) for i, m in enumerate(messages)]

        def replace(stored: list[_Entry]) -> None:
            stored[:] = entries

        self._log.update(key, replace)

    def get_messages(self, key: str) -> list[ChatMessage]:
        """A key's messages, oldest first (empty for an unknown key)."""
        return [_message(e) for e in self._log.entries(key)]

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Append a message (or insert it at ``idx``)."""
        entry = _entry(message, MessageStatus.ACTIVE)

        def add(stored: list[_Entry]) -> None:
            if idx is None:
                stored.append(entry)
            else:
                stored.insert(idx, entry)

        self._log.update(key, add)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        """Delete a key and return its messages (None if it had none)."""

        def take(stored: list[_Entry]) -> list[ChatMessage] | None:
            if not stored:
                return None
            out = [_message(e) for e in stored]
            stored.clear()
            return out

        return self._log.update(key, take)

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete and return the message at ``idx`` (None if there is none)."""

        def take(stored: list[_Entry]) -> ChatMessage | None:
            if not -len(stored) <= idx < len(stored):
                return None
            return _message(stored.pop(idx))

        return self._log.update(key, take)

    def delete_last_message(self, key: str) -> ChatMessage | None:
        """Delete and return the last message (None if there is none)."""
        return self.delete_message(key, -1)

    def get_keys(self) -> list[str]:
        """Every chat key (opens every key of the namespace: they are sealed)."""
        return self._log.sessions()

    async def aset_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Async :meth:`set_messages` (in a worker thread)."""
        await asyncio.to_thread(self.set_messages, key, messages)

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        """Async :meth:`get_messages`."""
        return await asyncio.to_thread(self.get_messages, key)

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Async :meth:`add_message`."""
        await asyncio.to_thread(self.add_message, key, message, idx)

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        """Async :meth:`delete_messages`."""
        return await asyncio.to_thread(self.delete_messages, key)

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Async :meth:`delete_message`."""
        return await asyncio.to_thread(self.delete_message, key, idx)

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        """Async :meth:`delete_last_message`."""
        return await asyncio.to_thread(self.delete_last_message, key)

    async def aget_keys(self) -> list[str]:
        """Async :meth:`get_keys`."""
        return await asyncio.to_thread(self.get_keys)


class VecVaultDBChatStore(VaultOwner, AsyncDBChatStore):
    """The ``AsyncDBChatStore`` of ``llama_index.core.memory.Memory``, sealed in a vecvault vault.

    ```python
    import os
    from llama_index.core.memory import Memory
    from vecvault import Vault
    from llama_index.storage.chat_store.vecvault import VecVaultDBChatStore

    with Vault.open("memory-example.db", key=os.urandom(32)) as vault:
        memory = Memory.from_defaults(session_id="agent-1", chat_store=VecVaultDBChatStore(vault=vault))
    ```

    Messages are active (the short-term queue) or archived (flushed into memory blocks), as in
    ``SQLAlchemyChatStore``. ``delete_message(key, idx)`` takes the message's position among all of the
    key's messages, oldest first (``SQLAlchemyChatStore`` takes its row id).
    """

    namespace: str = Field(default=DEFAULT_MEMORY_NAMESPACE, description="The vault's key-value namespace.")

    _vault: Vault = PrivateAttr()
    _owns_vault: bool = PrivateAttr(default=False)
    _log: MessageLog = PrivateAttr()

    def __init__(
        self,
        *,
        vault: Vault | None = None,
        path: str | os.PathLike[str] | None = None,
        key: KeyProvider | bytes | None = None,
        namespace: str = DEFAULT_MEMORY_NAMESPACE,
        **open_options: Any,
    ) -> None:
        """Use an open vault (``vault=``, never closed here) or open one (``path=``, ``key=``: :meth:`close`)."""
        super().__init__(namespace=namespace)  # type: ignore[call-arg]
        self._attach("VecVaultDBChatStore", vault, path, key, open_options.pop("file_encryption", None), open_options)
        try:
            self._log = _log(self._vault, namespace)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_params(
        cls,
        path: str | os.PathLike[str],
        key: KeyProvider | bytes | None = None,
        namespace: str = DEFAULT_MEMORY_NAMESPACE,
        **open_options: Any,
    ) -> VecVaultDBChatStore:
        """Open (or create) a vault at ``path``; :meth:`close` closes it."""
        return cls(path=path, key=key, namespace=namespace, **open_options)

    @classmethod
    def class_name(cls) -> str:
        """The LlamaIndex component name."""
        return "VecVaultDBChatStore"

    # -- the shared logic, synchronous; the async methods run it in a worker thread ----------------------

    def _get(self, key: str, status: MessageStatus | None, limit: int | None, offset: int | None) -> list[ChatMessage]:
        entries = [e for e in self._log.entries(key) if status is None or e["status"] == status.value]
        start = offset or 0
        chosen = entries[start:] if limit is None else entries[start : start + limit]
        return [_message(e) for e in chosen]

    def _add(self, key: str, messages: list[ChatMessage], status: MessageStatus) -> None:
        entries = [_entry(m, MessageStatus(status), i) for i, m in enumerate(messages)]
        if entries:
            self._log.update(key, lambda stored: stored.extend(entries))

    def _set(self, key: str, messages: list[ChatMessage], status: MessageStatus) -> None:
        entries = [_entry(m, MessageStatus(status), i) for i, m in enumerate(messages)]

        def replace(stored: list[_Entry]) -> None:
            stored[:] = entries

        self._log.update(key, replace)

    def _delete_at(self, key: str, idx: int) -> ChatMessage | None:
        def take(stored: list[_Entry]) -> ChatMessage | None:
            if not 0 <= idx < len(stored):
                return None
            return _message(stored.pop(idx))

        return self._log.update(key, take)

    def _delete_all(self, key: str, status: MessageStatus | None) -> None:
        if status is None:
            self._log.delete(key)
            return

        def drop(stored: list[_Entry]) -> None:
            stored[:] = [e for e in stored if e["status"] != status.value]

        self._log.update(key, drop)

    def _oldest(self, key: str, n: int, *, archive: bool) -> list[ChatMessage]:
        def take(stored: list[_Entry]) -> list[ChatMessage]:
            picked = [i for i, e in enumerate(stored) if e["status"] == MessageStatus.ACTIVE.value][: max(n, 0)]
            out = [_message(stored[i]) for i in picked]
            if archive:
                for i in picked:
                    stored[i] = {**stored[i], "status": MessageStatus.ARCHIVED.value}
            else:
                chosen = set(picked)
                stored[:] = [e for i, e in enumerate(stored) if i not in chosen]
            return out

        return self._log.update(key, take)

    # -- AsyncDBChatStore ---------------------------------------------------------------------------------

    async def get_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[ChatMessage]:
        """A key's messages with ``status`` (any if None), oldest first, from ``offset``, at most ``limit``."""
        return await asyncio.to_thread(self._get, key, status, limit, offset)

    async def count_messages(self, key: str, status: MessageStatus | None = MessageStatus.ACTIVE) -> int:
        """How many messages a key has with ``status`` (any if None)."""
        return len(await self.get_messages(key, status=status))

    async def add_message(self, key: str, message: ChatMessage, status: MessageStatus = MessageStatus.ACTIVE) -> None:
        """Append a message."""
        await asyncio.to_thread(self._add, key, [message], status)

    async def add_messages(
        self, key: str, messages: list[ChatMessage], status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        """Append messages in one transaction."""
        await asyncio.to_thread(self._add, key, list(messages), status)

    async def set_messages(
        self, key: str, messages: list[ChatMessage], status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        """Replace every message of a key (whatever its status) with ``messages``."""
        await asyncio.to_thread(self._set, key, list(messages), status)

    async def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete and return the message at position ``idx`` among all of the key's messages."""
        return await asyncio.to_thread(self._delete_at, key, idx)

    async def delete_messages(self, key: str, status: MessageStatus | None = None) -> None:
        """Delete a key's messages with ``status`` (all of them, and the key, if None)."""
        await asyncio.to_thread(self._delete_all, key, status)

    async def delete_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Delete and return the oldest ``n`` active messages."""
        return await asyncio.to_thread(self._oldest, key, n, archive=False)

    async def archive_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        """Mark the oldest ``n`` active messages archived and return them."""
        return await asyncio.to_thread(self._oldest, key, n, archive=True)

    async def get_keys(self) -> list[str]:
        """Every chat key (opens every key of the namespace)."""
        return await asyncio.to_thread(self._log.sessions)
