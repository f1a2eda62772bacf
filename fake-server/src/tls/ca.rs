//! The local certificate authority: made on first use, kept in a data directory, and loaded
//! again on every later start, so that a client told once to trust `ca.pem` keeps trusting
//! the server across runs (the mkcert model).
//!
//! Only the key and the certificate are stored. The CA's parameters (its name, key usages,
//! key identifier method) are fixed in `ca_params`, so the issuer of new certificates is
//! rebuilt from them and the stored key, and [`LocalCa::load`] proves that the result chains
//! to the stored certificate before anything is served with it. That keeps x509-parser (and
//! its build time) out of the dependency graph.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::certs::{self, ServerIdentity, Validity};
use super::error::TlsError;

/// File name of the CA certificate in the data directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key in the data directory (mode 0600).
pub const CA_KEY_FILE: &str = "ca-key.pem";

/// The common name of the local CA, as clients show it ("issued by").
pub const CA_NAME: &str = "fake-smtp local development CA";

/// How long a new CA is valid. Long, because every renewal means trusting it again.
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// Makes the names of temporary files unique within the process.
static NEXT_TEMPORARY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long a start waits for another process that is making the CA in the same directory.
const CREATION_WAIT: Duration = Duration::from_secs(3);

/// The directory the local CA lives in when none is given: `$FAKE_SMTP_DATA_DIR`, else
/// `$XDG_DATA_HOME/fake-smtp`, else `$HOME/.local/share/fake-smtp`. Empty variables count as
/// unset, and so does a relative `XDG_DATA_HOME` (the XDG base directory rules say to ignore
/// it).
pub fn default_data_dir() -> Result<PathBuf, TlsError> {
    data_dir_from(|name| std::env::var_os(name))
}

