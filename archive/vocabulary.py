"""The words every layer shares, named once (STYLE.md item 11).

Roles, purposes, actions, permissions, scopes, data categories and document kinds as StrEnums.
The policy files under `policies/` use exactly these values; `tests/archive/policy/test_vocabulary.py`
fails when a file names an unknown value or a value here is used by no policy.

Adding an action is one line in `Action` plus its rows in `policies/*.csv`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    SALES_REP = "sales_rep"
    DEPARTMENT_HEAD = "department_head"
    CREDIT_MANAGER = "credit_manager"
    FINANCE = "finance"
    ARCHIVIST = "archivist"
    CRM_MANAGER = "crm_manager"
    MARKETING = "marketing"
    CUSTOMER_SERVICE = "customer_service"
    COMPLIANCE_OFFICER = "compliance_officer"
    GENERAL_MANAGER = "general_manager"
    ADMIN = "admin"
    CUSTOMER = "customer"


class Purpose(StrEnum):
    """Why data is read (查阅用途); sent as `X-Purpose`. Details in `policies/purposes.yaml`."""

    CUSTOMER_SERVICE = "customer_service"
    SALES_FOLLOWUP = "sales_followup"
    ADVISORY = "advisory"
    CREDIT_REVIEW = "credit_review"
    CONTRACT_MANAGEMENT = "contract_management"
    COLLECTION = "collection"
    GRADING = "grading"
    REGISTER_REVIEW = "register_review"
    JOINT_MARKETING = "joint_marketing"
    PARTNER_SHARING = "partner_sharing"
    ARCHIVE_MAINTENANCE = "archive_maintenance"
    AUDIT = "audit"
    REPORTING = "reporting"
    DATA_SUBJECT_REQUEST = "data_subject_request"


class Action(StrEnum):
    """Actions on customer data; the same dotted names as the audit events."""

    CUSTOMER_READ = "customer.read"
    CUSTOMER_LIST = "customer.list"
    CUSTOMER_SEARCH = "customer.search"
    CUSTOMER_UPDATE = "customer.update"
    CUSTOMER_CREATE = "customer.create"
    CUSTOMER_STATUS = "customer.status"  # a lifecycle step, with its reason
    CUSTOMER_ASSIGN = "customer.assign"  # a new owner (the manager's say)
    DOCUMENT_LIST = "document.list"
    DOCUMENT_READ = "document.read"  # metadata only
    DOCUMENT_CONTENT_READ = "document.content.read"
    DOCUMENT_UPLOAD = "document.upload"
    CONTRACT_CREATE = "contract.create"
    CONTRACT_LIST = "contract.list"  # the ledger
    CONTRACT_READ = "contract.read"
    CONTRACT_EVENT = "contract.event"  # changed, performed, terminated
    CONTRACT_HANDOVER = "contract.handover"  # the credit manager receives the contract dossier
    CONTRACT_ARCHIVE = "contract.archive"  # the dossier goes on to the archive
    JOINT_LIST_READ = "marketing.joint_list"
    REPORT_READ = "report.read"


class Permission(StrEnum):
    """What a role may do outright, whatever the purpose: administration and break-glass.
    Granted by rows of `policies/permissions.csv`, decided by `PolicyEngine.may`; no customer
    data comes with one (what an open break-glass admits is decided per read, via break_glass)."""

    USER_MANAGE = "user.manage"  # list, add and change users; revoke their sessions
    DEPARTMENT_MANAGE = "department.manage"
    POLICY_MANAGE = "policy.manage"  # the policy in force; releasing the files
    BREAK_GLASS_OPEN = "break_glass.open"
    BREAK_GLASS_REVIEW = "break_glass.review"  # the review list and the review (never of one's own)


class Scope(StrEnum):
    """Which customers a rule reaches (DOMAIN.md "Who may read what")."""

    OWN = "own"  # customers the user owns
    DEPARTMENT = "department"  # customers owned by the user's department
    ALL = "all"
    LOAN = "loan"  # only what an active loan bound to the same purpose grants
    SELF = "self"  # the customer's own record
    METADATA = "metadata"  # every customer, metadata only
    AGGREGATES = "aggregates"  # no single record: reports only
    JOINT_LIST = "joint_list"  # the joint-marketing list only
    BREAK_GLASS = "break_glass"  # the one customer an active break-glass names
    NONE = "none"  # no customer (the scope column of deny rules)


class Via(StrEnum):
    """How the access is made: normally, or under an open break-glass."""

    STANDARD = "standard"
    BREAK_GLASS = "break_glass"


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class DataCategory(StrEnum):
    """004 客户资料保密制度 第三条: 基本, 帐务, 信用, 投资, 保险."""

    BASIC = "basic"
    ACCOUNT = "account"
    CREDIT = "credit"
    INVESTMENT = "investment"
    INSURANCE = "insurance"


class FieldGroup(StrEnum):
    """The three groups of `basic`, so a purpose can admit less than all of it."""

    PROFILE = "profile"
    CONTACT = "contact"
    IDENTITY = "identity"


class DocumentFile(StrEnum):
    """The file (part of the dossier) a document kind belongs to."""

    CONTRACT = "contract"
    CREDIT = "credit"
    SERVICE = "service"
    CONSENT = "consent"
    HOLDINGS = "holdings"


class DocumentKind(StrEnum):
    # contract file, account
    NEGOTIATION_RECORD = "negotiation_record"
    FEASIBILITY_STUDY = "feasibility_study"
    CONTRACT_CORRESPONDENCE = "contract_correspondence"
    NOTARIAL_DOCUMENT = "notarial_document"
    CONTRACT_ORIGINAL = "contract_original"
    CONTRACT_COPY = "contract_copy"
    CONTRACT_AMENDMENT = "contract_amendment"
    TERMINATION_AGREEMENT = "termination_agreement"
    GOODS_ACCEPTANCE_RECORD = "goods_acceptance_record"
    PAYMENT_VOUCHER = "payment_voucher"
    # contract file, basic / identity
    COUNTERPARTY_LICENCE = "counterparty_licence"
    REPRESENTATIVE_CREDENTIALS = "representative_credentials"
    POWER_OF_ATTORNEY = "power_of_attorney"
    # contract file, credit
    PERFORMANCE_CAPACITY_PROOF = "performance_capacity_proof"
    GUARANTOR_DOCUMENTS = "guarantor_documents"
    # credit file
    CREDIT_APPLICATION = "credit_application"
    CUSTOMER_SURVEY = "customer_survey"
    CREDIT_APPROVAL = "credit_approval"
    STANDARD_REPLY_LETTER = "standard_reply_letter"
    CREDIT_FORM = "credit_form"
    CREDIT_GRANT_MATERIAL = "credit_grant_material"
    ANNUAL_REVIEW_REPORT = "annual_review_report"
    FINANCIAL_STATEMENT = "financial_statement"
    COLLECTION_RECORD = "collection_record"
    # service file
    VISIT_REPORT = "visit_report"
    SERVICE_RECORD = "service_record"
    INQUIRY = "inquiry"
    COMPLAINT = "complaint"
    CORRESPONDENCE = "correspondence"
    # consent and sharing
    CONSENT_EVIDENCE = "consent_evidence"
    CONFIDENTIALITY_AGREEMENT = "confidentiality_agreement"
    # holdings
    INVESTMENT_STATEMENT = "investment_statement"
    INSURANCE_POLICY = "insurance_policy"


Placement = tuple[DocumentFile, DataCategory, FieldGroup | None]


def _document_kinds() -> Mapping[DocumentKind, Placement]:
    k, f, c, g = DocumentKind, DocumentFile, DataCategory, FieldGroup
    table: list[tuple[DocumentFile, DataCategory, FieldGroup | None, tuple[DocumentKind, ...]]] = [
        (f.CONTRACT, c.ACCOUNT, None, (
            k.NEGOTIATION_RECORD, k.FEASIBILITY_STUDY, k.CONTRACT_CORRESPONDENCE, k.NOTARIAL_DOCUMENT,
            k.CONTRACT_ORIGINAL, k.CONTRACT_COPY, k.CONTRACT_AMENDMENT, k.TERMINATION_AGREEMENT,
            k.GOODS_ACCEPTANCE_RECORD, k.PAYMENT_VOUCHER)),
        (f.CONTRACT, c.BASIC, g.IDENTITY, (k.COUNTERPARTY_LICENCE, k.REPRESENTATIVE_CREDENTIALS, k.POWER_OF_ATTORNEY)),
        (f.CONTRACT, c.CREDIT, None, (k.PERFORMANCE_CAPACITY_PROOF, k.GUARANTOR_DOCUMENTS)),
        (f.CREDIT, c.CREDIT, None, (
            k.CREDIT_APPLICATION, k.CUSTOMER_SURVEY, k.CREDIT_APPROVAL, k.STANDARD_REPLY_LETTER, k.CREDIT_FORM,
            k.CREDIT_GRANT_MATERIAL, k.ANNUAL_REVIEW_REPORT, k.FINANCIAL_STATEMENT, k.COLLECTION_RECORD)),
        (f.SERVICE, c.BASIC, None, (k.VISIT_REPORT, k.SERVICE_RECORD, k.INQUIRY, k.COMPLAINT, k.CORRESPONDENCE)),
        (f.CONSENT, c.BASIC, None, (k.CONSENT_EVIDENCE, k.CONFIDENTIALITY_AGREEMENT)),
        (f.HOLDINGS, c.INVESTMENT, None, (k.INVESTMENT_STATEMENT,)),
        (f.HOLDINGS, c.INSURANCE, None, (k.INSURANCE_POLICY,)),
    ]
    return MappingProxyType({kind: (file, cat, group) for file, cat, group, kinds in table for kind in kinds})


# DOMAIN.md "The customer and the dossier": kind -> (file, category, group within basic).
# `policies/document_kinds.yaml` holds the same table as data; a test keeps them equal.
DOCUMENT_KINDS: Mapping[DocumentKind, Placement] = _document_kinds()


def document_category(kind: DocumentKind) -> DataCategory:
    return DOCUMENT_KINDS[kind][1]
