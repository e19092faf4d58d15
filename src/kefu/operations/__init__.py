"""Operations on a shop: business rules checked at the tool boundary (return and exchange
eligibility), previews of a write, a confirmation bound to its preview, idempotent execution,
the approval queue for high-risk writes, and the operation ledger (see docs/operations.md)."""
