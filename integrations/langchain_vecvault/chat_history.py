"""``VecVaultChatMessageHistory``: LangChain chat history sealed in a vault, one session per entry.

Each session is one sealed entry of a key-value namespace (default ``"chat_history"``): its key is the
session id (sealed, found by a keyed blind index), its value the session's messages as LangChain's own
``message_to_dict`` JSON, so every message type round-trips exactly (tool calls, additional kwargs,
response metadata, ids). Deleting a session (``clear``) removes its ciphertext from the files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
from langchain_core.runnables.config import run_in_executor

from langchain_vecvault._convert import redact_location
from vecvault import ConfigurationError, IntegrityError, Vault
from vecvault.integration import MessageLog, VaultOwner
from vecvault.keys.base import KeyProvider
from vecvault.kv import check_keys

__all__ = ["DEFAULT_CHAT_NAMESPACE", "VecVaultChatMessageHistory"]

DEFAULT_CHAT_NAMESPACE = "chat_history"

_ACTIVE = "active"


def _entry(message: object, index: int) -> dict[str, Any]:
    """A message as stored, checked to come back as the same message."""
    if not isinstance(message, BaseMessage):
        raise ConfigurationError(
            f"messages[{index}] is a {type(message).__name__}, not a LangChain message (HumanMessage, AIMessage, "
            "SystemMessage, ToolMessage, ...)."
        )
    data = message_to_dict(message)
    try:
        (back,) = messages_from_dict([data])
    except (ValueError, KeyError, TypeError):
        raise ConfigurationError(
            f"messages[{index}] has the message type {message.type!r}, which LangChain cannot load back; use one "
            "of its message classes (or ChatMessage with a role)."
        ) from None
    if back != message:
        raise ConfigurationError(f"messages[{index}] ({type(message).__name__}) does not survive serialisation.")
    return {"status": _ACTIVE, "message": data}


class VecVaultChatMessageHistory(VaultOwner, BaseChatMessageHistory):
    """LangChain ``BaseChatMessageHistory`` whose messages (and session id) are sealed in a vecvault vault.

    Setup:
        ```bash
        pip install -qU 'vecvault[langchain]'
        ```

    Instantiate:
        ```python
        import os
        from langchain_core.messages import AIMessage, HumanMessage
        from vecvault import Vault
        from langchain_vecvault import VecVaultChatMessageHistory

        vault = Vault.open("chat-example.db", key=os.urandom(32))
        history = VecVaultChatMessageHistory("user-42", vault=vault)
        ```

    Use:
        ```python
        history.add_messages([HumanMessage("my secret plan"), AIMessage("noted")])
        assert [m.content for m in history.messages] == ["my secret plan", "noted"]
        assert VecVaultChatMessageHistory.sessions(vault) == ["user-42"]
        history.clear()
        vault.close()
        ```

    With ``RunnableWithMessageHistory``:
        ``RunnableWithMessageHistory(chain, lambda session_id: VecVaultChatMessageHistory(session_id,
        vault=vault))``.

    Async:
        ``aget_messages``, ``aadd_messages`` and ``aclear`` run the vault calls in a worker thread.
    """

    def __init__(
        self,
        session_id: str,
        *,
        vault: Vault | None = None,
        path: str | os.PathLike[str] | None = None,
        key: KeyProvider | bytes | None = None,
        namespace: str = DEFAULT_CHAT_NAMESPACE,
        file_encryption: bool | None = None,
        **open_options: Any,
    ) -> None:
        """Bind the history to one session of a key-value namespace.

        Args:
            session_id: the conversation (sealed at rest; sessions are separate).
            vault: an open :class:`vecvault.Vault`; never closed by the history.
            path: open a vault here instead; the history owns it and ``close()`` closes it.
            key: the master key for ``path``.
            namespace: the key-value namespace holding the sessions.
            file_encryption: libSQL page encryption for ``path``.
            **open_options: more options of ``Vault.open`` for ``path``.

        Raises:
            ConfigurationError: a session id that is not a str, or the vault arguments are wrong.
        """
        (self.session_id,) = check_keys([session_id], "session id")
        self._attach("VecVaultChatMessageHistory", vault, path, key, file_encryption, open_options)
        try:
            self._log = MessageLog(self._vault.kv(namespace))
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"VecVaultChatMessageHistory({redact_location(self._vault.location)!r}, namespace={self.namespace!r})"

    @property
    def namespace(self) -> str:
        """The key-value namespace holding the sessions."""
        return self._log.store.namespace

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The session's messages, oldest first."""
        data = [e["message"] for e in self._log.entries(self.session_id) if e["status"] == _ACTIVE]
        try:
            return messages_from_dict(data)
        except (ValueError, KeyError, TypeError):
            raise IntegrityError("A stored chat message is not one LangChain wrote; run `vecvault verify`.") from None

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages in one transaction (all or none).

        Raises:
            ConfigurationError: an item is not a LangChain message, or one whose type cannot be loaded
                back; nothing is stored.
        """
        if isinstance(messages, BaseMessage):
            raise ConfigurationError("add_messages takes a list of messages; wrap it: [message].")
        entries = [_entry(m, i) for i, m in enumerate(messages)]
        if entries:
            self._log.update(self.session_id, lambda stored: stored.extend(entries))

    def clear(self) -> None:
        """Delete the session (its ciphertext leaves the files)."""
        self._log.delete(self.session_id)

    async def aget_messages(self) -> list[BaseMessage]:
        """Async :attr:`messages` (in a worker thread)."""
        return await run_in_executor(None, lambda: self.messages)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Async :meth:`add_messages` (in a worker thread)."""
        await run_in_executor(None, self.add_messages, messages)

    async def aclear(self) -> None:
        """Async :meth:`clear` (in a worker thread)."""
        await run_in_executor(None, self.clear)

    @staticmethod
    def sessions(vault: Vault, namespace: str = DEFAULT_CHAT_NAMESPACE) -> list[str]:
        """Every session id stored in ``namespace`` (needs the vault's key: session ids are sealed)."""
        return MessageLog(vault.kv(namespace)).sessions()
