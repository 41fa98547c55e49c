//! TLS for `https://` and `wss://`: loads a PEM certificate chain and key into a rustls
//! acceptor (ring provider).

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file could not be read or holds no certificate.
    #[error("certificate {path}: {msg}")]
    Cert {
        /// The file.
        path: String,
        /// What went wrong.
        msg: String,
    },
    /// The key file could not be read or holds no private key.
    #[error("private key {path}: {msg}")]
    Key {
        /// The file.
        path: String,
        /// What went wrong.
        msg: String,
    },
    /// rustls refused the pair (e.g. key does not match the certificate).
    #[error("tls configuration: {0}")]
    Config(#[from] tokio_rustls::rustls::Error),
}

/// A TLS acceptor for the given PEM files. ALPN offers HTTP/1.1 only (WebSocket upgrades
/// need it).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Cert {
            path: cert.display().to_string(),
            msg: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Cert {
            path: cert.display().to_string(),
            msg: "no certificate found".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        msg: e.to_string(),
    })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
