//! A synchronous client for one repository of a distribution-spec (v2) registry.
//!
//! HTTPS always, except plain HTTP for loopback registries (localhost, 127.0.0.0/8,
//! [::1]) and those the user lists in `insecure_registries`. Every request goes
//! through [`Client::request`], which answers a `401` once by following the
//! challenge (Basic credentials, or a Bearer token fetched from the realm) and follows
//! redirects itself, so it can keep its promise that the `Authorization` header is
//! only ever sent to the registry's own host: blob downloads are commonly redirected to
//! a CDN that must not see the user's token.
//!
//! ureq runs on the calling thread and is configured without a resolve timeout, the
//! one feature that would make it spawn a thread: a pull can run in the same process
//! that then unshares a user namespace, which a second thread would make fail.

use std::fs::File;
use std::io::{Read, Seek};
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ureq::http::{Method, Request, Response, Uri};

use super::auth::{self, Challenge, Credentials, TokenResponse};
use super::manifest;
use crate::base::config::Config;
use crate::image::reference::Reference;

/// At most this many redirects are followed for one request.
const MAX_REDIRECTS: u32 = 5;
/// Manifests are small; a larger answer is refused rather than buffered.
const MAX_MANIFEST: u64 = 8 * 1024 * 1024;

/// A request body that can be sent again (after a 401 or a 307).
#[derive(Clone, Copy)]
pub enum Body<'a> {
    /// No body.
    Empty,
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A whole file, rewound before each send.
    File(&'a File),
}

/// A client for `reference`'s repository.
pub struct Client {
    agent: ureq::Agent,
    /// `http` or `https`.
    scheme: &'static str,
    /// `host[:port]` of the registry API.
    host: String,
    /// Registry as named in references (for credential lookup and messages).
    registry: String,
    repository: String,
    credentials: Option<Credentials>,
    /// The `Authorization` value earned so far (Basic or Bearer).
    authorization: Option<String>,
    /// Ask tokens for push rights too.
    push: bool,
    /// A mirror from `[registry_mirrors]`, not the registry itself.
    mirror: bool,
}

/// True for hosts jig may speak plain HTTP to without being told.
pub fn is_loopback(host_port: &str) -> bool {
    let host = host_of(host_port);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.octets()[0] == 127,
        Ok(IpAddr::V6(v6)) => v6 == Ipv6Addr::LOCALHOST,
        Err(_) => false,
    }
}

/// `host` from `host[:port]` (IPv6 literals keep their brackets).
fn host_of(host_port: &str) -> &str {
    if host_port.starts_with('[') {
        return host_port.find(']').map_or(host_port, |i| &host_port[..=i]);
    }
    host_port.split(':').next().unwrap_or(host_port)
}

fn scheme_for(host: &str, registry: &str, config: &Config) -> &'static str {
    let listed = config.insecure_registries.iter().any(|r| {
        let r = r.trim_start_matches("http://").trim_end_matches('/');
        r == host || r == registry || r == host_of(host)
    });
    if listed || is_loopback(host) {
        "http"
    } else {
        "https"
    }
}

/// The clients a pull of `reference` tries, in order: one per mirror `[registry_mirrors]`
/// lists for its registry, then the registry itself. A mirror gets its own
/// credentials (those configured for its host), never the registry's.
pub fn pull_clients(reference: &Reference) -> Result<Vec<Client>> {
    let config = crate::base::config::load()?;
    let mut out = Vec::new();
    for m in config
        .registry_mirrors
        .get(&reference.registry)
        .into_iter()
        .flatten()
    {
        let mut c = Client::at(reference, false, &config, &m.host, &m.host)?;
        c.scheme = if m.http { "http" } else { "https" };
        c.mirror = true;
        out.push(c);
    }
    out.push(Client::at(
        reference,
        false,
        &config,
        reference.api_host(),
        &reference.registry,
    )?);
    Ok(out)
}

impl Client {
    /// A client for `reference`'s repository; `push` asks for push rights.
    pub fn new(reference: &Reference, push: bool) -> Result<Client> {
        let config = crate::base::config::load()?;
        Client::at(
            reference,
            push,
            &config,
            reference.api_host(),
            &reference.registry,
        )
    }

