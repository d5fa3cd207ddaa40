"""The pass: one model's pull (``pull``: change window, id keyset, followed parents,
deletions) returns a ``ChangeSet``; ``run_pass`` (in ``engine``) pulls every configured model
and hands the change sets to a sink, all or nothing. Submodules are imported explicitly (this
package imports nothing itself, so the sinks can use its types without an import cycle)."""
