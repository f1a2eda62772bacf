//! TLS for the server: the certificates it presents and the rustls configuration that
//! STARTTLS (on 1587) and implicit TLS (on 1465) both use.
//!
//! A listener describes what it wants with a [`TlsSetup`]; [`TlsSetup::build`] turns that
//! into a [`TlsContext`] once, at start, and every connection then uses
//! [`TlsContext::acceptor`].
//!
//! # The local CA and its data directory
//!
//! Generated server certificates are signed by a local CA, so that a client is told once to
//! trust one file and keeps working across runs, while the server certificate itself is made
//! fresh at every start. `fake-smtp` makes the CA on first use and keeps it in a data
//! directory:
//!
//! 1. `$FAKE_SMTP_DATA_DIR`, if set;
//! 2. else `$XDG_DATA_HOME/fake-smtp`, if `XDG_DATA_HOME` is set to an absolute path;
//! 3. else `$HOME/.local/share/fake-smtp`.
//!
//! It holds `ca.pem` (the certificate to trust; `--ca-out FILE` copies it) and `ca-key.pem`
//! (its private key, mode 0600). A later start loads the same CA; a damaged or mismatched
//! file is an error naming the file, never silently replaced, because clients trust it.
//! Deleting both files makes a new CA at the next start. When the directory cannot be made,
//! written or read (no `HOME`, a read-only home, user `nobody`), `fake-smtp` goes on with a
//! CA in memory and says so in one warning ([`CaLocation::DataDirOrMemory`]): plain
//! listeners work as ever, and `--ca-out FILE` still writes that CA's certificate.
//!
//! The library does not touch the data directory unless asked: its default is a CA in
//! memory ([`CaLocation::Memory`]), so that a test neither writes into nor depends on the
//! user's home. [`TlsSetup::ca_dir`] keeps one in a directory of the test's own.
//!
//! Modules:
//! - [`ca`]: the data directory rule and the [`LocalCa`] (load, make, sign);
//! - [`certs`]: names, validity, the deliberately bad certificates, user PEM files;
//! - [`config`]: the rustls `ServerConfig` (always the `ring` provider) and [`TlsInfo`];
//! - [`error`]: [`TlsError`], one type for every failure.

pub mod ca;
pub mod certs;
pub mod config;
pub mod error;

use std::path::PathBuf;
use std::sync::Arc;

pub use ca::{default_data_dir, LocalCa};
pub use certs::{ServerIdentity, Validity};
pub use config::{server_config, TlsInfo, TlsVersions};
pub use error::TlsError;

/// Where the local CA comes from.
///
/// The library's default is [`CaLocation::Memory`]: a test gets a fresh CA that is never
/// written anywhere (its certificate is [`crate::Server::ca_cert_pem`]). The `fake-smtp`
/// command keeps its CA in the data directory ([`CaLocation::DataDirOrMemory`]), so that a
/// client told once to trust `ca.pem` keeps working across runs.
#[derive(Debug, Clone, Default)]
pub enum CaLocation {
    /// The data directory rule (see the [module documentation](self)); an error when the
    /// directory cannot be found, made or written.
    DataDir,
    /// The data directory rule, but when it cannot be found, made, written or read (no
    /// `HOME`, a read-only home, another user's files), a CA in memory for this run, with
    /// one warning saying how to keep one. A damaged CA file is still an error: clients may
    /// trust it. What `fake-smtp serve` uses.
    DataDirOrMemory,
    /// This directory, made if missing.
    Dir(PathBuf),
    /// A CA already loaded, shared by several listeners.
    Loaded(Arc<LocalCa>),
    /// A new CA in memory, never written (clients get its certificate from the server). The
    /// library's default.
    #[default]
    Memory,
}

/// Which certificate the server presents. All but [`CertificateChoice::Files`] are made at
/// build time; the bad ones exist so that a scenario can check that a client refuses them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CertificateChoice {
    /// Signed by the local CA for `localhost`, `127.0.0.1`, `::1` and the extra names: what a
    /// client trusting `ca.pem` accepts.
    #[default]
    Valid,
    /// As [`Valid`](Self::Valid), but expired a month ago.
    Expired,
    /// Signed by the local CA, but only for [`certs::WRONG_HOST`].
    WrongHost,
    /// For the right names, but signed by its own key instead of the local CA. The local CA
    /// is still loaded, so that a test trusts it and sees the client refuse for this reason.
    SelfSigned,
    /// A chain (leaf first) and its private key from the user's PEM files. The local CA is
    /// neither loaded nor made, and the extra names are not used.
    Files { chain: PathBuf, key: PathBuf },
}

/// What a TLS listener needs: where the CA is, which certificate to present, extra names
/// for it, and the TLS versions to accept. No client certificates are asked for.
#[derive(Debug, Clone, Default)]
pub struct TlsSetup {
    pub ca: CaLocation,
    pub certificate: CertificateChoice,
    /// DNS names and IP addresses the generated certificate carries besides the loopback
    /// ones (for clients that connect by another name).
    pub extra_names: Vec<String>,
    pub versions: TlsVersions,
}

impl TlsSetup {
    pub fn new() -> TlsSetup {
        TlsSetup::default()
    }

