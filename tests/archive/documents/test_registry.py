"""The rules of filing a document, on SQLite and PostgreSQL: a new version supersedes only a
current document of the same customer (a chain never forks), a document is filed under a
contract only of its own customer — asked of the contracts area, which documents never import —
and the dossier finds the kinds filed under a contract."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

import pytest

from archive.contracts.repository import ContractRepository
from archive.contracts.service import ContractLedger
from archive.customers.models import Customer
from archive.db import Database, UnitOfWork, new_id
from archive.documents.intake import NewDocument, StoredBlob
from archive.documents.models import Document
from archive.documents.repository import DocumentRepository
from archive.documents.service import DocumentRegistry
from archive.errors import Conflict, InvalidInput
from archive.identity.models import Department
from archive.vocabulary import DocumentKind
from crypto.streaming import BlobSealed


def _blob(document_id: uuid.UUID, content: bytes = b"a letter\n") -> StoredBlob:
    """What sealing a blob under the document's id reports (the registry records it, nothing more)."""
    sealed = BlobSealed(hashlib.sha256(content).digest(), len(content), len(content) + 60, 1)
    return StoredBlob(str(document_id), sealed, "text/plain", "letter.txt")


def _file(uow: UnitOfWork, customer: uuid.UUID, new: NewDocument, *, with_contracts: bool = True) -> Document:
    registry = DocumentRegistry(uow, contracts=ContractRepository(uow.session) if with_contracts else None)
    document_id = new_id()
    return registry.file(document_id=document_id, customer_id=customer, new=new, stored=_blob(document_id),
                         uploaded_by=None)


@pytest.fixture
def customers(db: Database) -> tuple[Department, uuid.UUID, uuid.UUID]:
    with db.unit_of_work() as uow:
        department = Department(code="SALES", name="Sales")
        uow.session.add(department)
        uow.session.flush()
        ids = []
        for code in ("C-A", "C-B"):
            customer = Customer(id=new_id(), code=code, kind="enterprise", department_id=department.id,
                                status="active")
            uow.session.add(customer)
            ids.append(customer.id)
        uow.session.flush()
    return department, ids[0], ids[1]


def test_a_new_version_supersedes_the_current_one_of_the_same_customer(db: Database, customers) -> None:  # type: ignore[no-untyped-def]
    _, mine, theirs = customers
    with db.unit_of_work() as uow:
        v1 = _file(uow, mine, NewDocument(DocumentKind.CONTRACT_ORIGINAL))
        v2 = _file(uow, mine, NewDocument(DocumentKind.CONTRACT_AMENDMENT, supersedes=v1.id))
        assert (v2.chain_id, v2.supersedes_id) == (v1.id, v1.id)
        with pytest.raises(Conflict, match=str(v2.id)):  # the chain would fork: amend the current version
            _file(uow, mine, NewDocument(DocumentKind.CONTRACT_AMENDMENT, supersedes=v1.id))
        for prior in (uuid.uuid4(), v2.id):  # none, and another customer's
            with pytest.raises(InvalidInput) as refused:
                _file(uow, theirs if prior == v2.id else mine,
                      NewDocument(DocumentKind.CONTRACT_AMENDMENT, supersedes=prior))
            assert [e.field for e in refused.value.errors] == ["supersedes"]
        v3 = _file(uow, mine, NewDocument(DocumentKind.CONTRACT_AMENDMENT, supersedes=v2.id))
        repo = DocumentRepository(uow.session)
        assert [d.id for d in repo.current(mine, limit=10)] == [v3.id]
        assert [d.id for d in repo.versions([v1.chain_id])] == [v1.id, v2.id, v3.id]


def test_a_document_is_filed_only_under_a_contract_of_its_customer(db: Database, customers) -> None:  # type: ignore[no-untyped-def]
    department, mine, theirs = customers
    with db.unit_of_work() as uow:
        ledger = ContractLedger(uow.session)
        contract = ledger.create(customer_id=mine, department=department, title="supply", signed_on=date(2026, 3, 1),
                                 handler_id=None, recorded_by=None)
        original = NewDocument(DocumentKind.CONTRACT_ORIGINAL, contract_id=contract.id)
        for customer, contract_id, with_contracts in ((theirs, contract.id, True), (mine, uuid.uuid4(), True),
                                                      (mine, contract.id, False)):
            with pytest.raises(InvalidInput) as refused:
                _file(uow, customer, NewDocument(DocumentKind.CONTRACT_ORIGINAL, contract_id=contract_id),
                      with_contracts=with_contracts)
            assert [e.field for e in refused.value.errors] == ["contract_id"]
        filed = _file(uow, mine, original)
        _file(uow, mine, NewDocument(DocumentKind.COUNTERPARTY_LICENCE, contract_id=contract.id))
        _file(uow, mine, NewDocument(DocumentKind.VISIT_REPORT))  # filed under no contract
        assert filed.contract_id == contract.id
        assert sorted(DocumentRepository(uow.session).kinds_filed_under(contract.id)) == [
            "contract_original", "counterparty_licence"]