    /// A client for `reference`'s repository at `host` (the registry's API host or a
    /// mirror), known as `registry` for credentials and messages.
    fn at(
        reference: &Reference,
        push: bool,
        config: &Config,
        host: &str,
        registry: &str,
    ) -> Result<Client> {
        let credentials = auth::lookup(registry, config)?;
        let host = host.to_owned();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // No Accept-Encoding: blobs must arrive byte for byte as hashed.
            .accept_encoding(ureq::config::AutoHeaderValue::None)
            .user_agent(concat!("jig/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .timeout_per_write(Some(Duration::from_secs(120)))
            .build()
            .new_agent();
        Ok(Client {
            agent,
            scheme: scheme_for(&host, registry, config),
            host,
            registry: registry.to_owned(),
            repository: reference.repository.clone(),
            credentials,
            authorization: None,
            push,
            mirror: false,
        })
    }

    /// `mirror HOST` or the registry's name, for messages.
    pub fn name(&self) -> String {
        if self.mirror {
            format!("mirror {}://{}", self.scheme, self.host)
        } else {
            self.registry.clone()
        }
    }

    /// The URL of an API path below `/v2/<repository>/`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}://{}/v2/{}/{path}",
            self.scheme, self.host, self.repository
        )
    }

    /// Sends a request, answering one authentication challenge and following
    /// redirects. Any final status is returned; callers judge it.
    pub fn request(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<Response<ureq::Body>> {
        let mut answered = false;
        loop {
            let resp = self.send_following(method.clone(), url, headers, body)?;
            if resp.status() != 401 || answered {
                return Ok(resp);
            }
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            self.answer(challenge.as_deref())?;
            answered = true;
        }
    }

    fn send_following(
        &self,
        mut method: Method,
        url: &str,
        headers: &[(&str, &str)],
        mut body: Body,
    ) -> Result<Response<ureq::Body>> {
        let mut url = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let uri: Uri = url
                .parse()
                .with_context(|| format!("invalid URL from the registry: {url}"))?;
            let mut req = Request::builder().method(method.clone()).uri(&uri);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            // The credentials are the registry's: a redirect target on another host
            // (a CDN, or anything a hostile registry names) never sees them.
            if sends_credentials(&uri, &self.host)
                && let Some(a) = &self.authorization
            {
                req = req.header("authorization", a.as_str());
            }
            let resp = match body {
                Body::Empty => self.agent.run(req.body(())?),
                Body::Bytes(b) => self.agent.run(req.body(b)?),
                Body::File(f) => {
                    let mut f = f;
                    f.rewind().context("rewinding the upload file")?;
                    self.agent.run(req.body(f)?)
                }
            }
            .map_err(|e| self.transport_error(&url, e))?;
            let status = resp.status().as_u16();
            if !matches!(status, 301 | 302 | 303 | 307 | 308) {
                return Ok(resp);
            }
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| anyhow!("the registry redirected without a Location"))?;
            let next = resolve_location(&uri, location)?;
            if uri.scheme_str() == Some("https") && next.starts_with("http:") {
                bail!("the registry redirected {url} to plain HTTP ({next}); refusing");
            }
            if status == 303 || ((status == 301 || status == 302) && method == Method::POST) {
                method = Method::GET;
                body = Body::Empty;
            }
            url = next;
        }
        bail!("too many redirects fetching {url}")
    }

    fn transport_error(&self, url: &str, e: ureq::Error) -> anyhow::Error {
        let e = anyhow!("cannot reach the registry at {url}: {e}");
        if self.scheme != "https" {
            return e;
        }
        crate::base::error::hinted(
            e,
            format!(
                "if {} serves plain HTTP, add it to insecure_registries in {}",
                self.host,
                crate::base::config::path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "jig's config.toml".into())
            ),
        )
    }

    /// Turns a 401 challenge into an `Authorization` value for the next try.
    fn answer(&mut self, challenge: Option<&str>) -> Result<()> {
        let no_creds_hint = format!(
            "add credentials for {} to ~/.docker/config.json (`auths`) or to [auths.\"{}\"] in {}",
            self.registry,
            self.registry,
            crate::base::config::path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "jig's config.toml".into())
        );
        match challenge.and_then(auth::parse_challenge) {
            Some(Challenge::Basic) => {
                let Some(c) = &self.credentials else {
                    return Err(crate::base::error::hinted(
                        format!("{} requires a login", self.registry),
                        no_creds_hint,
                    ));
                };
                self.authorization = Some(c.basic_header());
                Ok(())
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let actions = if self.push { "pull,push" } else { "pull" };
                let scope =
                    scope.unwrap_or_else(|| format!("repository:{}:{actions}", self.repository));
                let token = self.fetch_token(&realm, service.as_deref(), &scope)?;
                self.authorization = Some(format!("Bearer {token}"));
                Ok(())
            }
            None => Err(crate::base::error::hinted(
                format!(
                    "{} refused access and sent no challenge jig understands ({})",
                    self.registry,
                    challenge.unwrap_or("no WWW-Authenticate header")
                ),
                no_creds_hint,
            )),
        }
    }

    fn fetch_token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String> {
        let realm_uri: Uri = realm
            .parse()
            .with_context(|| format!("the registry's token realm \"{realm}\" is not a URL"))?;
        let realm_host = realm_uri.authority().map(|a| a.as_str()).unwrap_or("");
        // Credentials travel to the token server, so it must be HTTPS unless it is on
        // this machine.
        if realm_uri.scheme_str() != Some("https") && !is_loopback(realm_host) {
            bail!(
                "the registry's token realm {realm} is not HTTPS; refusing to send credentials there"
            );
        }
        let mut url = realm.to_owned();
        let mut sep = if realm.contains('?') { '&' } else { '?' };
        if let Some(s) = service {
            url.push_str(&format!("{sep}service={}", percent_encode(s)));
            sep = '&';
        }
        url.push_str(&format!("{sep}scope={}", percent_encode(scope)));
        let mut req = Request::builder().method(Method::GET).uri(&url);
        if let Some(c) = &self.credentials {
            req = req.header("authorization", c.basic_header());
        }
        let mut resp = self
            .agent
            .run(req.body(())?)
            .map_err(|e| anyhow!("cannot reach the token server {realm}: {e}"))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(crate::base::error::hinted(
                format!(
                    "the token server {realm} refused {} (HTTP {status})",
                    if self.credentials.is_some() {
                        "the configured credentials"
                    } else {
                        "anonymous access"
                    }
                ),
                format!(
                    "check the user name and password configured for {}",
                    self.registry
                ),
            ));
        }
        if status != 200 {
            bail!("the token server {realm} answered HTTP {status}");
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_MANIFEST)
            .read_to_vec()
            .context("reading the token response")?;
        let parsed: TokenResponse =
            serde_json::from_slice(&body).context("the token response is not valid JSON")?;
        parsed
            .into_token()
            .ok_or_else(|| anyhow!("the token server {realm} sent no token"))
    }

    /// Fetches a manifest by tag or digest: (body, content type). The caller verifies
    /// the digest.
    pub fn manifest(&mut self, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
        let url = self.url(&format!("manifests/{reference}"));
        let mut resp = self.request(
            Method::GET,
            &url,
            &[("accept", manifest::ACCEPT)],
            Body::Empty,
        )?;
        self.check(&mut resp, &format!("manifest {reference}"))?;
        let content_type = header(&resp, "content-type");
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_MANIFEST)
            .read_to_vec()
            .with_context(|| format!("reading manifest {reference}"))?;
        Ok((body, content_type))
    }

    /// The digest a tag points at, from a HEAD request (cheap: registries do not count
    /// HEADs against pull limits). `None` if the registry does not say.
    pub fn manifest_digest(&mut self, reference: &str) -> Result<Option<String>> {
        let url = self.url(&format!("manifests/{reference}"));
        let mut resp = self.request(
            Method::HEAD,
            &url,
            &[("accept", manifest::ACCEPT)],
            Body::Empty,
        )?;
        self.check(&mut resp, &format!("manifest {reference}"))?;
        Ok(header(&resp, "docker-content-digest").filter(|d| d.starts_with("sha256:")))
    }

    /// Starts downloading a blob: its body reader.
    pub fn blob(&mut self, digest: &str) -> Result<impl Read + use<>> {
        let url = self.url(&format!("blobs/{digest}"));
        let mut resp = self.request(Method::GET, &url, &[], Body::Empty)?;
        self.check(&mut resp, &format!("blob {digest}"))?;
        Ok(resp.into_body().into_reader())
    }

    /// True if the repository already has the blob.
    pub fn has_blob(&mut self, digest: &str) -> Result<bool> {
        let url = self.url(&format!("blobs/{digest}"));
        let mut resp = self.request(Method::HEAD, &url, &[], Body::Empty)?;
        if resp.status() == 404 {
            return Ok(false);
        }
        self.check(&mut resp, &format!("blob {digest}"))?;
        Ok(true)
    }

    /// Uploads a blob in one request (POST to open an upload, PUT with the digest).
    pub fn upload_blob(&mut self, digest: &str, body: Body) -> Result<()> {
        let url = self.url("blobs/uploads/");
        let mut resp = self.request(Method::POST, &url, &[], Body::Empty)?;
        self.check(&mut resp, "starting a blob upload")?;
        let location = header(&resp, "location")
            .ok_or_else(|| anyhow!("the registry opened an upload without a Location"))?;
        let base: Uri = url.parse()?;
        let mut put = resolve_location(&base, &location)?;
        put.push(if put.contains('?') { '&' } else { '?' });
        put.push_str(&format!("digest={}", percent_encode(digest)));
        let mut resp = self.request(
            Method::PUT,
            &put,
            &[("content-type", "application/octet-stream")],
            body,
        )?;
        self.check(&mut resp, &format!("uploading blob {digest}"))?;
        Ok(())
    }

    /// Uploads a manifest under `tag`.
    pub fn put_manifest(&mut self, tag: &str, media_type: &str, body: &[u8]) -> Result<()> {
        let url = self.url(&format!("manifests/{tag}"));
        let mut resp = self.request(
            Method::PUT,
            &url,
            &[("content-type", media_type)],
            Body::Bytes(body),
        )?;
        self.check(&mut resp, &format!("uploading manifest {tag}"))
    }

    /// `scheme://host[:port]` of the registry API, for a relative `Link` header.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// Turns a non-success status into an error that says what to do.
    pub fn check(&self, resp: &mut Response<ureq::Body>, what: &str) -> Result<()> {
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        // Registries explain errors in a small JSON document; show its messages.
        let detail = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| {
                let msgs: Vec<String> = v
                    .get("errors")?
                    .as_array()?
                    .iter()
                    .map(|e| {
                        let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
                        let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
                        format!("{code} {msg}").trim().to_owned()
                    })
                    .collect();
                (!msgs.is_empty()).then(|| format!(" ({})", msgs.join("; ")))
            })
            .unwrap_or_default();
        let place = format!("{}/{}", self.registry, self.repository);
        match status {
            401 | 403 => Err(crate::base::error::hinted(
                format!("{place}: access to {what} denied (HTTP {status}){detail}"),
                format!(
                    "check the credentials for {} in ~/.docker/config.json or jig's config.toml",
                    self.registry
                ),
            )),
            404 => Err(crate::base::error::hinted(
                format!("{place}: {what} not found (HTTP 404){detail}"),
                "check the repository name and tag",
            )),
            429 => Err(crate::base::error::hinted(
                format!("{place}: the registry is rate-limiting requests (HTTP 429){detail}"),
                "wait, or log in to raise the limit",
            )),
            _ => bail!("{place}: {what} failed with HTTP {status}{detail}"),
        }
    }
}

fn header(resp: &Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// True if a request to `uri` may carry the registry's `Authorization`: only when it
/// goes to the registry's own `host[:port]` (a different port is a different server).
fn sends_credentials(uri: &Uri, host: &str) -> bool {
    uri.authority()
        .is_some_and(|a| a.as_str().eq_ignore_ascii_case(host))
}

/// Resolves a `Location` header against the URL that answered with it.
fn resolve_location(base: &Uri, location: &str) -> Result<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Ok(location.to_owned());
    }
    let scheme = base.scheme_str().unwrap_or("https");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    if let Some(rest) = location.strip_prefix("//") {
        return Ok(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Ok(format!("{scheme}://{authority}{location}"));
    }
    let path = base.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    Ok(format!("{scheme}://{authority}{dir}{location}"))
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
