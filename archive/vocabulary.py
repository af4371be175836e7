"""TEMPORARY stub by the foundation work; the policy work replaces this file."""
from enum import StrEnum


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
