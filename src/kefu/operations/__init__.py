"""Operations on a shop: business rules checked at the tool boundary (eligibility now; guards,
confirmation bound to a preview, idempotency and the ledger come with L3 writes)."""
