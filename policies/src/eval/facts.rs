//! The request as the proxy's filters see it, computed once per evaluation: the path
//! normalised, header names lower-cased, the peer identity as its `spiffe://` URI, the JWT's
//! issuer and subject. Conditions read these instead of redoing the work per policy.

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::path;
use super::request::{Protocol, Request};

#[derive(Debug)]
pub(crate) struct Facts<'a> {
    pub http: bool,
    pub method: Option<&'a str>,
    /// Normalised, without query and fragment: what `paths` match.
    pub path: Option<String>,
    /// Normalised with the query: what `request.headers[:path]` sees.
    pub path_header: Option<String>,
    pub host: Option<&'a str>,
    /// Lower-cased names; the Host header lives in `host` (`:authority`), as in Envoy.
    pub headers: Vec<(String, &'a str)>,
    /// `spiffe://<principal>`, the certificate URI SAN Envoy matches; `None` without mTLS.
    pub peer: Option<String>,
    pub source_ip: Option<IpAddr>,
    /// Falls back to the connection's address, as Envoy's `remote_ip` does.
    pub remote_ip: Option<IpAddr>,
    pub destination_ip: Option<IpAddr>,
    pub destination_port: Option<u16>,
    pub iss: Option<&'a str>,
    pub sub: Option<&'a str>,
    pub audiences: Vec<&'a str>,
    pub presenter: Option<&'a str>,
    pub claims: Option<&'a Map<String, Value>>,
    pub sni: Option<&'a str>,
    /// Why Envoy answers 400 before any authorization filter runs, if it does.
    pub rejected: Option<String>,
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

impl<'a> Facts<'a> {
    pub fn new(request: &'a Request) -> Self {
        let http = request.protocol == Protocol::Http;
        let source = &request.source;
        let principal = non_empty(source.principal.as_deref());
        let peer = principal.map(|p| {
            if p.starts_with("spiffe://") {
                p.to_owned()
            } else {
                format!("spiffe://{p}")
            }
        });
        let mut facts = Self {
            http,
            method: None,
            path: None,
            path_header: None,
            host: None,
            headers: Vec::new(),
            peer,
            source_ip: source.ip,
            remote_ip: source.remote_ip.or(source.ip),
            destination_ip: request.destination.ip,
            destination_port: request.destination.port,
            iss: None,
            sub: None,
            audiences: Vec::new(),
            presenter: None,
            claims: None,
            sni: non_empty(request.sni.as_deref()),
            rejected: None,
        };
        if http {
            facts.read_http(request);
        }
        facts
    }

    fn read_http(&mut self, request: &'a Request) {
        let http = &request.request;
        let mut method = http.method.as_deref();
        let mut raw_path = http.path.as_deref();
        let mut host = http.host.as_deref();
        for (name, value) in &http.headers {
            let lower = name.to_ascii_lowercase();
            if name.chars().any(char::is_whitespace) {
                self.rejected = Some(format!("the header name {name:?} contains white space"));
            }
            // Pseudo-headers and Host are request fields in Envoy, not ordinary headers.
            match lower.as_str() {
                ":method" => method = method.or(Some(value)),
                ":path" => raw_path = raw_path.or(Some(value)),
                ":authority" | "host" => host = host.or(Some(value)),
                _ => self.headers.push((lower, value.as_str())),
            }
        }
        self.method = method;
        self.host = host;
        if let Some(m) = method
            && m.chars().any(|c| c.is_ascii_lowercase())
        {
            self.rejected = Some(format!("the method {m:?} is not upper case"));
        }
        if let Some(raw) = raw_path {
            match path::normalize(raw) {
                Ok(n) => {
                    self.path = Some(n.path);
                    self.path_header = Some(n.header);
                }
                Err(path::Rejected(why)) => self.rejected = Some(why.to_owned()),
            }
        }
        if let Some(auth) = &http.auth {
            self.read_auth(auth);
        }
    }

    fn read_auth(&mut self, auth: &'a super::request::Auth) {
        let claim = |name: &str| auth.claims.get(name).and_then(Value::as_str);
        match non_empty(auth.principal.as_deref()) {
            Some(p) => match p.rsplit_once('/') {
                Some((iss, sub)) => {
                    self.iss = Some(iss);
                    self.sub = Some(sub);
                }
                None => self.iss = Some(p),
            },
            None => {
                self.iss = claim("iss");
                self.sub = claim("sub");
            }
        }
        self.audiences = if auth.audiences.is_empty() {
            match auth.claims.get("aud") {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            }
        } else {
            auth.audiences.iter().map(String::as_str).collect()
        };
        self.presenter = non_empty(auth.presenter.as_deref()).or_else(|| claim("azp"));
        self.claims = Some(&auth.claims);
    }

    /// A header by lower-cased name; pseudo-headers come from the request fields.
    pub fn header(&self, name: &str) -> Option<&str> {
        match name {
            ":method" => self.method,
            ":path" => self.path_header.as_deref(),
            ":authority" => self.host,
            _ => self
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| *v),
        }
    }

    /// A claim by path (`[a][b]` is `["a", "b"]`): the string values it holds — one for a
    /// string, the string elements for a list; other JSON types hold none (Envoy's string
    /// matchers never match them).
    pub fn claim(&self, path: &[String]) -> Vec<&'a str> {
        let mut value = None;
        let mut map = self.claims;
        for key in path {
            value = map.and_then(|m| m.get(key));
            map = value.and_then(Value::as_object);
        }
        match value {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}
