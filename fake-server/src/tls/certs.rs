//! Server certificates: the names they carry, their validity, the deliberately bad ones a
//! scenario asks for to test a client's verification, and certificates a user brings in PEM
//! files.
//!
//! Keys are ECDSA P-256: `ring` can make them (it cannot make RSA keys), and every client
//! we test against accepts them.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, DnsName, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::error::TlsError;

/// The names every generated server certificate carries, so that a client may connect by
/// name or by either loopback address.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The only name of the wrong-host certificate. `.invalid` is reserved (RFC 2606): no client
/// can have a legitimate reason to connect by it.
pub const WRONG_HOST: &str = "wrong.host.invalid";

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A certificate chain (leaf first) and its private key: what a TLS server presents.
#[derive(Debug)]
pub struct ServerIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for ServerIdentity {
    fn clone(&self) -> Self {
        ServerIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl Validity {
    /// From `past` ago to `future` from now.
    pub fn around_now(past: Duration, future: Duration) -> Validity {
        let now = SystemTime::now();
        Validity {
            not_before: now.checked_sub(past).unwrap_or(UNIX_EPOCH),
            not_after: now.checked_add(future).unwrap_or(now),
        }
    }

    /// For a good server certificate, made fresh at every start: from a day ago (some slack
    /// for clocks that disagree) to a year ahead (short enough for clients that cap the
    /// lifetime of server certificates at 398 days).
    pub fn current() -> Validity {
        Validity::around_now(DAY, 365 * DAY)
    }

    /// Expired a month ago, after a year of validity: a client must refuse it.
    pub fn expired() -> Validity {
        let now = SystemTime::now();
        Validity {
            not_before: now.checked_sub(395 * DAY).unwrap_or(UNIX_EPOCH),
            not_after: now.checked_sub(30 * DAY).unwrap_or(UNIX_EPOCH),
        }
    }

    pub(crate) fn apply(self, params: &mut CertificateParams) {
        // rcgen takes `time` dates; reaching them from the epoch avoids a direct dependency.
        let since_epoch = |at: SystemTime| at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let epoch = rcgen::date_time_ymd(1970, 1, 1);
        params.not_before = epoch + since_epoch(self.not_before);
        params.not_after = epoch + since_epoch(self.not_after);
    }
}

/// [`DEFAULT_NAMES`] followed by `extra`, without repeats.
pub fn server_names(extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = DEFAULT_NAMES
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    for name in extra {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// The subject alternative name for `name`: an IP address (`[::1]` is accepted too) or a DNS
/// name, possibly a wildcard (`*.example.test`).
pub(crate) fn subject_alt_name(name: &str) -> Result<SanType, TlsError> {
    let invalid = || TlsError::InvalidName {
        name: name.to_owned(),
    };
    let unbracketed = name
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(name);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let checked = name.strip_prefix("*.").unwrap_or(name);
    DnsName::try_from(checked).map_err(|_| invalid())?;
    rcgen::string::Ia5String::try_from(name)
        .map(SanType::DnsName)
        .map_err(|_| invalid())
}

/// The parameters of a server certificate for `names` (the first is also the common name).
pub(crate) fn server_params(
    names: &[String],
    validity: Validity,
) -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::default();
    params.subject_alt_names = names
        .iter()
        .map(|name| subject_alt_name(name))
        .collect::<Result<_, _>>()?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(first) = names.first() {
        params.distinguished_name.push(DnType::CommonName, first);
    }
    // "CA:FALSE" and a subject key identifier, as strict verifiers (Python 3.13's
    // VERIFY_X509_STRICT) expect; the authority key identifier helps path building.
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    validity.apply(&mut params);
    Ok(params)
}

pub(crate) fn private_key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

/// A certificate for `names` signed by its own key, not by any CA: a client that trusts
/// only the local CA must refuse it.
pub fn self_signed(names: &[String], validity: Validity) -> Result<ServerIdentity, TlsError> {
    let key = KeyPair::generate()?;
    let mut params = server_params(names, validity)?;
    // A self-signed certificate has no other authority to point at.
    params.use_authority_key_identifier_extension = false;
    let cert = params.self_signed(&key)?;
    Ok(ServerIdentity {
        chain: vec![cert.der().clone()],
        key: private_key_der(&key),
    })
}

/// Loads a certificate chain (leaf first, as servers send it) and its private key from PEM
/// files, and checks that they belong together. Each problem names its file.
pub fn load_pem_files(chain_path: &Path, key_path: &Path) -> Result<ServerIdentity, TlsError> {
    let chain_bytes = std::fs::read(chain_path).map_err(TlsError::io("read", chain_path))?;
    let chain = parse_certificates(chain_path, &chain_bytes)?;
    let key_bytes = std::fs::read(key_path).map_err(TlsError::io("read", key_path))?;
    let key = parse_private_key(key_path, &key_bytes)?;

    let signing_key = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|error| TlsError::BadPrivateKey {
            path: key_path.to_owned(),
            reason: error.to_string(),
        })?;
    let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing_key);
    match certified.keys_match() {
        // `Unknown`: the key cannot tell its public half; rustls accepts that, so do we.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(TlsError::KeyMismatch {
                chain: chain_path.to_owned(),
                key: key_path.to_owned(),
            })
        }
        Err(error) => {
            return Err(TlsError::BadCertificate {
                path: chain_path.to_owned(),
                reason: error.to_string(),
            })
        }
    }
    Ok(ServerIdentity { chain, key })
}

