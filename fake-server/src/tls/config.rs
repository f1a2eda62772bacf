//! The rustls server configuration, and what a finished handshake tells the transcript.
//!
//! The crypto provider is always `ring`, passed explicitly: never the process-wide default,
//! which another crate in the same program (a test's client, say) may have set to
//! something else, and never aws-lc-rs, which needs cmake and is slower to build here.

use std::sync::Arc;

use rustls::{
    CipherSuite, ProtocolVersion, ServerConfig, ServerConnection, SupportedProtocolVersion,
};
use serde::{Deserialize, Serialize};

use super::certs::ServerIdentity;
use super::error::TlsError;

/// Which TLS versions the server accepts. A client that offers none of them fails the
/// handshake with a `protocol_version` alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.2 and TLS 1.3 (1.3 preferred).
    #[default]
    Tls12AndTls13,
    Tls12Only,
    Tls13Only,
}

static TLS12_AND_TLS13: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
static TLS12_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

impl TlsVersions {
    fn protocol_versions(self) -> &'static [&'static SupportedProtocolVersion] {
        match self {
            TlsVersions::Tls12AndTls13 => TLS12_AND_TLS13,
            TlsVersions::Tls12Only => TLS12_ONLY,
            TlsVersions::Tls13Only => TLS13_ONLY,
        }
    }
}

/// A server configuration presenting `identity`, accepting `versions`, asking no client
/// certificate.
pub fn server_config(
    identity: ServerIdentity,
    versions: TlsVersions,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions.protocol_versions())?
        .with_no_client_auth()
        .with_single_cert(identity.chain, identity.key)?;
    Ok(Arc::new(config))
}

/// What a session's transcript records about its TLS: the version and cipher suite agreed,
/// and the server name the client asked for (SNI), if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// `TLSv1.2` or `TLSv1.3`, as OpenSSL prints them.
    pub version: String,
    /// The IANA name, e.g. `TLS_AES_256_GCM_SHA384` or
    /// `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`.
    pub cipher_suite: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
}

impl TlsInfo {
    /// Reads a connection whose handshake is complete; `None` while it is still going on.
    pub fn from_connection(connection: &ServerConnection) -> Option<TlsInfo> {
        let version = connection.protocol_version()?;
        let suite = connection.negotiated_cipher_suite()?;
        Some(TlsInfo {
            version: version_name(version),
            cipher_suite: cipher_suite_name(suite.suite()),
            sni: connection.server_name().map(str::to_owned),
        })
    }
}

impl From<TlsInfo> for smtp_protocol::transcript::Event {
    fn from(info: TlsInfo) -> Self {
        smtp_protocol::transcript::Event::TlsEstablished {
            version: info.version,
            cipher: info.cipher_suite,
            sni: info.sni,
        }
    }
}

fn version_name(version: ProtocolVersion) -> String {
    match version {
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        other => format!("0x{:04x}", u16::from(other)),
    }
}

/// rustls names the TLS 1.3 suites `TLS13_…`; the IANA registry (and OpenSSL, and Python's
/// `ssl`) calls them `TLS_…`. The TLS 1.2 names are the IANA ones already.
fn cipher_suite_name(suite: CipherSuite) -> String {
    match suite.as_str() {
        Some(name) => match name.strip_prefix("TLS13_") {
            Some(rest) => format!("TLS_{rest}"),
            None => name.to_owned(),
        },
        None => format!("0x{:04x}", u16::from(suite)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_named_as_openssl_names_them() {
        assert_eq!(version_name(ProtocolVersion::TLSv1_2), "TLSv1.2");
        assert_eq!(version_name(ProtocolVersion::TLSv1_3), "TLSv1.3");
        assert_eq!(version_name(ProtocolVersion::Unknown(0x7f1c)), "0x7f1c");
    }

    #[test]
    fn cipher_suites_get_their_iana_names() {
        assert_eq!(
            cipher_suite_name(CipherSuite::TLS13_AES_256_GCM_SHA384),
            "TLS_AES_256_GCM_SHA384"
        );
        assert_eq!(
            cipher_suite_name(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(cipher_suite_name(CipherSuite::Unknown(0xabcd)), "0xabcd");
    }

    #[test]
    fn each_choice_offers_exactly_its_versions() {
        let offered = |versions: TlsVersions| -> Vec<ProtocolVersion> {
            versions
                .protocol_versions()
                .iter()
                .map(|v| v.version)
                .collect()
        };
        use ProtocolVersion::{TLSv1_2, TLSv1_3};
        assert_eq!(offered(TlsVersions::Tls12AndTls13), [TLSv1_3, TLSv1_2]);
        assert_eq!(offered(TlsVersions::Tls12Only), [TLSv1_2]);
        assert_eq!(offered(TlsVersions::Tls13Only), [TLSv1_3]);
    }

    #[test]
    fn info_serialises_without_an_absent_sni() {
        let info = TlsInfo {
            version: "TLSv1.3".into(),
            cipher_suite: "TLS_AES_128_GCM_SHA256".into(),
            sni: None,
        };
        assert_eq!(
            serde_json::to_string(&info).expect("serialises"),
            r#"{"version":"TLSv1.3","cipher_suite":"TLS_AES_128_GCM_SHA256"}"#
        );
    }
}
