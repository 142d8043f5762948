//! Channel health: failures that turn a channel off (`disabled_by_system`), and recovery.
