"""Understanding: text normalisation, language, tokens, intents."""
