"""What a vault's database shows to whoever holds it: the server, its operator, a backup, a stolen file.

:func:`describe_exposure` turns a vault's situation (local file or server, page encryption, collections)
into plain-language lines; :meth:`vecvault.Vault.exposure` and the CLI print them. Pure: no I/O, no keys,
no decrypted values (collection names and counts are plaintext at rest anyway).
"""

from __future__ import annotations

from collections.abc import Sequence

from vecvault.kv import KvNamespaceInfo
from vecvault.records import CollectionInfo

__all__ = ["describe_exposure"]


_SEALED = (
    "Sealed (AES-256-GCM, unreadable and tamper-evident without the master key): every record's text, its "
    "metadata (keys and values) and its embedding vector, and every key-value entry's key and value (docstores, "
    "caches, chat histories, record managers)."
)


def describe_exposure(
    *,
    location: str,
    remote: bool,
    replica: bool,
    file_encrypted: bool,
    collections: Sequence[CollectionInfo],
    namespaces: Sequence[KvNamespaceInfo] = (),
) -> list[str]:
    """Plain-language lines saying who can see what of this vault without the master key.

    Args:
        location: the file path or the server URL without credentials.
        remote: the vault lives on a libSQL server.
        replica: the vault is a local embedded replica of a server.
        file_encrypted: libSQL page encryption is on for the local file.
        collections: every collection's plaintext facts.
        namespaces: every key-value namespace's plaintext facts (name, entry count).
    """
    lines: list[str] = []
    if remote:
        lines.append(f"Who: the libSQL server at {location}, its operator, and anyone with its files, backups or logs.")
    elif replica:
        lines.append(
            f"Who: the primary libSQL server this replica syncs with (its operator, files and backups), and "
            f"anyone who can read {location}."
        )
    else:
        lines.append(f"Who: anyone who can read {location} or a copy of it (backups, synced folders).")
    lines.append(_SEALED)
    if file_encrypted and not remote and not replica:
        lines.append(
            "The local file is also page-encrypted by libSQL: without the master key it shows only its size and "
            "modification time. That layer has no integrity check; the sealed fields above do."
        )
        lines.append("With the file readable (no page encryption, or the key known), the following is visible:")
    elif replica and file_encrypted:
        lines.append("This replica file is page-encrypted; the primary server still stores the following in plaintext:")
    names = ", ".join(
        f"{c.name!r} ({c.count} records, dim {c.dim}, {c.metric}{', model ' + repr(c.model) if c.model else ''})"
        for c in collections
    )
    lines += [
        "Visible: record ids, as given (random unless you supply them: ids you choose, such as file paths or "
        "emails, are visible as they are).",
        f"Visible: collection names, sizes and settings: {names or 'none yet'}.",
        "Visible: the length of each sealed field, which gives each text's and metadata's length to within a "
        "few bytes.",
        "Visible: timestamps (each record's last write, each collection's and data key's creation) and "
        "revision counters (how many writes each collection had).",
        "Visible: data key ids, states and usage counts, which key sealed which record, and the data keys "
        "themselves wrapped under the master key (useless without it).",
        "Visible: ids of recently deleted records (the deletion log other readers catch up from).",
    ]
    snapshots = [c for c in collections if c.snapshot_rev is not None]
    if snapshots:
        listed = ", ".join(f"{c.name!r} ({c.snapshot_bytes / 2**20:.1f} MiB)" for c in snapshots)
        lines.append(
            f"Visible: that a sealed snapshot of the vectors is stored, its size and the revision it reflects: "
            f"{listed}. Its ids, versions and vectors are sealed."
        )
    if namespaces:
        listed = ", ".join(f"{n.name!r} ({n.count} entries)" for n in namespaces)
        lines.append(
            f"Visible: key-value namespace names and sizes: {listed}. Their keys and values are sealed; an entry "
            "is found by a keyed blind index (an HMAC under the namespace's data key), which shows only that "
            "the same entry was rewritten, and each key's and value's length."
        )
    plain = [c.name for c in collections if c.vectors == "plain"]
    if plain:
        lines.append(
            f"NOT sealed: the embedding vectors of {', '.join(repr(n) for n in plain)} (vectors='plain') are "
            "stored in the clear; embeddings can be inverted back into much of their text."
        )
    if replica:
        lines.append(
            "Seen as it happens: every write and its timing (writes go to the primary); searches and reads stay "
            "on this machine, the primary sees only when this replica syncs."
        )
    elif remote:
        lines.append(
            "Seen as it happens: every SQL statement and its timing: which collection is searched and when, "
            "and the ids of the records fetched for each result (so which records answered a query). The "
            "first search of a collection in a process reads its sealed snapshot and the records written "
            "since (or, without a usable snapshot, all its sealed vectors)."
        )
    return lines