/// [`default_data_dir`] with the environment given, for tests.
pub(crate) fn data_dir_from(env: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, TlsError> {
    let var = |name: &str| {
        env(name)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("FAKE_SMTP_DATA_DIR") {
        return Ok(dir);
    }
    if let Some(xdg) = var("XDG_DATA_HOME").filter(|dir| dir.is_absolute()) {
        return Ok(xdg.join("fake-smtp"));
    }
    if let Some(home) = var("HOME") {
        return Ok(home.join(".local").join("share").join("fake-smtp"));
    }
    Err(TlsError::NoDataDir)
}

/// The one warning given when the data directory cannot hold the CA and a CA in memory is
/// used instead: why, what that means for clients, and how to keep one.
pub fn in_memory_warning(error: &TlsError) -> String {
    format!(
        "the local CA cannot be kept ({error}): using a CA in memory for this run; clients \
         cannot trust a CA that was never written unless --ca-out FILE writes its certificate \
         for them; set --data-dir DIR or FAKE_SMTP_DATA_DIR to a writable directory to keep one"
    )
}

/// The parameters of every local CA. They must not change between versions: the issuer of
/// server certificates is rebuilt from them (see the module comment), and a change would make
/// the certificates of existing CAs fail the check in [`LocalCa::load`].
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "fake-smtp");
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    // Path length 0: it signs server certificates directly, never another CA.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A certificate authority whose key this process holds: it signs the server certificates.
pub struct LocalCa {
    cert_path: PathBuf,
    key_path: PathBuf,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    created: bool,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl LocalCa {
    /// Loads the CA kept in `dir`, or makes one there if the directory holds none. A damaged
    /// or mismatched file is an error, never silently replaced: clients may trust it.
    ///
    /// Several processes starting at once with the same empty directory end up with the same
    /// CA: the key file is created exclusively, and the losers wait for the winner's
    /// certificate.
    pub fn load_or_create(dir: &Path) -> Result<LocalCa, TlsError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        if cert_path.exists() {
            return LocalCa::load(dir);
        }
        if !key_path.exists() {
            match LocalCa::create(dir) {
                Ok(ca) => return Ok(ca),
                Err(CreateError::Lost) => {}
                Err(CreateError::Failed(error)) => return Err(error),
            }
        }
        // A key without its certificate: another process is writing the certificate right
        // now, or one died half-way (then the files need a human).
        let deadline = std::time::Instant::now() + CREATION_WAIT;
        while !cert_path.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !cert_path.exists() {
            return Err(TlsError::CaIncomplete {
                present: key_path,
                missing: cert_path,
            });
        }
        LocalCa::load(dir)
    }

    /// A CA made for this process only: nothing is written (its paths are empty). What
    /// `fake-smtp run` uses by default, and what a test wants: no file in anyone's home.
    pub fn in_memory() -> Result<LocalCa, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = ca_params();
        Validity::around_now(Duration::from_secs(24 * 60 * 60), CA_LIFETIME).apply(&mut params);
        let cert = params.self_signed(&key)?;
        Ok(LocalCa {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(ca_params(), key),
            cert_path: PathBuf::new(),
            key_path: PathBuf::new(),
            created: true,
        })
    }

    /// Whether the CA lives in this process only ([`LocalCa::in_memory`]).
    pub fn is_in_memory(&self) -> bool {
        self.cert_path.as_os_str().is_empty()
    }

    /// [`LocalCa::load_or_create`] in the [`default_data_dir`].
    pub fn load_or_create_default() -> Result<LocalCa, TlsError> {
        LocalCa::load_or_create(&default_data_dir()?)
    }

    /// Loads the CA kept in `dir`; both files must exist.
    pub fn load(dir: &Path) -> Result<LocalCa, TlsError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        for (present, missing) in [(&key_path, &cert_path), (&cert_path, &key_path)] {
            if !missing.exists() {
                return Err(TlsError::CaIncomplete {
                    present: present.clone(),
                    missing: missing.clone(),
                });
            }
        }
        let cert_bytes = fs::read(&cert_path).map_err(TlsError::io("read", &cert_path))?;
        let cert_der = certs::parse_certificates(&cert_path, &cert_bytes)?
            .into_iter()
            .next()
            .ok_or_else(|| TlsError::NoCertificate {
                path: cert_path.clone(),
            })?;
        let cert_pem = String::from_utf8_lossy(&cert_bytes).into_owned();

        warn_if_readable_by_others(&key_path);
        let key_bytes = fs::read(&key_path).map_err(TlsError::io("read", &key_path))?;
        let key_der = certs::parse_private_key(&key_path, &key_bytes)?;
        let key = KeyPair::try_from(&key_der).map_err(|error| TlsError::BadPrivateKey {
            path: key_path.clone(),
            reason: error.to_string(),
        })?;

        let ca = LocalCa {
            issuer: Issuer::new(ca_params(), key),
            cert_path,
            key_path,
            cert_pem,
            cert_der,
            created: false,
        };
        ca.check()?;
        Ok(ca)
    }

    /// Makes a new CA in `dir`. `Lost` means another process created the key file first.
    fn create(dir: &Path) -> Result<LocalCa, CreateError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        create_private_dir(dir)?;

        let key = KeyPair::generate().map_err(TlsError::from)?;
        let mut params = ca_params();
        Validity::around_now(Duration::from_secs(24 * 60 * 60), CA_LIFETIME).apply(&mut params);
        let cert = params.self_signed(&key).map_err(TlsError::from)?;
        let cert_pem = cert.pem();

        // The key file is the commit point: whoever creates it makes the CA.
        let mut file = match open_private_new(&key_path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(CreateError::Lost)
            }
            Err(error) => return Err(TlsError::io("create", &key_path)(error).into()),
        };
        let written = file
            .write_all(key.serialize_pem().as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(error) = written {
            // Leave no half-written key behind to block the next start.
            let _ = fs::remove_file(&key_path);
            return Err(TlsError::io("write", &key_path)(error).into());
        }
        drop(file);

        // The certificate appears at once and whole: written aside, then renamed.
        let temporary = dir.join(format!(
            ".{CA_CERT_FILE}.{}-{}.tmp",
            std::process::id(),
            NEXT_TEMPORARY.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let written = write_synced(&temporary, cert_pem.as_bytes())
            .and_then(|()| fs::rename(&temporary, &cert_path));
        if let Err(error) = written {
            let _ = fs::remove_file(&temporary);
            let _ = fs::remove_file(&key_path);
            return Err(TlsError::io("write", &cert_path)(error).into());
        }
        tracing::info!(
            path = %cert_path.display(),
            "made a new local CA: have your clients trust this certificate"
        );
        Ok(LocalCa {
            issuer: Issuer::new(ca_params(), key),
            cert_der: cert.der().clone(),
            cert_pem,
            cert_path,
            key_path,
            created: true,
        })
    }

    /// Proves that certificates issued now chain to the stored CA certificate, by issuing
    /// one and verifying it the way a client would.
    fn check(&self) -> Result<(), TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.cert_der.clone())
            .map_err(|error| TlsError::BadCertificate {
                path: self.cert_path.clone(),
                reason: error.to_string(),
            })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|error| TlsError::BadCertificate {
                    path: self.cert_path.clone(),
                    reason: error.to_string(),
                })?;
        let probe_key = KeyPair::generate()?;
        let probe = certs::server_params(&certs::server_names(&[]), Validity::current())?
            .signed_by(&probe_key, &self.issuer)?;
        let name = ServerName::from(std::net::IpAddr::from([127, 0, 0, 1]));
        let verified = rustls::client::danger::ServerCertVerifier::verify_server_cert(
            verifier.as_ref(),
            probe.der(),
            &[],
            &name,
            &[],
            UnixTime::now(),
        );
        match verified {
            Ok(_) => Ok(()),
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ExpiredContext {
                ..
            })) => Err(TlsError::CaExpired {
                cert: self.cert_path.clone(),
                key: self.key_path.clone(),
            }),
            Err(error) => Err(TlsError::CaMismatch {
                cert: self.cert_path.clone(),
                key: self.key_path.clone(),
                reason: format!("a certificate signed with the key does not verify: {error}"),
            }),
        }
    }

    /// Signs a server certificate for exactly `names` (see [`certs::server_names`] for the
    /// usual set), valid for `validity`, with a new key.
    pub fn sign(&self, names: &[String], validity: Validity) -> Result<ServerIdentity, TlsError> {
        let key = KeyPair::generate()?;
        let cert = certs::server_params(names, validity)?.signed_by(&key, &self.issuer)?;
        Ok(ServerIdentity {
            chain: vec![cert.der().clone()],
            key: certs::private_key_der(&key),
        })
    }

    /// The CA certificate in PEM form, exactly as stored: what clients must trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate in DER form (for a `rustls::RootCertStore`).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// Where the CA certificate is kept.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Where the CA private key is kept.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// Whether this call made the CA (so clients do not trust it yet).
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// Writes the CA certificate PEM to `path` (what `--ca-out FILE` does). The write is
    /// direct, not through a rename, so `/dev/stdout` and pipes work too; callers write it
    /// before announcing the listeners, so nobody reads it half-written.
    pub fn write_cert_pem(&self, path: &Path) -> Result<(), TlsError> {
        fs::write(path, self.cert_pem.as_bytes()).map_err(TlsError::io("write", path))
    }
}

