//! Password hashing with argon2id, off the async threads and bounded in
//! concurrency: each hash takes about 19 MiB, so a login flood queues here
//! instead of exhausting memory.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use roster_core::password::Password;
use roster_core::Error;
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
        let matches = self
            .blocking(move || {
                let parsed = PasswordHash::new(&hash).map_err(|e| Error::internal(e.to_string()))?;
                Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await?;
        Ok(matches && real)
    }

    /// Whether `hash` was made with other parameters (or another algorithm)
    /// than new hashes get, so a login should store a fresh one.
    pub fn needs_rehash(hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else { return true };
        let current = argon2::Params::default();
        let param = |name: &str| parsed.params.get_decimal(name);
        parsed.algorithm != argon2::Algorithm::Argon2id.ident()
            || parsed.version != Some(argon2::Version::V0x13 as u32)
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

fn hash_now(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
