//! Nothing is lost: worker processes killed with SIGKILL mid-send, several workers on one PostgreSQL.
