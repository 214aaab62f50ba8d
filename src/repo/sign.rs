//! OpenPGP signing of repository metadata (InRelease, Release.gpg, repomd.xml.asc) and
//! of rpm packages, with rPGP (the `pgp` crate, the same copy the `rpm` crate signs with).
//! Signatures are v4 with SHA-512 digests: accepted by gpgv (Debian 12 apt), sqv with
//! Debian 13's policy (no SHA-1), rpm and zypper.

use super::RepoError;
use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, Deserializable, DetachedSignature, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::packet::{
    SecretKey, SecretSubkey, SignatureConfig, SignatureType, Subpacket, SubpacketData,
};
use pgp::types::{KeyDetails, Password, PublicParams, Timestamp};
use std::path::{Path, PathBuf};

/// The key that makes signatures: the primary key or a signing-capable subkey.
#[derive(Clone)]
enum Key {
    Primary(SecretKey),
    Sub(SecretSubkey),
}

/// An OpenPGP secret key loaded from a file (armored or binary), unlocked with a
/// passphrase taken from an environment variable named by the caller.
pub struct Signer {
    path: PathBuf,
    cert: SignedSecretKey,
    key: Key,
    passphrase: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("path", &self.path)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

fn supported(alg: PublicKeyAlgorithm, params: &PublicParams) -> Result<(), String> {
    match (alg, params) {
        (PublicKeyAlgorithm::RSA, PublicParams::RSA(rsa)) => {
            // The serialized parameters start with the MPI of n: a 2-byte bit count.
            let bytes = pgp::ser::Serialize::to_bytes(rsa).unwrap_or_default();
            let bits = bytes
                .get(..2)
                .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
            if bits < 2048 {
                Err(format!(
                    "RSA key of {bits} bits; apt (Debian 13) and rpm need at least 2048, use RSA 4096"
                ))
            } else {
                Ok(())
            }
        }
        (
            PublicKeyAlgorithm::EdDSALegacy
            | PublicKeyAlgorithm::Ed25519
            | PublicKeyAlgorithm::ECDSA,
            _,
        ) => Ok(()),
        (other, _) => Err(format!(
            "unsupported key algorithm {other:?}; use RSA 4096 (accepted by every apt and rpm)"
        )),
    }
}

/// The secret key (certificate) in `path`, ASCII-armored or binary, with its
/// self-signatures checked; errors name the file and what to do.
fn read_secret_key(path: &Path) -> Result<SignedSecretKey, RepoError> {
    let key_err = |reason: String| RepoError::Key {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            key_err("file does not exist".into())
        } else {
            key_err(format!("cannot read: {e}"))
        }
    })?;
    let (cert, _) = SignedSecretKey::from_reader_single(std::io::BufReader::new(file))
        .map_err(|e| key_err(format!("not an OpenPGP secret key ({e}); export it with `gpg --export-secret-keys --armor KEYID`")))?;
    cert.verify_bindings()
        .map_err(|e| key_err(format!("invalid self-signatures: {e}")))?;
    Ok(cert)
}

impl Signer {
    /// Loads the secret key in `path` (ASCII-armored or binary, e.g. from
    /// `gpg --export-secret-keys`); the passphrase (if any) is read from the environment
    /// variable `passphrase_env`. The key is tried once, so a wrong passphrase is reported
    /// here, before anything is written.
    pub fn from_file(path: &Path, passphrase_env: Option<&str>) -> Result<Signer, RepoError> {
        let key_err = |reason: String| RepoError::Key {
            path: path.to_path_buf(),
            reason,
        };
        let cert = read_secret_key(path)?;
        // Prefer a signing subkey (as gpg does), else the primary key.
        let sub = cert.secret_subkeys.iter().find(|sk| {
            sk.signatures.iter().any(|sig| sig.key_flags().sign())
                && supported(sk.key.algorithm(), sk.key.public_params()).is_ok()
        });
        let key = match sub {
            Some(sk) => Key::Sub(sk.key.clone()),
            None => {
                supported(
                    cert.primary_key.algorithm(),
                    cert.primary_key.public_params(),
                )
                .map_err(key_err)?;
                Key::Primary(cert.primary_key.clone())
            }
        };
        let passphrase = match passphrase_env {
            Some(var) => std::env::var(var).map_err(|_| RepoError::Passphrase {
                path: path.to_path_buf(),
                reason: format!("environment variable {var} is not set (or not UTF-8)"),
            })?,
            None => String::new(),
        };
        // Unlock once (one S2K derivation) and keep the unlocked key in memory: a wrong
        // or missing passphrase fails here, before anything is written.
        let pw = Password::from(passphrase.as_str());
        let encrypted = match &key {
            Key::Primary(k) => k.secret_params().is_encrypted(),
            Key::Sub(k) => k.secret_params().is_encrypted(),
        };
        let mut key = key;
        let unlocked = match &mut key {
            Key::Primary(k) => k.remove_password(&pw),
            Key::Sub(k) => k.remove_password(&pw),
        };
        if let Err(e) = unlocked {
            let reason = match (passphrase_env, encrypted) {
                (Some(var), _) => format!("the passphrase in {var} does not unlock the key ({e})"),
                (None, _) => format!(
                    "the key is passphrase-protected; pass the passphrase in an environment variable named by --passphrase-env ({e})"
                ),
            };
            return Err(RepoError::Passphrase {
                path: path.to_path_buf(),
                reason,
            });
        }
        let signer = Signer {
            path: path.to_path_buf(),
            cert,
            key,
            passphrase,
        };
        Ok(signer)
    }

