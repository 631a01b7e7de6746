//! Password hashing with argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane).
//!
//! Each hash takes tens of milliseconds of CPU and 19 MiB of memory, so it runs on the
//! blocking pool (never on an async worker) behind a semaphore of about one permit per
//! core, and a request that would wait longer than `PASSWORD_QUEUE_TIMEOUT_MS` for a
//! permit gets 503 instead of queueing: a flood of sign-ups cannot push logins into
//! multi-second waits.
//!
//! Memory is bounded by construction: a permit is held until its hash has finished (even
//! when the request that asked for it is dropped), a permit holder uses one work area, and
//! an area is its own mapping (`work_area`), reused within a burst and unmapped when the
//! last permit of the burst comes back. So hashing holds at most permits x 19 MiB, and
//! nothing once a burst is over, however many bursts a process lives through.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordVerifier, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::work_area::WorkArea;
use crate::db::run_blocking;
use crate::domain::Password;
use crate::http::ApiError;

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;

/// Hashes and verifies passwords with bounded concurrency and bounded memory. Cheap to
/// clone.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    /// Idle work areas; never more than there are permits, none between bursts.
    areas: Arc<Mutex<Vec<WorkArea>>>,
    queue_timeout: Duration,
}

impl Passwords {
    pub fn new(max_concurrent: usize, queue_timeout: Duration) -> Self {
        let max_concurrent = max_concurrent.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            areas: Arc::new(Mutex::new(Vec::new())),
            queue_timeout,
        }
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) with a fresh random salt.
    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        self.run(move |area| hash_with(password.expose(), area))
            .await?
    }

    /// Whether `password` matches `stored`. With `stored` = `None` (no such user) it
    /// verifies against a dummy hash anyway, so an unknown login takes as long as a wrong
    /// password and response times do not reveal which accounts exist.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        self.run(move |area| {
            let against = stored.as_deref().unwrap_or_else(|| dummy_hash());
            verify_with(&password, against, area) && stored.is_some()
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                ApiError::Overloaded(format!(
                    "no password-hashing permit within {:?}",
                    self.queue_timeout
                ))
            })?
            .map_err(|_| ApiError::Internal("password semaphore closed".into()))?;
        // The permit moves into the blocking closure: if the request is dropped meanwhile,
        // the hash still finishes before its permit (and so its area) can be taken again.
        let this = self.clone();
        run_blocking(move || {
            let mut area = this.take_area()?;
            let result = work(area.blocks_mut());
            this.give_back(area, permit);
            Ok(result)
        })
        .await?
    }

    /// An idle area, or a new one: only the first time each permit is used at once.
    fn take_area(&self) -> Result<WorkArea, ApiError> {
        match lock(&self.areas).pop() {
            Some(area) => Ok(area),
            None => new_work_area(),
        }
    }

    fn give_back(&self, area: WorkArea, permit: OwnedSemaphorePermit) {
        lock(&self.areas).push(area);
        drop(permit);
        // The burst is over when nobody holds or awaits a permit (a released permit
        // passes straight to a waiter): the areas are unmapped, so resident memory is back
        // to its idle size; the next burst pays a few page faults per area.
        if self.permits.available_permits() == self.max_concurrent {
            lock(&self.areas).clear();
        }
    }
}

fn lock(areas: &Mutex<Vec<WorkArea>>) -> std::sync::MutexGuard<'_, Vec<WorkArea>> {
    // A panic while holding the lock leaves a list of valid areas.
    areas
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn new_work_area() -> Result<WorkArea, ApiError> {
    WorkArea::new(params().block_count())
        .map_err(|err| ApiError::Internal(format!("no memory for a password hash: {err}")))
}

fn params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).unwrap_or_default()
}

/// Hashes on the calling thread with memory of its own (CLI use; the server goes
/// through `Passwords::hash`).
pub fn hash_blocking(password: &Password) -> Result<String, ApiError> {
    hash_with(password.expose(), new_work_area()?.blocks_mut())
}

fn hash_with(password: &str, area: &mut [Block]) -> Result<String, ApiError> {
    let failed = |err: &dyn std::fmt::Display| ApiError::Internal(format!("hashing failed: {err}"));
    let params = params();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| failed(&e))?;
    let mut out = [0u8; OUTPUT_LEN];
    let blocks = area
        .get_mut(..params.block_count())
        .ok_or_else(|| ApiError::Internal("work area too small".into()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, blocks)
        .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Parameters, salt and algorithm are read from the stored string, so old hashes keep
/// verifying if the cost is raised later (one whose memory exceeds the work area is
/// verified with memory of its own).
fn verify_with(password: &str, stored: &str, area: &mut [Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let Some(blocks) = area.get_mut(..params.block_count()) else {
        return argon2.verify_password(password.as_bytes(), &parsed).is_ok();
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    argon2
        .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, blocks)
        .is_ok()
        // `Output`'s equality is constant-time.
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        new_work_area()
            .and_then(|mut area| {
                hash_with(
                    "not a real password; only spends the same time",
                    area.blocks_mut(),
                )
            })
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passwords() -> Passwords {
        Passwords::new(2, Duration::from_secs(5))
    }

    #[actix_web::test]
    async fn hashes_verify_and_use_argon2id() {
        let passwords = passwords();
        let hash = passwords
            .hash(Password::parse("correct horse").unwrap())
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(passwords
            .verify("correct horse".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!passwords
            .verify("wrong horse".into(), Some(hash))
            .await
            .unwrap());
        assert!(!passwords.verify("anything".into(), None).await.unwrap());
        assert!(!passwords
            .verify("x".into(), Some("not a hash".into()))
            .await
            .unwrap());
    }

    #[actix_web::test]
    async fn hashes_of_the_argon2_crate_verify_and_vice_versa() {
        use argon2::password_hash::PasswordHasher;
        // Another cost (as an older or newer deployment would have written), made by the
        // crate's own allocating API.
        let salt = SaltString::generate(&mut OsRng);
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 3, 1, None).unwrap(),
        )
        .hash_password(b"correct horse", &salt)
        .unwrap()
        .to_string();
        let passwords = passwords();
        assert!(passwords
            .verify("correct horse".into(), Some(other))
            .await
            .unwrap());
        let ours = passwords
            .hash(Password::parse("correct horse").unwrap())
            .await
            .unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
    }

    #[actix_web::test]
    async fn a_full_queue_answers_503_instead_of_waiting() {
        let passwords = Passwords::new(1, Duration::from_millis(50));
        let held = passwords.permits.clone().acquire_owned().await.unwrap();
        let refused = passwords.verify("x".into(), None).await;
        assert!(
            matches!(refused, Err(ApiError::Overloaded(_))),
            "{refused:?}"
        );
        drop(held);
        assert!(!passwords.verify("x".into(), None).await.unwrap());
    }
}
