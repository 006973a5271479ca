"""Operations on a whole vault: key rotation, shredding, verification, backups, exposure.

The public entry points are re-exported by :mod:`vecvault.lifecycle` and :mod:`vecvault.backup`.
"""
