//! Passwords: the rules a new one must meet, argon2id hashing, and verification.
//!
//! Hashing costs about 20 MiB and tens of milliseconds of CPU by design, so it never runs on the
//! threads that serve requests. It runs on one dedicated blocking thread with one argon2 work
//! buffer, reused within a burst of sign-ins and freed when no more are waiting. Measured with
//! the release binary: hashing through `spawn_blocking` with argon2's own allocation left the
//! process at 134 MiB RSS after ten sign-ins and 272 MiB after eight concurrent ones (malloc
//! keeps each freed 19 MiB buffer in a per-thread arena, fragmented); a single thread with
//! argon2's allocation still grew to 115 MiB. With one buffer a burst of sign-ins queues
//! instead of taking both cores from the pages. Keeping that buffer for the life of the
//! process held 19 MiB of an idle console's RSS, so it is released after each burst, as a
//! mapping of its own (see [`ALWAYS_MAPPED_BLOCKS`]): 50 x 3 services, 8 sign-ins in a row,
//! RSS 38 MiB before and 39 MiB after (`/proc/PID/status`).
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`, unpadded base64), the
//! format every argon2 library reads.

use std::{
    fmt,
    sync::{LazyLock, mpsc},
};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::{Engine as _, engine::general_purpose::STANDARD_NO_PAD};

use crate::{error::AppError, store::PasswordHash};

/// OWASP's argon2id recommendation (2023): 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// Salt and output sizes (bytes): argon2's recommended 16 and 32.
const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;
/// A stored hash asking for more memory than this is refused rather than allowed to make the
/// console allocate it (a hand-edited or hostile row).
const MAX_MEMORY_KIB: u32 = 256 * 1024;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

/// Passwords people pick first; a bundled list, since the console may run without internet.
static COMMON: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// A password in clear, as typed. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(clear: impl Into<String>) -> Self {
        Self(clear.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(redacted)")
    }
}

/// Why a new password was refused; shown next to the password field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    #[error("must be at least {MIN_LENGTH} characters long")]
    TooShort,
    #[error("must be at most {MAX_LENGTH} characters long")]
    TooLong,
    #[error("is one of the most common passwords; choose another")]
    Common,
    #[error("must not contain the account name")]
    ContainsName,
    #[error("must not be a single repeated character")]
    Repeated,
}

/// The rules for a new password. Length counts characters, not bytes, so any script works.
pub fn check_new(password: &Password, account: &str) -> Result<(), PasswordRejected> {
    let clear = password.expose();
    let length = clear.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordRejected::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordRejected::TooLong);
    }
    let lower = clear.to_lowercase();
    if COMMON.iter().any(|c| *c == lower) {
        return Err(PasswordRejected::Common);
    }
    if !account.is_empty() && lower.contains(&account.to_lowercase()) {
        return Err(PasswordRejected::ContainsName);
    }
    let mut chars = clear.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err(PasswordRejected::Repeated);
    }
    Ok(())
}

/// The cost parameters of one hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cost {
    memory_kib: u32,
    passes: u32,
    lanes: u32,
}

const COST: Cost = Cost {
    memory_kib: MEMORY_KIB,
    passes: PASSES,
    lanes: LANES,
};

/// A stored hash, taken apart.
struct Parsed {
    cost: Cost,
    salt: Vec<u8>,
    output: Vec<u8>,
}

fn parse_phc(phc: &str) -> Option<Parsed> {
    let mut parts = phc.split('$');
    let (empty, algorithm, version, params, salt, output) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if !empty.is_empty() || algorithm != "argon2id" || version != "v=19" || parts.next().is_some() {
        return None;
    }
    let mut cost = Cost {
        memory_kib: 0,
        passes: 0,
        lanes: 0,
    };
    for pair in params.split(',') {
        let (key, value) = pair.split_once('=')?;
        let value: u32 = value.parse().ok()?;
        match key {
            "m" => cost.memory_kib = value,
            "t" => cost.passes = value,
            "p" => cost.lanes = value,
            _ => return None,
        }
    }
    if cost.memory_kib > MAX_MEMORY_KIB {
        return None;
    }
    Some(Parsed {
        cost,
        salt: STANDARD_NO_PAD.decode(salt).ok()?,
        output: STANDARD_NO_PAD.decode(output).ok()?,
    })
}

/// 33 MiB of argon2 blocks (1 KiB each): a reservation glibc always serves with a mapping.
const ALWAYS_MAPPED_BLOCKS: usize = 33 * 1024;

/// The hashing thread's state: argon2's work memory, reused within a burst of sign-ins and
/// released after it.
#[derive(Default)]
struct Workspace {
    blocks: Vec<Block>,
}

impl Workspace {
    /// Frees the work memory, so an idle console does not keep 19 MiB it needs for a few
    /// milliseconds per sign-in.
    fn release(&mut self) {
        self.blocks = Vec::new();
    }

    fn compute(&mut self, cost: Cost, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
        let Ok(params) = Params::new(cost.memory_kib, cost.passes, cost.lanes, Some(out.len()))
        else {
            return false;
        };
        if self.blocks.len() < params.block_count() {
            // Reserved past glibc's largest mmap threshold (32 MiB), so the buffer is always a
            // mapping of its own, unmapped whole when released. Smaller, glibc's dynamic
            // threshold put every buffer after the first into the thread's heap, fragmented,
            // and each sign-in kept another 19 MiB (measured: +19.5 MiB RSS per sign-in).
            // Only the part argon2 uses is ever touched, so only that counts in RSS.
            let mut blocks = Vec::with_capacity(params.block_count().max(ALWAYS_MAPPED_BLOCKS));
            blocks.resize(params.block_count(), Block::default());
            self.blocks = blocks;
        }
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into_with_memory(password, salt, out, &mut self.blocks[..])
            .is_ok()
    }

    fn hash(&mut self, password: &Password) -> Result<PasswordHash, HashError> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| HashError(e.to_string()))?;
        let mut out = [0u8; OUTPUT_LEN];
        if !self.compute(COST, password.expose().as_bytes(), &salt, &mut out) {
            return Err(HashError("argon2 refused the input".to_owned()));
        }
        Ok(PasswordHash::from_stored(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            COST.memory_kib,
            COST.passes,
            COST.lanes,
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(out)
        )))
    }

    /// The stored hash's own parameters are used, so older hashes keep verifying after the
    /// constants above are raised.
    fn verify(&mut self, password: &Password, hash: &PasswordHash) -> bool {
        let Some(stored) = parse_phc(hash.as_stored()) else {
            return false;
        };
        let mut out = vec![0u8; stored.output.len()];
        if !self.compute(
            stored.cost,
            password.expose().as_bytes(),
            &stored.salt,
            &mut out,
        ) {
            return false;
        }
        // Constant time: the position of the first differing byte must not show in the timing.
        out.iter()
            .zip(&stored.output)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

type Job = Box<dyn FnOnce(&mut Workspace) + Send>;

/// The thread that runs every argon2 computation, one at a time, with one workspace.
static HASHER: LazyLock<mpsc::Sender<Job>> = LazyLock::new(|| {
    let (jobs, queue) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("argon2".to_owned())
        .spawn(move || {
            let mut workspace = Workspace::default();
            let mut next = queue.recv().ok();
            while let Some(job) = next {
                job(&mut workspace);
                next = match queue.try_recv() {
                    Ok(job) => Some(job),
                    // The burst is over: give the memory back until the next sign-in.
                    Err(mpsc::TryRecvError::Empty) => {
                        workspace.release();
                        queue.recv().ok()
                    }
                    Err(mpsc::TryRecvError::Disconnected) => None,
                };
            }
        })
        .expect("cannot start the password hashing thread");
    jobs
});

/// Runs `work` on the hashing thread and waits for it without blocking the async runtime.
async fn on_hasher<T: Send + 'static>(
    work: impl FnOnce(&mut Workspace) -> T + Send + 'static,
) -> Result<T, HashError> {
    let (done, result) = tokio::sync::oneshot::channel();
    HASHER
        .send(Box::new(move |workspace: &mut Workspace| {
            let _ = done.send(work(workspace));
        }))
        .map_err(|_| HashError("the hashing thread has stopped".to_owned()))?;
    result
        .await
        .map_err(|_| HashError("the hashing thread dropped the job".to_owned()))
}

/// Hashes with a fresh random salt.
pub async fn hash(password: Password) -> Result<PasswordHash, HashError> {
    on_hasher(move |workspace| workspace.hash(&password)).await?
}

#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

impl From<HashError> for AppError {
    fn from(e: HashError) -> Self {
        AppError::Hash(e.to_string())
    }
}

/// Whether `password` matches `hash`. A malformed hash never matches.
pub async fn verify(password: Password, hash: PasswordHash) -> bool {
    on_hasher(move |workspace| workspace.verify(&password, &hash))
        .await
        .unwrap_or(false)
}

/// A hash of a random password, verified against when the account does not exist, so an
/// unknown name costs the same time as a wrong password and reveals nothing.
pub async fn decoy_hash() -> PasswordHash {
    static DECOY: tokio::sync::OnceCell<PasswordHash> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_init(|| async {
            let random = super::SecretToken::generate("");
            hash(Password::new(random.expose()))
                .await
                // Hashing a fixed-size random value cannot fail short of a broken runtime;
                // fall back to a hash that never verifies rather than panic in a request.
                .unwrap_or_else(|_| PasswordHash::from_stored(String::new()))
        })
        .await
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_for_new_passwords() {
        let ok = |p: &str| check_new(&Password::new(p), "alice");
        assert_eq!(ok("correct horse battery"), Ok(()));
        assert_eq!(ok("short"), Err(PasswordRejected::TooShort));
        // Twelve characters of a non-Latin script are twelve characters, not 36 bytes.
        assert_eq!(ok("пароль-пароль"), Ok(()));
        assert_eq!(ok("ключ"), Err(PasswordRejected::TooShort));
        assert_eq!(ok(&"x1".repeat(65)), Err(PasswordRejected::TooLong));
        assert_eq!(ok(&"x1".repeat(64)), Ok(()));
        assert_eq!(ok("Password1234"), Err(PasswordRejected::Common));
        assert_eq!(ok("ALICE-is-my-name"), Err(PasswordRejected::ContainsName));
        assert_eq!(ok("zzzzzzzzzzzzzzz"), Err(PasswordRejected::Repeated));
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hash = hash(Password::new("correct horse battery")).await.unwrap();
        assert!(
            hash.as_stored()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_stored()
        );
        assert!(verify(Password::new("correct horse battery"), hash.clone()).await);
        assert!(!verify(Password::new("correct horse battery!"), hash.clone()).await);
        assert!(
            !verify(
                Password::new("x"),
                PasswordHash::from_stored("garbage".into())
            )
            .await
        );
        assert_eq!(format!("{hash:?}"), "PasswordHash(redacted)");
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::{PasswordHasher, PasswordVerifier};

        // Ours, checked by the argon2 crate's own verifier.
        let ours = hash(Password::new("correct horse battery")).await.unwrap();
        let parsed = argon2::PasswordHash::new(ours.as_stored()).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );

        // The crate's, with other parameters, checked by ours.
        let params = Params::new(8 * 1024, 3, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"another passphrase")
            .unwrap()
            .to_string();
        let theirs = PasswordHash::from_stored(theirs);
        assert!(verify(Password::new("another passphrase"), theirs.clone()).await);
        assert!(!verify(Password::new("another passphrase!"), theirs).await);
    }

    #[tokio::test]
    async fn a_stored_hash_cannot_make_the_console_allocate_gigabytes() {
        let greedy = PasswordHash::from_stored(format!(
            "$argon2id$v=19$m=4194304,t=1,p=1${}${}",
            STANDARD_NO_PAD.encode([1u8; 16]),
            STANDARD_NO_PAD.encode([2u8; 32])
        ));
        assert!(!verify(Password::new("anything at all"), greedy).await);
    }
}
