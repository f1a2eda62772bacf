//! Why the TLS set-up could not be made. Every variant about a file names the file, so that
//! the one line the command prints is enough to fix the problem.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("no directory for the local CA: set FAKE_SMTP_DATA_DIR (or XDG_DATA_HOME, or HOME)")]
    NoDataDir,

    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{path} is not a valid PEM file: {reason}")]
    Pem { path: PathBuf, reason: String },

    #[error("{path} holds no certificate (no \"-----BEGIN CERTIFICATE-----\" section)")]
    NoCertificate { path: PathBuf },

    #[error(
        "{path} holds no private key (no \"-----BEGIN PRIVATE KEY-----\", \
         \"-----BEGIN RSA PRIVATE KEY-----\" or \"-----BEGIN EC PRIVATE KEY-----\" section)"
    )]
    NoPrivateKey { path: PathBuf },

    #[error("the private key in {path} cannot be used: {reason}")]
    BadPrivateKey { path: PathBuf, reason: String },

    #[error("the certificate in {path} cannot be used: {reason}")]
    BadCertificate { path: PathBuf, reason: String },

    #[error("the private key in {key} does not match the certificate in {chain}")]
    KeyMismatch { chain: PathBuf, key: PathBuf },

    #[error(
        "the local CA is incomplete: {present} exists but {missing} does not \
         (delete {present} to make a new CA, and trust the new one in your clients)"
    )]
    CaIncomplete { present: PathBuf, missing: PathBuf },

    #[error(
        "the CA certificate {cert} does not go with the key {key} ({reason}); \
         delete both to make a new CA, and trust the new one in your clients"
    )]
    CaMismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },

    #[error(
        "the CA certificate {cert} has expired; delete it and {key} to make a new CA, \
         and trust the new one in your clients"
    )]
    CaExpired { cert: PathBuf, key: PathBuf },

    #[error("{name:?} is not a DNS name or an IP address a certificate can hold")]
    InvalidName { name: String },

    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),

    #[error("cannot build the TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

impl TlsError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> TlsError {
        let path = path.into();
        move |source| TlsError::Io {
            action,
            path,
            source,
        }
    }

    /// A PEM parse failure of `path`, in words (the library's own message prints raw bytes).
    pub(crate) fn pem(path: impl Into<PathBuf>, error: rustls::pki_types::pem::Error) -> TlsError {
        use rustls::pki_types::pem::Error;
        let reason = match error {
            Error::MissingSectionEnd { end_marker } => format!(
                "a section is not closed (no \"-----END {}-----\" line)",
                String::from_utf8_lossy(&end_marker)
            ),
            Error::IllegalSectionStart { line } => format!(
                "malformed section start {:?}",
                String::from_utf8_lossy(&line)
            ),
            Error::Base64Decode(reason) => format!("bad base64 ({reason})"),
            other => other.to_string(),
        };
        TlsError::Pem {
            path: path.into(),
            reason,
        }
    }
}
