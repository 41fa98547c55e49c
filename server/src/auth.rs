//! Optional player authentication with HS256 JSON Web Tokens.
//!
//! With `--jwt-secret`, every player must present a token signed with that secret, either as
//! `?token=` on the WebSocket URL (checked before the upgrade: HTTP 401 when bad) or in
//! `Hello.auth_token` (close 4004 when bad). The token must carry `exp` (not in the past) and
//! `sub`; the player's display name comes from the `name` claim, else from `sub`.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::{Deserialize, Serialize};

/// The claims tickwire reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The account id.
    pub sub: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

impl Claims {
    /// The name to show for this player.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.sub)
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No token was presented.
    #[error("a token is required")]
    Missing,
    /// The token's `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// Bad signature, malformed token, missing claims, wrong algorithm.
    #[error("the token is invalid")]
    Invalid,
}

impl AuthError {
    /// Label for the auth failure metric.
    pub fn label(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Expired => "expired",
            AuthError::Invalid => "invalid",
        }
    }
}

/// Verifies tokens against the configured secret.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl JwtVerifier {
    /// A verifier for HS256 tokens signed with `secret`.
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 0;
        JwtVerifier {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: Option<&str>) -> Result<Claims, AuthError> {
        let token = token.filter(|t| !t.is_empty()).ok_or(AuthError::Missing)?;
        decode::<Claims>(token, &self.key, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    fn token(secret: &str, exp: u64) -> String {
        let claims = Claims {
            sub: "acct-1".into(),
            name: Some("Ada".into()),
            exp,
        };
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn accepts_good_and_refuses_bad_tokens() {
        let v = JwtVerifier::new("s3cret");
        assert_eq!(
            v.verify(Some(&token("s3cret", now() + 60)))
                .unwrap()
                .display_name(),
            "Ada"
        );
        assert_eq!(
            v.verify(Some(&token("other", now() + 60))),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            v.verify(Some(&token("s3cret", now() - 60))),
            Err(AuthError::Expired)
        );
        assert_eq!(v.verify(Some("not.a.jwt")), Err(AuthError::Invalid));
        assert_eq!(v.verify(None), Err(AuthError::Missing));
    }
}
