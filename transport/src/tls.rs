//! Mutual TLS between nodes: every node proves a certificate from the
//! cluster's CA, as client and as server, over TLS 1.3 only.
//!
//! A node's identity is its certificate, not its host name: every node
//! certificate names [`SERVER_NAME`], and a peer is accepted when its chain
//! leads to the cluster CA. [`Tls::development`] makes such a CA and node
//! certificates in a folder for development; production loads PEM files
//! issued by the cluster's own CA with [`Tls::from_pem_files`].
//!
//! The configs use ring as an explicit crypto provider, so no process-wide
//! provider has to be installed first.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The name every node certificate carries and every client checks.
pub const SERVER_NAME: &str = "courier-node";

/// The ALPN protocol of courier's wire, version 1.
pub const ALPN: &[u8] = b"courier/1";

/// The distinguished name of a development CA.
const DEV_CA_NAME: &str = "courier development CA";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// A file does not hold what it should.
    #[error("{path}: {detail}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// Certificates could not be generated.
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls or quinn refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A node's TLS identity: the cluster CA, and the node's certificate chain
/// and private key.
#[derive(Debug)]
pub struct Tls {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for Tls {
    fn clone(&self) -> Self {
        Tls { ca: self.ca.clone(), chain: self.chain.clone(), key: self.key.clone_key() }
    }
}

impl Tls {
    /// Loads the cluster CA's certificate, the node's certificate chain and
    /// its private key, all PEM.
    pub fn from_pem_files(ca: &Path, cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let ca = CertificateDer::from_pem_file(ca).map_err(|error| pem_error(ca, error))?;
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|error| pem_error(cert, error))?;
        if chain.is_empty() {
            return Err(TlsError::Pem { path: cert.to_owned(), detail: "no certificate".to_owned() });
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|error| pem_error(key, error))?;
        Ok(Tls { ca, chain, key })
    }

    /// A development identity for node `node` in `dir`: makes the folder, a
    /// CA (`ca.pem`, `ca.key`) unless one is there, and a certificate for
    /// the node signed by it (`{node}.pem`, `{node}.key`) unless one is
    /// there, then loads them. Every node given the same folder trusts the
    /// others. Not for production: the CA's key sits beside the certificates.
    pub fn development(dir: &Path, node: &str) -> Result<Tls, TlsError> {
        fs::create_dir_all(dir).map_err(|error| io_error(dir, error))?;
        let (ca_pem, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
        if !ca_pem.exists() || !ca_key.exists() {
            let key = rcgen::KeyPair::generate()?;
            let cert = ca_params()?.self_signed(&key)?;
            write_new(&ca_key, &key.serialize_pem())?;
            write_new(&ca_pem, &cert.pem())?;
        }
        let (node_pem, node_key) = (dir.join(format!("{node}.pem")), dir.join(format!("{node}.key")));
        if !node_pem.exists() || !node_key.exists() {
            let ca_key_pem = fs::read_to_string(&ca_key).map_err(|error| io_error(&ca_key, error))?;
            let issuer_key = rcgen::KeyPair::from_pem(&ca_key_pem)?;
            let issuer = rcgen::Issuer::new(ca_params()?, issuer_key);
            let key = rcgen::KeyPair::generate()?;
            let mut params = rcgen::CertificateParams::new(vec![SERVER_NAME.to_owned()])?;
            params.distinguished_name.push(rcgen::DnType::CommonName, node);
            params.extended_key_usages =
                vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
            let cert = params.signed_by(&key, &issuer)?;
            write_new(&node_key, &key.serialize_pem())?;
            write_new(&node_pem, &cert.pem())?;
        }
        Tls::from_pem_files(&ca_pem, &node_pem, &node_key)
    }

    /// The server side: TLS 1.3, and a client certificate from the cluster
    /// CA required.
    pub fn server_config(&self) -> Result<quinn::ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(self.roots()?, provider.clone())
            .build()
            .map_err(config_error)?;
        let mut crypto = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(config_error)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(config_error)?;
        crypto.alpn_protocols = vec![ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(crypto).map_err(config_error)?;
        Ok(quinn::ServerConfig::with_crypto(Arc::new(crypto)))
    }

    /// The client side: TLS 1.3, the server checked against the cluster CA,
    /// this node's certificate offered.
    pub fn client_config(&self) -> Result<quinn::ClientConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut crypto = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(config_error)?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(config_error)?;
        crypto.alpn_protocols = vec![ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(crypto).map_err(config_error)?;
        Ok(quinn::ClientConfig::new(Arc::new(crypto)))
    }

    fn roots(&self) -> Result<Arc<rustls::RootCertStore>, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.clone()).map_err(config_error)?;
        Ok(Arc::new(roots))
    }
}

/// The development CA's parameters; the same every time, so that a node
/// certificate made later is issued under the name on `ca.pem`.
fn ca_params() -> Result<rcgen::CertificateParams, rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(rcgen::DnType::CommonName, DEV_CA_NAME);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    Ok(params)
}

/// Writes a file that must not exist yet, readable by its owner only when
/// the platform allows.
fn write_new(path: &Path, contents: &str) -> Result<(), TlsError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|error| io_error(path, error))?;
    std::io::Write::write_all(&mut file, contents.as_bytes()).map_err(|error| io_error(path, error))
}

fn io_error(path: &Path, error: std::io::Error) -> TlsError {
    TlsError::Io { path: path.to_owned(), error }
}

fn pem_error(path: &Path, error: rustls::pki_types::pem::Error) -> TlsError {
    TlsError::Pem { path: path.to_owned(), detail: error.to_string() }
}

fn config_error(error: impl std::fmt::Display) -> TlsError {
    TlsError::Config(error.to_string())
}
