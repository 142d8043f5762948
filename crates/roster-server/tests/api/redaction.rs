//! Secrets never reach the logs: passwords, tokens, codes, signing secrets, database passwords.
