//! Password hashing with argon2id, off the async threads and bounded in
//! concurrency: each hash takes about 19 MiB, so a login flood queues here
//! instead of exhausting memory. That memory is mapped from the kernel for
//! each hash and unmapped after it. Allocated through the heap, it was freed
//! into whichever blocking thread's allocator arena ran it, and resident
//! memory grew with the number of blocking threads; kept in a pool between
//! hashes, it stayed resident (38 MiB with two permits) long after a burst
//! of logins, beside everything else the server holds. Mapping costs a few
//! milliseconds of a hash's seventy.

use argon2::password_hash::{rand_core::OsRng, Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use roster_core::password::Password;
use roster_core::Error;
use std::ptr::NonNull;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// A real hash, made with the current parameters from a random password that
/// was thrown away, to verify against when the account does not exist: a login
/// for an unknown address then takes as long as one for a known address. A
/// constant, so building the service costs no hashing; a test keeps its
/// parameters equal to the ones new hashes get.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$ltpcrnMlK6soNXNwMnybyQ$n+Mu829b9EU97B1RGbjDDunGqxRHLaJAdAAa9B0nd2w";

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Passwords {
    pub fn new(concurrency: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(concurrency)) }
    }

    /// The PHC string for `password` (argon2id, OWASP minimum parameters: 19 MiB, 2 iterations, 1 lane).
    pub async fn hash(&self, password: &Password) -> Result<String, Error> {
        let password = password.expose().to_owned();
        self.blocking(move || hash_now(&password)).await
    }

    /// Whether `password` matches `hash`; with no hash, spends the same time and answers false.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, Error> {
        let (password, hash, real) = match hash {
            Some(h) => (password.to_owned(), h.to_owned(), true),
            None => (password.to_owned(), DECOY.to_owned(), false),
        };
        let matches = self.blocking(move || verify_now(&password, &hash)).await?;
        Ok(matches && real)
    }

    /// Whether `hash` was made with other parameters (or another algorithm)
    /// than new hashes get, so a login should store a fresh one.
    pub fn needs_rehash(hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else { return true };
        let current = Params::default();
        let param = |name: &str| parsed.params.get_decimal(name);
        parsed.algorithm != Algorithm::Argon2id.ident()
            || parsed.version != Some(Version::V0x13 as u32)
            || param("m") != Some(current.m_cost())
            || param("t") != Some(current.t_cost())
            || param("p") != Some(current.p_cost())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(f).await.map_err(Error::internal)?
    }
}

/// argon2's working memory for one hash: an anonymous mapping of its own,
/// returned to the kernel when dropped.
struct Scratch {
    blocks: NonNull<Block>,
    count: usize,
}

impl Scratch {
    fn len(count: usize) -> usize {
        count.max(1) * std::mem::size_of::<Block>()
    }

    fn map(count: usize) -> Result<Self, Error> {
        let len = Self::len(count);
        // SAFETY: a new private anonymous mapping; no existing memory is touched.
        // MAP_POPULATE faults it in at once rather than a page at a time.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::internal(std::io::Error::last_os_error()));
        }
        let blocks = NonNull::new(ptr.cast::<Block>()).ok_or_else(|| Error::internal("mmap returned null"))?;
        Ok(Self { blocks, count })
    }

    fn blocks(&mut self) -> &mut [Block] {
        // SAFETY: the mapping holds `count` blocks, is page-aligned (a block
        // needs 64 bytes), zero-filled (a block is plain u64s, valid at any
        // value), and reachable only through this `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.blocks.as_ptr(), self.count) }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, of this length, unmapped once.
        unsafe { libc::munmap(self.blocks.as_ptr().cast(), Self::len(self.count)) };
    }
}

/// argon2id with the given parameters, into an output of `len` bytes.
fn compute(argon: &Argon2<'_>, params: &Params, password: &str, salt: &[u8], len: usize) -> Result<Output, Error> {
    let mut scratch = Scratch::map(params.block_count())?;
    Output::init_with(len, |out| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, out, scratch.blocks())?;
        Ok(())
    })
    .map_err(|e| Error::internal(e.to_string()))
}

fn hash_now(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut raw_salt = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut raw_salt).map_err(|e| Error::internal(e.to_string()))?;
    let output = compute(&argon, &params, password, salt_bytes, Params::DEFAULT_OUTPUT_LEN)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e: argon2::password_hash::Error| Error::internal(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Recomputes the hash with the algorithm, version, parameters and salt that
/// `phc` names and compares the outputs (`Output`'s comparison is constant-time).
fn verify_now(password: &str, phc: &str) -> Result<bool, Error> {
    let internal = |e: argon2::password_hash::Error| Error::internal(e.to_string());
    let parsed = PasswordHash::new(phc).map_err(internal)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return Ok(false) };
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(internal)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| Error::internal(e.to_string()))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(internal)?;
    let mut raw_salt = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut raw_salt).map_err(internal)?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let computed = compute(&argon, &params, password, salt_bytes, expected.len())?;
    Ok(computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// Hash and verify on mapped memory agree with the argon2 crate's own
    /// `hash_password`/`verify_password`, both ways, for the current
    /// parameters and for older, smaller ones.
    #[test]
    fn mapped_memory_agrees_with_the_reference_implementation() {
        let ours = hash_now("correct horse battery").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong horse battery", &parsed).is_err());

        let salt = SaltString::generate(&mut OsRng);
        for params in
            [Params::default(), Params::new(8192, 1, 1, None).unwrap(), Params::new(1024, 3, 2, Some(16)).unwrap()]
        {
            let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"another password", &salt)
                .unwrap()
                .to_string();
            assert!(verify_now("another password", &reference).unwrap(), "{reference}");
            assert!(!verify_now("another passworD", &reference).unwrap(), "{reference}");
        }
        assert!(verify_now("correct horse battery", &ours).unwrap());
    }

    #[tokio::test]
    async fn hashes_verify_and_decoy_never_matches() {
        let p = Passwords::new(1);
        let pw = Password::parse("correct horse battery").unwrap();
        let h = p.hash(&pw).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(p.verify("correct horse battery", Some(&h)).await.unwrap());
        assert!(!p.verify("wrong horse battery", Some(&h)).await.unwrap());
        assert!(!p.verify("decoy password that matches nothing", None).await.unwrap());
    }

    #[test]
    fn hashes_with_old_parameters_need_rehashing() {
        assert!(!Passwords::needs_rehash(&hash_now("any password").unwrap()));
        assert!(!Passwords::needs_rehash(DECOY));
        let weak = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"any password", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(Passwords::needs_rehash(&weak), "{weak}");
        assert!(Passwords::needs_rehash("not a PHC string"));
    }

    #[test]
    fn the_decoy_costs_what_a_real_hash_costs() {
        // Same algorithm, version and parameters as a hash made now, so the timing matches.
        let fresh = hash_now("any password").unwrap();
        let prefix = |h: &str| h.rsplitn(3, '$').nth(2).unwrap().to_owned();
        assert_eq!(prefix(DECOY), prefix(&fresh));
        assert!(PasswordHash::new(DECOY).is_ok());
    }
}