    /// The ASCII-armored public key of the secret key file `path`, without unlocking it
    /// (no passphrase needed).
    pub fn export_public(path: &Path) -> Result<String, RepoError> {
        read_secret_key(path)?
            .to_public_key()
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| Self::sign_err("public key export", e))
    }

    /// The fingerprint of the signing key, upper-case hex.
    pub fn fingerprint(&self) -> String {
        let fp = match &self.key {
            Key::Primary(k) => k.fingerprint(),
            Key::Sub(k) => k.fingerprint(),
        };
        hex::encode_upper(fp.as_bytes())
    }

    /// The fingerprint of the primary key (the certificate), upper-case hex.
    pub fn cert_fingerprint(&self) -> String {
        hex::encode_upper(self.cert.primary_key.fingerprint().as_bytes())
    }

    fn config(&self, typ: SignatureType) -> Result<SignatureConfig, pgp::errors::Error> {
        let (alg, fp, id) = match &self.key {
            Key::Primary(k) => (k.algorithm(), k.fingerprint(), k.legacy_key_id()),
            Key::Sub(k) => (k.algorithm(), k.fingerprint(), k.legacy_key_id()),
        };
        let mut config = SignatureConfig::v4(typ, alg, HashAlgorithm::Sha512);
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now()))?,
            Subpacket::regular(SubpacketData::IssuerFingerprint(fp))?,
        ];
        config.unhashed_subpackets = vec![Subpacket::regular(SubpacketData::IssuerKeyId(id))?];
        Ok(config)
    }

    /// The signing key is unlocked in memory (see `from_file`).
    fn password(&self) -> Password {
        Password::empty()
    }

    fn sign_err(what: &str, e: impl std::fmt::Display) -> RepoError {
        RepoError::Sign {
            what: what.into(),
            reason: e.to_string(),
        }
    }

    /// A detached, ASCII-armored signature of `data` (Release.gpg, repomd.xml.asc).
    pub fn detached_armored(&self, data: &[u8]) -> Result<String, RepoError> {
        let what = "detached signature";
        let config = self
            .config(SignatureType::Binary)
            .map_err(|e| Self::sign_err(what, e))?;
        let pw = self.password();
        let sig = match &self.key {
            Key::Primary(k) => config.sign(k, &pw, data),
            Key::Sub(k) => config.sign(k, &pw, data),
        }
        .map_err(|e| Self::sign_err(what, e))?;
        DetachedSignature::new(sig)
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| Self::sign_err(what, e))
    }

    /// `text` wrapped in a cleartext signature (InRelease).
    pub fn cleartext(&self, text: &str) -> Result<String, RepoError> {
        let what = "cleartext signature";
        let config = self
            .config(SignatureType::Text)
            .map_err(|e| Self::sign_err(what, e))?;
        let pw = self.password();
        let msg = match &self.key {
            Key::Primary(k) => CleartextSignedMessage::new(text, config, k, &pw),
            Key::Sub(k) => CleartextSignedMessage::new(text, config, k, &pw),
        }
        .map_err(|e| Self::sign_err(what, e))?;
        msg.to_armored_string(ArmorOptions::default())
            .map_err(|e| Self::sign_err(what, e))
    }

    /// The public key, ASCII-armored (repo/wsgi-pack.asc, repomd.xml.key, `key export`).
    pub fn public_key_armored(&self) -> Result<String, RepoError> {
        self.cert
            .to_public_key()
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| Self::sign_err("public key export", e))
    }

    /// The signing key's RSA public parameters (modulus, public exponent; big-endian,
    /// no leading zeros), or None if it is not an RSA key. For `rpmmd`'s fast check of
    /// rpm header signatures.
    pub(crate) fn rsa_public(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let params = match &self.key {
            Key::Primary(k) => k.public_params(),
            Key::Sub(k) => k.public_params(),
        };
        let PublicParams::RSA(rsa) = params else {
            return None;
        };
        // The serialized parameters are MPI(n) || MPI(e): a 2-byte bit count, the bytes.
        let bytes = pgp::ser::Serialize::to_bytes(rsa).ok()?;
        let mpi = |b: &[u8]| -> Option<(Vec<u8>, usize)> {
            let bits = u16::from_be_bytes([*b.first()?, *b.get(1)?]) as usize;
            let len = bits.div_ceil(8);
            Some((b.get(2..2 + len)?.to_vec(), 2 + len))
        };
        let (n, used) = mpi(&bytes)?;
        let (e, _) = mpi(&bytes[used..])?;
        Some((n, e))
    }

    /// A signer for `rpm::Package::sign` (same key, same passphrase).
    pub fn rpm_signer(&self) -> Result<rpm::signature::pgp::Signer, RepoError> {
        let armored = self
            .cert
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| Self::sign_err("rpm signer", e))?;
        let signer = rpm::signature::pgp::Signer::from_asc(&armored)
            .map_err(|e| Self::sign_err("rpm signer", e))?;
        let signer = signer
            .with_signing_key(&hex::decode(self.fingerprint()).unwrap_or_default())
            .map_err(|e| Self::sign_err("rpm signer", e))?;
        Ok(signer.with_key_passphrase(self.passphrase.clone()))
    }
}
