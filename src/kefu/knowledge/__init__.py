"""Knowledge: FAQ store, import/export, retrieval and answerers."""