/// Why [`LocalCa::create`] did not make the CA.
enum CreateError {
    Lost,
    Failed(TlsError),
}

impl From<TlsError> for CreateError {
    fn from(error: TlsError) -> Self {
        CreateError::Failed(error)
    }
}

/// Creates `dir` (and its parents) readable by the owner only where it is new.
fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(TlsError::io("create", dir))
}

/// Creates a new file readable by the owner only; fails if it exists.
fn open_private_new(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A CA key others can read is worth a warning, not a refusal: it is a development CA.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = fs::metadata(path) {
            if metadata.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    "the local CA key is readable by other users; chmod 600 it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn the_data_dir_variable_wins() {
        let dir = data_dir_from(env(&[
            ("FAKE_SMTP_DATA_DIR", "/d"),
            ("XDG_DATA_HOME", "/x"),
            ("HOME", "/h"),
        ]));
        assert_eq!(dir.expect("a directory"), PathBuf::from("/d"));
    }

    #[test]
    fn then_xdg_data_home() {
        let dir = data_dir_from(env(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")]));
        assert_eq!(dir.expect("a directory"), PathBuf::from("/x/fake-smtp"));
    }

    #[test]
    fn then_home() {
        let dir = data_dir_from(env(&[("HOME", "/h")]));
        assert_eq!(
            dir.expect("a directory"),
            PathBuf::from("/h/.local/share/fake-smtp")
        );
    }

    #[test]
    fn empty_and_relative_values_are_ignored() {
        let dir = data_dir_from(env(&[
            ("FAKE_SMTP_DATA_DIR", ""),
            ("XDG_DATA_HOME", "relative/dir"),
            ("HOME", "/h"),
        ]));
        assert_eq!(
            dir.expect("a directory"),
            PathBuf::from("/h/.local/share/fake-smtp")
        );
    }

    #[test]
    fn no_variable_is_an_error() {
        let error = data_dir_from(env(&[])).expect_err("no directory");
        assert!(matches!(error, TlsError::NoDataDir), "{error}");
    }

    #[test]
    fn the_ca_can_be_shared_between_tasks() {
        fn is<T: Send + Sync>() {}
        is::<LocalCa>();
    }

    #[test]
    fn ca_params_are_stable() {
        // The issuer is rebuilt from these on every load: they must not drift.
        assert_eq!(ca_params(), ca_params());
        assert_eq!(
            ca_params().key_identifier_method,
            rcgen::KeyIdMethod::Sha256
        );
    }
}
