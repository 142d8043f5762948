//! Which API servers share a SQLite database.
//!
//! PostgreSQL tells every instance of a change; SQLite cannot, so an API
//! server on SQLite serves principals from memory only while it is the only
//! one on its database. Each holds a shared lock on a file beside the
//! database for as long as it runs, and asks the kernel, at each lookup,
//! whether anyone else holds one: a single `fcntl` call, no I/O. The locks
//! are open-file-description locks (Linux), so two servers in one process
//! (as in the tests) see each other too, and the kernel drops a lock when
//! its holder exits, however it exits. Elsewhere a server never counts as
//! alone, and SQLite principals are not cached.

use std::fs::File;
use std::path::Path;

pub(crate) struct Presence {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    file: File,
}

impl Presence {
    /// Announces this server on the database at `db`.
    pub(crate) fn announce(db: &Path) -> std::io::Result<Self> {
        let mut name = db.as_os_str().to_owned();
        name.push("-servers");
        let file = File::options().read(true).write(true).create(true).truncate(false).open(name)?;
        imp::lock(&file)?;
        Ok(Self { file })
    }

    /// Whether no other server holds the database.
    pub(crate) fn alone(&self) -> bool {
        imp::alone(&self.file)
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::fs::File;
    use std::os::fd::AsRawFd;

    fn first_byte(kind: libc::c_int) -> libc::flock {
        // SAFETY: `flock` is plain data; all zeroes is a valid value of it.
        let mut l: libc::flock = unsafe { std::mem::zeroed() };
        l.l_type = kind as libc::c_short;
        l.l_whence = libc::SEEK_SET as libc::c_short;
        l.l_start = 0;
        l.l_len = 1;
        l
    }

    pub(super) fn lock(file: &File) -> std::io::Result<()> {
        let mut l = first_byte(libc::F_RDLCK);
        // SAFETY: a valid descriptor and a pointer to a live `flock`.
        match unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut l) } {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        }
    }

    /// Would a write lock fit? Only if no other description holds a read
    /// lock: our own never conflicts with itself.
    pub(super) fn alone(file: &File) -> bool {
        let mut l = first_byte(libc::F_WRLCK);
        // SAFETY: a valid descriptor and a pointer to a live `flock`.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut l) };
        r != -1 && l.l_type == libc::F_UNLCK as libc::c_short
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn lock(_: &std::fs::File) -> std::io::Result<()> {
        Ok(())
    }

    pub(super) fn alone(_: &std::fs::File) -> bool {
        false
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_server_knows_when_another_shares_its_database() {
        let dir = std::env::temp_dir().join(format!("roster-presence-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("roster.db");
        let first = Presence::announce(&db).unwrap();
        assert!(first.alone());
        let second = Presence::announce(&db).unwrap();
        assert!(!first.alone() && !second.alone());
        drop(second);
        assert!(first.alone(), "a server that stops is gone at once");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