    /// Keeps the local CA in the data directory (see the [module documentation](self)),
    /// falling back to a CA in memory, with a warning, when it cannot be written or read.
    pub fn data_dir_ca(mut self) -> TlsSetup {
        self.ca = CaLocation::DataDirOrMemory;
        self
    }

    /// Keeps the local CA in `dir` instead of in memory.
    pub fn ca_dir(mut self, dir: impl Into<PathBuf>) -> TlsSetup {
        self.ca = CaLocation::Dir(dir.into());
        self
    }

    /// Makes a CA in memory instead of keeping one on disk (the default).
    pub fn in_memory_ca(mut self) -> TlsSetup {
        self.ca = CaLocation::Memory;
        self
    }

    /// Uses a CA loaded before (by [`LocalCa::load_or_create`] or another context).
    pub fn ca(mut self, ca: Arc<LocalCa>) -> TlsSetup {
        self.ca = CaLocation::Loaded(ca);
        self
    }

    pub fn certificate(mut self, choice: CertificateChoice) -> TlsSetup {
        self.certificate = choice;
        self
    }

    /// Adds a DNS name or IP address to the generated certificate.
    pub fn extra_name(mut self, name: impl Into<String>) -> TlsSetup {
        self.extra_names.push(name.into());
        self
    }

    pub fn versions(mut self, versions: TlsVersions) -> TlsSetup {
        self.versions = versions;
        self
    }

    /// Loads (or makes) the CA, makes the certificate and builds the configuration.
    ///
    /// This does blocking file I/O and key generation: a few milliseconds, or up to a few
    /// seconds while another process is making the CA in the same directory. Call it once
    /// at start, not per connection.
    pub fn build(&self) -> Result<TlsContext, TlsError> {
        let names = certs::server_names(&self.extra_names);
        let current = Validity::current();
        let (identity, ca) = match &self.certificate {
            CertificateChoice::Files { chain, key } => (certs::load_pem_files(chain, key)?, None),
            CertificateChoice::Valid => {
                let ca = self.local_ca()?;
                (ca.sign(&names, current)?, Some(ca))
            }
            CertificateChoice::Expired => {
                let ca = self.local_ca()?;
                (ca.sign(&names, Validity::expired())?, Some(ca))
            }
            CertificateChoice::WrongHost => {
                let ca = self.local_ca()?;
                (ca.sign(&[certs::WRONG_HOST.to_owned()], current)?, Some(ca))
            }
            CertificateChoice::SelfSigned => {
                let ca = self.local_ca()?;
                (certs::self_signed(&names, current)?, Some(ca))
            }
        };
        let invalid = match self.certificate {
            CertificateChoice::Expired => Some("expired"),
            CertificateChoice::WrongHost => Some("wrong-host"),
            CertificateChoice::SelfSigned => Some("self-signed"),
            CertificateChoice::Valid | CertificateChoice::Files { .. } => None,
        };
        Ok(TlsContext {
            config: server_config(identity, self.versions)?,
            ca,
            invalid,
        })
    }

    fn local_ca(&self) -> Result<Arc<LocalCa>, TlsError> {
        match &self.ca {
            CaLocation::DataDir => Ok(Arc::new(LocalCa::load_or_create_default()?)),
            CaLocation::DataDirOrMemory => match LocalCa::load_or_create_default() {
                Ok(ca) => Ok(Arc::new(ca)),
                Err(error @ (TlsError::NoDataDir | TlsError::Io { .. })) => {
                    tracing::warn!("{}", ca::in_memory_warning(&error));
                    Ok(Arc::new(LocalCa::in_memory()?))
                }
                Err(error) => Err(error),
            },
            CaLocation::Dir(dir) => Ok(Arc::new(LocalCa::load_or_create(dir)?)),
            CaLocation::Loaded(ca) => Ok(Arc::clone(ca)),
            CaLocation::Memory => Ok(Arc::new(LocalCa::in_memory()?)),
        }
    }
}

/// A built TLS set-up: cheap to clone, shared by every connection of a listener.
#[derive(Clone)]
pub struct TlsContext {
    config: Arc<rustls::ServerConfig>,
    ca: Option<Arc<LocalCa>>,
    /// `expired`, `wrong-host` or `self-signed` when the certificate is invalid on purpose.
    invalid: Option<&'static str>,
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsContext")
            .field("ca", &self.ca)
            .finish_non_exhaustive()
    }
}

impl TlsContext {
    /// The rustls configuration, for code that drives a `rustls::ServerConnection` itself.
    pub fn server_config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }

    /// What is wrong with the certificate when it is invalid on purpose (`expired`,
    /// `wrong-host`, `self-signed`): a client that goes on after the handshake did not
    /// validate it (C-8314-CERT-VALIDATION).
    pub fn invalid_certificate(&self) -> Option<&'static str> {
        self.invalid
    }

    /// Wraps accepted TCP streams (implicit TLS) or a stream after `220 Ready to start TLS`
    /// (STARTTLS) in TLS.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.config))
    }

    /// The local CA, unless the certificate came from the user's files.
    pub fn ca(&self) -> Option<&Arc<LocalCa>> {
        self.ca.as_ref()
    }

    /// The PEM of the CA certificate clients should trust, when there is a local CA.
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.ca.as_deref().map(LocalCa::cert_pem)
    }
}
