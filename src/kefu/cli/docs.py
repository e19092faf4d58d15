"""``kefu docs import|list|delete|ask``: documents (policies, manuals) answered with citations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kefu.cli.common import console, err_console, handle_errors, print_json, state
from kefu.errors import InvalidInputError

app = typer.Typer(
    help="Manage documents (Markdown, HTML, PDF, DOCX, TXT) answered with citations.",
    no_args_is_help=True,
)


def _repo(svc: Any) -> Any:
    """The service's document repository (built here until the service carries one)."""
    repo = getattr(svc, "documents", None)
    if repo is not None:
        return repo
    from kefu.storage.db import session_factory
    from kefu.storage.documents import DocumentRepository

    return DocumentRepository(session_factory(svc.engine), svc.tenants)


@app.command("import")
@handle_errors
def import_(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Markdown, HTML, PDF, DOCX or TXT files")],
    tenant: Annotated[str, typer.Option(help="Tenant name")],
) -> None:
    """Import documents (all or nothing: any bad file aborts, nothing is written). A document
    whose id (the file name without suffix) exists already is replaced."""
    from kefu.knowledge.doc_chunk import prepare_document

    svc = state(ctx).service(embedder=None)
    svc.tenants.get(tenant)  # fail before reading large files
    seen: dict[str, Path] = {}
    prepared = []
    for n, path in enumerate(files, start=1):
        err_console.print(f"[dim]reading {n}/{len(files)}: {path}[/]", highlight=False)
        doc = prepare_document(path)
        if doc.doc_id in seen:
            raise InvalidInputError(
                f"{path} and {seen[doc.doc_id]} would both be document {doc.doc_id!r}; "
                "rename one of them",
                field="files",
            )
        seen[doc.doc_id] = path
        prepared.append(doc)
    err_console.print("[dim]saving[/]")
    results = _repo(svc).import_many(tenant, prepared)
    for doc, result in zip(prepared, results, strict=True):
        note = " (replaced)" if result.replaced else ""
        console.print(
            f"{result.doc_id:<24} {doc.format:<5} {doc.language}  {result.chunks:>4} chunks  "
            f"{doc.title}{note}",
            highlight=False,
        )
    total = sum(r.chunks for r in results)
    console.print(f"imported {len(results)} documents ({total} chunks) into [bold]{tenant}[/]")


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the tenant's documents."""
    svc = state(ctx).service(embedder=None)
    docs = _repo(svc).all(tenant)
    if as_json:
        print_json(
            [
                {
                    "doc_id": d.doc_id,
                    "title": d.title,
                    "source": d.source,
                    "format": d.format,
                    "language": d.language,
                    "chunks": d.chunks,
                    "imported_at": d.imported_at.isoformat(timespec="seconds"),
                }
                for d in docs
            ]
        )
        return
    for d in docs:
        console.print(
            f"{d.doc_id:<24} {d.format:<5} {d.language}  {d.chunks:>4} chunks  {d.title}",
            highlight=False,
        )


@app.command("delete")
@handle_errors
def delete(
    ctx: typer.Context,
    doc_id: Annotated[str, typer.Argument(help="Document id (see `kefu docs list`)")],
    tenant: Annotated[str, typer.Option(help="Tenant name")],
) -> None:
    """Delete a document and its chunks."""
    svc = state(ctx).service(embedder=None)
    n = _repo(svc).delete(tenant, doc_id)
    console.print(f"deleted {doc_id} ({n} chunks)", highlight=False)


@app.command("ask")
@handle_errors
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question, in Chinese or English")],
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Confidence needed to answer [default: the tenant's doc_answer_threshold]"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Answer a question from the documents, quoting and citing them (or "I don't know")."""
    from kefu.knowledge.doc_answer import DEFAULT_THRESHOLD, DocAnswerer
    from kefu.knowledge.doc_index import DocIndex

    if not question.strip():
        raise InvalidInputError("the question must not be empty", field="question")
    svc = state(ctx).service()
    chunks = _repo(svc).chunks(tenant)
    limit = threshold
    if limit is None:
        try:
            limit = float(svc.tenants.settings(tenant)["doc_answer_threshold"])
        except KeyError:  # pragma: no cover - settings without the L2 keys
            limit = DEFAULT_THRESHOLD
    answer = DocAnswerer(DocIndex(chunks, svc.embedder), threshold=limit).answer(question)
    if as_json:
        print_json(answer.to_dict())
        return
    if not answer.answered:
        console.print(
            f"I don't know / 没有找到依据 (confidence {answer.confidence:.2f})", highlight=False
        )
        return
    console.print(answer.text, highlight=False)
    for c in answer.citations:
        console.print(
            f"[dim]— {c.title} > {c.section.split(' > ', 1)[-1]} "
            f"({c.doc_id}#{c.chunk_seq}, confidence {answer.confidence:.2f})[/]",
            highlight=False,
        )
