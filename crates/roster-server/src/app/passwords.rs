//! Password hashing with argon2id, off the async threads and bounded in
//! concurrency: each hash takes about 19 MiB, so a login flood queues here
//! instead of exhausting memory. That memory is kept and reused, one buffer per
//! hash in flight: allocated afresh for every hash, it was freed into whichever
//! blocking thread's allocator arena ran it, and the server's resident memory
//! grew with the number of blocking threads rather than with the permits.

use argon2::password_hash::{rand_core::OsRng, Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use roster_core::password::Password;
use roster_core::Error;
use std::sync::{Arc, Mutex};
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
    memory: Arc<Memory>,
}

impl Passwords {
    pub fn new(concurrency: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(concurrency)), memory: Arc::default() }
    }

    /// The PHC string for `password` (argon2id, OWASP minimum parameters: 19 MiB, 2 iterations, 1 lane).
    pub async fn hash(&self, password: &Password) -> Result<String, Error> {
        let password = password.expose().to_owned();
        let memory = self.memory.clone();
        self.blocking(move || hash_now(&password, &memory)).await
    }

    /// Whether `password` matches `hash`; with no hash, spends the same time and answers false.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, Error> {
        let (password, hash, real) = match hash {
            Some(h) => (password.to_owned(), h.to_owned(), true),
            None => (password.to_owned(), DECOY.to_owned(), false),
        };
        let memory = self.memory.clone();
        let matches = self.blocking(move || verify_now(&password, &hash, &memory)).await?;
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

/// argon2's working memory, kept between hashes. The semaphore bounds how many
/// hashes run at once, so the pool never holds more buffers than permits.
#[derive(Default)]
struct Memory {
    buffers: Mutex<Vec<Vec<Block>>>,
}

impl Memory {
    /// Runs `f` with at least `blocks` blocks of memory. argon2 overwrites
    /// every block it reads before reading it, so a reused buffer needs no clearing.
    fn with<T>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let taken = self.buffers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut buffer = taken.unwrap_or_default();
        if buffer.len() < blocks {
            buffer.resize(blocks, Block::default());
        }
        let out = f(&mut buffer[..blocks]);
        self.buffers.lock().unwrap_or_else(|e| e.into_inner()).push(buffer);
        out
    }
}

/// argon2id with the given parameters, into an output of `len` bytes.
fn compute(
    memory: &Memory,
    argon: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: &[u8],
    len: usize,
) -> Result<Output, Error> {
    memory.with(params.block_count(), |blocks| {
        Output::init_with(len, |out| {
            argon.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut *blocks)?;
            Ok(())
        })
        .map_err(|e| Error::internal(e.to_string()))
    })
}

fn hash_now(password: &str, memory: &Memory) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut raw_salt = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut raw_salt).map_err(|e| Error::internal(e.to_string()))?;
    let output = compute(memory, &argon, &params, password, salt_bytes, Params::DEFAULT_OUTPUT_LEN)?;
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
fn verify_now(password: &str, phc: &str, memory: &Memory) -> Result<bool, Error> {
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
    let computed = compute(memory, &argon, &params, password, salt_bytes, expected.len())?;
    Ok(computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// The buffer-reusing hash and verify agree with the argon2 crate's own
    /// `hash_password`/`verify_password`, both ways, for the current
    /// parameters and for older, smaller ones (a smaller hash after a larger
    /// one reuses part of the same buffer).
    #[test]
    fn reused_memory_agrees_with_the_reference_implementation() {
        let memory = Memory::default();
        let ours = hash_now("correct horse battery", &memory).unwrap();
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
            assert!(verify_now("another password", &reference, &memory).unwrap(), "{reference}");
            assert!(!verify_now("another passworD", &reference, &memory).unwrap(), "{reference}");
        }
        assert!(verify_now("correct horse battery", &ours, &memory).unwrap());
        assert_eq!(memory.buffers.lock().unwrap().len(), 1, "one hash at a time uses one buffer");
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
        assert!(!Passwords::needs_rehash(&hash_now("any password", &Memory::default()).unwrap()));
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
        let fresh = hash_now("any password", &Memory::default()).unwrap();
        let prefix = |h: &str| h.rsplitn(3, '$').nth(2).unwrap().to_owned();
        assert_eq!(prefix(DECOY), prefix(&fresh));
        assert!(PasswordHash::new(DECOY).is_ok());
    }
}