/// Every certificate in a PEM file, in order; at least one.
pub(crate) fn parse_certificates(
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::pem(path, error))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

/// The first private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn parse_private_key(
    path: &Path,
    bytes: &[u8],
) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(bytes).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_owned(),
        },
        other => TlsError::pem(path, other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_start_with_the_loopback_ones_without_repeats() {
        let names = server_names(&["mail.example.test".into(), "localhost".into()]);
        assert_eq!(
            names,
            ["localhost", "127.0.0.1", "::1", "mail.example.test"]
        );
    }

    #[test]
    fn addresses_and_host_names_become_the_right_kind_of_name() {
        let ip = |text: &str| SanType::IpAddress(text.parse().expect("an address"));
        assert_eq!(subject_alt_name("10.0.0.1").expect("valid"), ip("10.0.0.1"));
        assert_eq!(subject_alt_name("::1").expect("valid"), ip("::1"));
        assert_eq!(subject_alt_name("[fe80::1]").expect("valid"), ip("fe80::1"));
        for name in ["mx.example.test", "*.example.test", "LOCALHOST"] {
            assert!(
                matches!(subject_alt_name(name), Ok(SanType::DnsName(ref dns)) if dns.as_str() == name),
                "{name}"
            );
        }
    }

    #[test]
    fn impossible_names_are_refused_by_name() {
        for name in [
            "",
            "two words",
            "bad..dots",
            "ünïcode.test",
            "[10.0.0.1",
            "a/b",
        ] {
            match subject_alt_name(name) {
                Err(TlsError::InvalidName { name: reported }) => assert_eq!(reported, name),
                other => panic!("{name:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn validity_windows_are_on_the_right_side_of_now() {
        let now = SystemTime::now();
        let current = Validity::current();
        assert!(current.not_before < now && now < current.not_after);
        let expired = Validity::expired();
        assert!(expired.not_before < expired.not_after && expired.not_after < now);
    }

    #[test]
    fn a_key_file_without_a_key_says_so() {
        let path = Path::new("/somewhere/key.pem");
        let text = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let error = parse_private_key(path, text).expect_err("no key");
        assert!(matches!(error, TlsError::NoPrivateKey { .. }), "{error}");
        assert!(error.to_string().contains("/somewhere/key.pem"), "{error}");
    }

    #[test]
    fn a_truncated_pem_file_is_named_with_the_reason() {
        let path = Path::new("/somewhere/cert.pem");
        let error = parse_certificates(path, b"-----BEGIN CERTIFICATE-----\nAAAA\n")
            .expect_err("truncated");
        let text = error.to_string();
        assert!(
            text.contains("/somewhere/cert.pem") && text.contains("-----END CERTIFICATE-----"),
            "{text}"
        );
    }
}
