//! TLS for every listener (`--tls-cert`, `--tls-key`, and `--tls-client-ca` for mTLS): rustls
//! with the ring provider, one certificate shared by all listeners and re-read when its files
//! change (cert-manager rotates them in place), keeping the last good one when the new files
//! are broken.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// How often the certificate and key files are checked for a change.
pub const RELOAD_CHECK: Duration = Duration::from_secs(5);

/// The PEM files the listeners' TLS is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate, followed by any intermediates.
    pub cert: PathBuf,
    /// The certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CAs a client certificate must chain to; `None`: clients present none.
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    // The cause is in the message, not a `source`: `{:#}` would print it twice.
    #[error("cannot read {what} {path}: {error}")]
    Read {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} holds no PEM {what}")]
    Missing { what: &'static str, path: PathBuf },
    #[error("{path} is not valid PEM: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("the key {key} cannot be used with the certificate {cert}: {error}")]
    Key {
        cert: PathBuf,
        key: PathBuf,
        error: rustls::Error,
    },
    #[error("the client CA bundle {path} cannot be used: {message}")]
    ClientCa { path: PathBuf, message: String },
    #[error("cannot set up TLS: {0}")]
    Config(rustls::Error),
}

/// Reads and checks the files as [`super::Collector::start`] will, for a startup error before
/// anything else is set up.
pub fn check(files: &TlsFiles) -> Result<(), TlsError> {
    Tls::load(files).map(drop)
}

/// The listeners' TLS: one acceptor for the HTTP listeners (ALPN h2 and http/1.1) and one for
/// gRPC (h2 only), sharing a certificate that [`Tls::reload_if_changed`] keeps current.
#[derive(Clone)]
pub(crate) struct Tls {
    cert: Arc<ReloadingCert>,
    pub http: TlsAcceptor,
    pub grpc: TlsAcceptor,
    pub mutual: bool,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert.files.cert)
            .field("mutual", &self.mutual)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads and checks every file (a key that does not match the certificate is an error
    /// here, not at the first handshake).
    pub fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        let provider = provider();
        let cert = Arc::new(ReloadingCert::load(files.clone(), provider.clone())?);
        let verifier = match &files.client_ca {
            None => None,
            Some(path) => Some(client_verifier(path, provider.clone())?),
        };
        let config = |alpn: &[&[u8]]| -> Result<TlsAcceptor, TlsError> {
            let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(TlsError::Config)?;
            let builder = match &verifier {
                Some(verifier) => builder.with_client_cert_verifier(verifier.clone()),
                None => builder.with_no_client_auth(),
            };
            let mut config = builder.with_cert_resolver(cert.clone());
            config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Ok(TlsAcceptor::from(Arc::new(config)))
        };
        Ok(Self {
            http: config(&[b"h2", b"http/1.1"])?,
            grpc: config(&[b"h2"])?,
            mutual: verifier.is_some(),
            cert,
        })
    }

    /// Re-reads the certificate and key if either file changed since the last look.
    pub fn reload_if_changed(&self) {
        self.cert.reload_if_changed();
    }

    /// Checks the files every [`RELOAD_CHECK`] until `stopped` turns true.
    pub async fn watch(self, mut stopped: watch::Receiver<bool>) {
        let mut interval = tokio::time::interval(RELOAD_CHECK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = stopped.wait_for(|&stop| stop) => return,
            }
            let tls = self.clone();
            // Reading files blocks: off the runtime's workers.
            let _ = tokio::task::spawn_blocking(move || tls.reload_if_changed()).await;
        }
    }
}

/// ring, named explicitly: rustls' process-wide default would be whichever provider another
/// crate in the build happened to enable.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_verifier(
    path: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path, "CA certificate")? {
        roots.add(cert).map_err(|error| TlsError::ClientCa {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|error| TlsError::ClientCa {
            path: path.to_owned(),
            message: error.to_string(),
        })
}

/// Every certificate in a PEM file; none is an error.
pub fn read_certs(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    read_certs_pem(path, what).map(|(_, certs)| certs)
}

/// A PEM file of certificates (none is an error): its text and the certificates.
pub(crate) fn read_certs_pem(
    path: &Path,
    what: &'static str,
) -> Result<(Vec<u8>, Vec<CertificateDer<'static>>), TlsError> {
    let pem = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(path, what, error))?;
    if certs.is_empty() {
        return Err(TlsError::Missing {
            what,
            path: path.to_owned(),
        });
    }
    Ok((pem, certs))
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    read_key_pem(path, "private key").map(|(_, key)| key)
}

/// A PEM file's private key: its text and the key.
pub(crate) fn read_key_pem(
    path: &Path,
    what: &'static str,
) -> Result<(Vec<u8>, PrivateKeyDer<'static>), TlsError> {
    let pem = read(path, what)?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|error| pem_error(path, what, error))?;
    Ok((pem, key))
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        what,
        path: path.to_owned(),
        error,
    })
}

fn pem_error(path: &Path, what: &'static str, error: rustls_pki_types::pem::Error) -> TlsError {
    match error {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::Missing {
            what,
            path: path.to_owned(),
        },
        other => TlsError::Pem {
            path: path.to_owned(),
            message: format!("{other:?}"),
        },
    }
}

/// The certificate handed to every handshake, swapped when the files change.
#[derive(Debug)]
struct ReloadingCert {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' state when last looked at, loaded or not (a broken pair is reported once).
    seen: Mutex<Option<Stamp>>,
}

/// What tells a file changed: its modification time and length (cert-manager's secret
/// volumes swap a symlink, which `metadata` follows).
type Stamp = [(Option<SystemTime>, u64); 2];

impl ReloadingCert {
    fn load(files: TlsFiles, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let seen = stamp(&files);
        let key = certified_key(&files, &provider)?;
        Ok(Self {
            files,
            provider,
            current: RwLock::new(Arc::new(key)),
            seen: Mutex::new(seen),
        })
    }

    fn reload_if_changed(&self) {
        let now = stamp(&self.files);
        {
            let mut seen = match self.seen.lock() {
                Ok(seen) => seen,
                Err(poisoned) => poisoned.into_inner(),
            };
            if now.is_none() || *seen == now {
                if now.is_none() && seen.is_some() {
                    tracing::error!(
                        cert = %self.files.cert.display(),
                        key = %self.files.key.display(),
                        "TLS certificate or key is gone: keeping the current certificate"
                    );
                    *seen = None;
                }
                return;
            }
            *seen = now;
        }
        match certified_key(&self.files, &self.provider) {
            Ok(key) => {
                let key = Arc::new(key);
                match self.current.write() {
                    Ok(mut current) => *current = key,
                    Err(poisoned) => *poisoned.into_inner() = key,
                }
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
            }
            Err(error) => {
                tracing::error!("TLS certificate not reloaded, keeping the current one: {error}")
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        })
    }
}

fn stamp(files: &TlsFiles) -> Option<Stamp> {
    let one = |path: &Path| {
        std::fs::metadata(path)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    Some([one(&files.cert)?, one(&files.key)?])
}

fn certified_key(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let certs = read_certs(&files.cert, "certificate")?;
    let key = read_key(&files.key)?;
    pair(&files.cert, &files.key, certs, key, provider)
}

/// A certificate chain with its key, checked to belong together (files named in the error).
pub(crate) fn pair(
    cert_path: &Path,
    key_path: &Path,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let key_error = |error| TlsError::Key {
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        error,
    };
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(key_error)?;
    let certified = CertifiedKey::new(certs, signing);
    match certified.keys_match() {
        // A key type that cannot tell its public half is checked at the first handshake.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(error) => Err(key_error(error)),
    }
}
