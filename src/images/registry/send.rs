//! Sending a request: bounded retries, then one answer to an authentication challenge
//! (Basic with the credentials, or Bearer with a token from the challenge's realm).

use super::headers::{parse_challenge, scope_key};
use super::{RegistryClient, RegistryError};
use crate::images::auth::Credentials;
use reqwest::{Method, StatusCode, header};
use std::sync::atomic::Ordering;
use url::Url;

impl RegistryClient {
    /// Sends one request: retries connection errors and 502/503/504, then answers one
    /// authentication challenge.
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        accept: Option<&str>,
        body: Option<(String, Vec<u8>)>,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut response = self
            .send_retrying(&method, path, accept, body.clone(), None)
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let auth = self.answer(path, challenge.as_deref()).await?;
            response = self
                .send_retrying(&method, path, accept, body, Some(auth))
                .await?;
            if response.status() == StatusCode::UNAUTHORIZED {
                return Err(RegistryError::AuthRefused {
                    url: self.url(path).to_string(),
                    had_credentials: self.credentials.is_some(),
                });
            }
        }
        Ok(response)
    }

    async fn send_retrying(
        &self,
        method: &Method,
        path: &str,
        accept: Option<&str>,
        body: Option<(String, Vec<u8>)>,
        auth: Option<String>,
    ) -> Result<reqwest::Response, RegistryError> {
        let url = self.url(path);
        let auth = auth.or_else(|| self.known_auth(path));
        let mut backoff = self.retry.start_for(&crate::net::server_of(url.as_str()));
        loop {
            let mut req = self.http.request(method.clone(), url.clone());
            if let Some(a) = accept {
                req = req.header(header::ACCEPT, a);
            }
            if let Some(a) = &auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            if let Some((content_type, bytes)) = &body {
                req = req
                    .header(header::CONTENT_TYPE, content_type)
                    .body(bytes.clone());
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let traced = crate::net::trace(method.as_str(), url.as_str());
            let result = req.send().await;
            traced.done(match &result {
                Ok(r) => Ok(r.status().as_u16()),
                Err(e) => Err(crate::net::Failure::of(e).to_string()),
            });
            let pause = match result {
                Ok(r) if matches!(r.status().as_u16(), 502..=504) => {
                    let reason = r.status().to_string();
                    match backoff.retry(crate::net::retry_after(r.headers()), &reason) {
                        Some(pause) => pause,
                        None => {
                            return Err(RegistryError::Unavailable {
                                url: url.to_string(),
                                status: r.status(),
                                attempts: backoff.attempts() as usize,
                            });
                        }
                    }
                }
                Ok(r) => return Ok(r),
                Err(e) => match backoff.retry(None, &crate::net::Failure::of(&e).to_string()) {
                    Some(pause) => pause,
                    None => {
                        return Err(RegistryError::Unreachable {
                            url: url.to_string(),
                            attempts: backoff.attempts() as usize,
                            reason: crate::net::Failure::of(&e)
                                .naming(&crate::net::server_of(url.as_str())),
                            source: e,
                        });
                    }
                },
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Authorization known before asking: Basic once the registry asked for it, or a
    /// Bearer token already fetched for this path's repository.
    fn known_auth(&self, path: &str) -> Option<String> {
        if *self.basic.lock().expect("not poisoned") {
            return self.credentials.as_ref().map(Credentials::basic_header);
        }
        let tokens = self.tokens.lock().expect("not poisoned");
        tokens.get(&scope_key(path)).map(|t| format!("Bearer {t}"))
    }

    async fn answer(&self, path: &str, challenge: Option<&str>) -> Result<String, RegistryError> {
        let refused = || RegistryError::AuthRefused {
            url: self.url(path).to_string(),
            had_credentials: self.credentials.is_some(),
        };
        let challenge = challenge.ok_or_else(refused)?;
        let (scheme, params) = parse_challenge(challenge);
        if scheme.eq_ignore_ascii_case("basic") {
            let creds = self.credentials.as_ref().ok_or_else(refused)?;
            *self.basic.lock().expect("not poisoned") = true;
            return Ok(creds.basic_header());
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(self.protocol(path, &format!("unknown authentication scheme `{scheme}`")));
        }
        let realm = params
            .get("realm")
            .ok_or_else(|| self.protocol(path, "Bearer challenge without a realm"))?;
        let mut url =
            Url::parse(realm).map_err(|_| self.protocol(path, "Bearer realm is not a URL"))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = params.get("service") {
                q.append_pair("service", s);
            }
            if let Some(s) = params.get("scope") {
                q.append_pair("scope", s);
            }
        }
        let mut req = self.http.get(url.clone());
        if let Some(c) = &self.credentials {
            req = req.header(header::AUTHORIZATION, c.basic_header());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let traced = crate::net::trace("GET", url.as_str());
        let r = req.send().await;
        traced.done(match &r {
            Ok(r) => Ok(r.status().as_u16()),
            Err(e) => Err(crate::net::Failure::of(e).to_string()),
        });
        let r = r.map_err(|e| self.unreachable(url.as_str(), e))?;
        if matches!(r.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(refused());
        }
        if !r.status().is_success() {
            return Err(self.protocol(
                path,
                &format!(
                    "token service `{}` answered {}",
                    url.as_str().split('?').next().unwrap_or(""),
                    r.status()
                ),
            ));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = r
            .json()
            .await
            .map_err(|e| self.protocol(path, &format!("unreadable token: {e}")))?;
        let token = t
            .token
            .or(t.access_token)
            .ok_or_else(|| self.protocol(path, "token service gave no token"))?;
        self.tokens
            .lock()
            .expect("not poisoned")
            .insert(scope_key(path), token.clone());
        Ok(format!("Bearer {token}"))
    }
}
